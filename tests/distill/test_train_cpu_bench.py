"""The CPU training probe on real records: the smoke config's teacher rollouts (real 135M model), then two
optimizer steps with the config's own train settings, timed and projected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline
from repo_scripts import load_script


def test_probe_times_the_configs_training_on_its_kept_records(tiny_gguf: Path, tmp_path: Path) -> None:
    work = tmp_path / "smoke"
    run_pipeline(load_config("smoke", {"workdir": str(work)}), stages=("generate",))
    records = work / "generate" / "trajectories.jsonl"
    out = tmp_path / "probe.json"
    probe = load_script("benchmarks/train_cpu.py")
    assert (
        probe.main(["--config", "smoke", "--records", str(records), "--steps", "2", "--out", str(out)]) == 0
    )
    res = json.loads(out.read_text())
    assert res["run"]["command"].startswith("python ") and len(res["run"]["load_end"]) == 3
    kept, sample, measured = res["kept_examples"], res["sample"], res["measured"]
    assert kept == 2  # smoke keeps every trajectory (require_correct: false), one per task
    # effective batch 1 × 2 steps: both examples, the longest always among them
    assert sample == {"examples": 2, "tokens": res["kept_tokens"]["total"], "steps": 2, "seed": 0}
    assert measured["tokens_per_s"] > 0 and measured["peak_rss_gib"] > 0
    assert measured["s_per_example"] == pytest.approx(measured["train_runtime_s"] / 2, abs=0.06)
    # projected from tokens: the whole set at the measured rate, × the config's epochs (smoke: 1)
    per_epoch_h = res["kept_tokens"]["total"] / measured["tokens_per_s"] / 3600
    assert res["projected"]["hours"] == pytest.approx(per_epoch_h, abs=0.01)
    assert res["projected"]["steps"] == 2


def test_probe_refuses_missing_records(tmp_path: Path) -> None:
    probe = load_script("benchmarks/train_cpu.py")
    with pytest.raises(SystemExit) as exc:
        probe.main(["--config", "smoke", "--records", str(tmp_path / "none.jsonl")])
    assert exc.value.code == 2
