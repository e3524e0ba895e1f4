"""`agentdistill pipeline` through the real app: stages run and resume; changed settings are refused."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import assert_one_line_error, run_cli, run_subprocess

TINY = (
    "--set",
    "generate.tasks=[{set: gsm8k-train, limit: 1}, {set: math-medium-train, limit: 1}]",
    "--set",
    "generate.max_steps=1",
    "--set",
    "generate.max_tokens=32",
    "--set",
    "generate.ftp=false",
    "--set",
    "retriever=''",
    "--set",
    "teacher.n_ctx=2048",
)


def test_pipeline_generate_filter_resume_and_refuse(tiny_gguf: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    first = run_subprocess("pipeline", "smoke", "--stages", "generate,filter", "--workdir", work, *TINY)
    assert first.code == 0, first.stderr[-3000:]
    assert "wall time per stage" in first.stdout and json.dumps({"workdir": str(work)}) in first.stdout
    traj = work / "generate" / "trajectories.jsonl"
    keys = {
        (json.loads(x)["task"]["dataset"], json.loads(x)["task"]["id"]) for x in traj.read_text().splitlines()
    }
    assert {d for d, _ in keys} == {"gsm8k-train", "math-medium-train"} and len(keys) == 2
    assert (work / "filter" / "kept.jsonl").exists()
    again = run_subprocess("pipeline", "smoke", "--stages", "generate", "--workdir", work, *TINY)
    assert again.code == 0 and "2 of 2 already done, skipped" in again.stderr
    changed = run_cli(
        "pipeline",
        "smoke",
        "--stages",
        "generate",
        "--workdir",
        work,
        *TINY,
        "--set",
        "generate.max_tokens=48",
    )
    assert_one_line_error(changed, "max_tokens", "other settings", alone=False)
    assert len(traj.read_text().splitlines()) == 2


def test_pipeline_bad_override_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("pipeline", "smoke", "--set", "generate.max_tokenz=3", "--workdir", tmp_path), "max_tokenz"
    )
    assert_one_line_error(run_cli("pipeline", "smoke", "--set", "novalue"), "KEY=VALUE")
