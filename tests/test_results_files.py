"""Every results file was written by its script in one run: command, date, git commit, load at start and end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "results").glob("*.json"))


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_results_file_carries_its_provenance(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    run = data.get("run")
    assert isinstance(run, dict), (
        f"{path.name}: no 'run' stamp; re-run its benchmark script (benchmarks/_stamp.py)"
    )
    for field in ("command", "date", "git_commit", "load_start", "load_end"):
        assert run.get(field) not in (None, "", []), f"{path.name}: run.{field} missing"
    assert run["command"].startswith("python benchmarks/") or "benchmarks/" in run["command"]
    assert len(run["load_start"]) == 3 and len(run["load_end"]) == 3
    assert len(run["git_commit"]) == 40 or run["git_commit"] == "unknown"


def test_every_benchmark_script_stamps_its_results() -> None:
    scripts = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("[!_]*.py"))
    missing = [s.name for s in scripts if "start_stamp" not in s.read_text(encoding="utf-8")]
    assert not missing, f"benchmark scripts that do not record provenance: {missing}"
