"""scripts/publish_run.py over the committed demo's real records (unpacked from its snapshot): the results
folder it writes has every run's summary with provenance, no machine paths, and an archive that unpacks to the
same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_scripts import ROOT, load_script

DEMO = ROOT / "results" / "demo"


def _strings(obj: object) -> list[str]:
    """Every string value in a JSON document."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def demo_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("published") / "runs" / "demo"
    load_script("scripts/snapshot_run.py").unpack(DEMO / "demo-outputs.tar.gz", work)
    return work


def test_publishes_every_eval_run_with_provenance_and_no_machine_paths(
    demo_work: Path, tmp_path: Path
) -> None:
    pub = load_script("scripts/publish_run.py")
    out = tmp_path / "results" / "demo"
    assert pub.main(["--work", str(demo_work), "--out", str(out)]) == 0
    evals = sorted(p.name for p in out.glob("eval_*.json"))
    assert evals == sorted(p.name for p in DEMO.glob("eval_*.json")) and len(evals) == 4
    for name in evals:
        ours, committed = json.loads((out / name).read_text()), json.loads((DEMO / name).read_text())
        assert ours.pop("run")["command"].startswith("python scripts/publish_run.py --work")
        committed.pop("run")
        assert ours == committed  # the same summaries, only the provenance block differs
    train = json.loads((out / "train_metrics.json").read_text())
    assert train["model_path"] == "train/student/model-q8_0.gguf" and train["metrics"]["global_step"] > 0
    assert {"failures.md", "ledger.md"} <= {p.name for p in out.iterdir()}  # the report's companions
    for path in set(out.glob("*.json")) - set(out.glob("*.manifest.json")):
        obj = json.loads(path.read_text())
        if isinstance(obj, dict):
            obj.pop("run", None)  # the provenance block echoes the command, paths and all
        assert not [v for v in _strings(obj) if Path(v).is_absolute()], path.name
    assert (out / "report.md").read_text() == (demo_work / "report" / "report.md").read_text()
    again = tmp_path / "again"
    load_script("scripts/snapshot_run.py").unpack(out / "demo-outputs.tar.gz", again)
    for rel in ("generate/trajectories.jsonl", "eval/teacher-agent/results.jsonl"):
        assert (again / rel).read_bytes() == (demo_work / rel).read_bytes()


def test_refuses_an_unfinished_workdir_and_writes_nothing(demo_work: Path, tmp_path: Path, capsys) -> None:
    unfinished = tmp_path / "work"
    (unfinished / "generate").mkdir(parents=True)
    out = tmp_path / "out"
    assert load_script("scripts/publish_run.py").main(["--work", str(unfinished), "--out", str(out)]) == 1
    assert "no finished pipeline run" in capsys.readouterr().err and not out.exists()
