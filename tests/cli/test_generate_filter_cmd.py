"""`agentdistill generate` and `filter` with the real 135M model: set-aware keys, stamps, filter by set."""

from __future__ import annotations

import json
from pathlib import Path

from agentdistill.distill.filter import run_filter

from .helpers import assert_one_line_error, run_cli, run_subprocess

FAST = ("--teacher", "smollm2-135m", "--max-steps", "1", "--max-tokens", "32", "--n-ctx", "2048", "--no-ftp")


def _keys(path: Path) -> list[tuple[str, str]]:
    return [(r["task"]["dataset"], r["task"]["id"]) for r in map(json.loads, path.read_text().splitlines())]


def test_sets_sharing_task_ids_are_all_generated_and_filtered(tiny_gguf: Path, tmp_path: Path) -> None:
    """gsm8k-train and math-medium-train both start at id 0: neither hides the other on resume or in filter."""
    out = tmp_path / "traj.jsonl"
    first = run_subprocess("generate", "-t", "gsm8k-train:1", "--out", out, "--retriever", "", *FAST)
    assert first.code == 0, first.stderr[-2000:]
    both = run_subprocess(
        "generate", "-t", "gsm8k-train:1", "-t", "math-medium-train:1", "--out", out, "--retriever", "", *FAST
    )
    assert both.code == 0, both.stderr[-2000:]
    assert "1 of 2 already done, skipped" in both.stderr  # the resume is announced
    keys = _keys(out)
    assert keys[0][1] == keys[1][1]  # the same task id ...
    assert sorted(keys) == sorted(
        {("gsm8k-train", keys[0][1]), ("math-medium-train", keys[1][1])}
    )  # ... twice
    kept = tmp_path / "kept.jsonl"
    rep = run_filter(out, kept, "agent", max_per_task=1, require_correct=False, require_parsed=False)
    assert rep.total == 2 and rep.tasks == 2  # two tasks, not one task with two attempts
    assert "over_max_per_task" not in rep.dropped
    r = run_cli("filter", out, "--out", tmp_path / "kept2.jsonl")
    assert r.code == 0 and f"of {rep.total}" in r.stdout


def test_generate_refuses_output_of_another_teacher_setting(tiny_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "traj.jsonl"
    assert run_subprocess("generate", "-t", "gsm8k-train:1", "--out", out, "--retriever", "", *FAST).code == 0
    size = out.stat().st_size
    r = run_cli("generate", "-t", "gsm8k-train:2", "--out", out, "--retriever", "", *FAST, "--seed", "1")
    assert_one_line_error(r, "seed: 0 -> 1", str(out))
    assert out.stat().st_size == size
