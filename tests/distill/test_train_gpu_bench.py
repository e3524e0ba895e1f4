"""The GPU benchmark's CPU dry run: same code path, tiny config; plain and packed+chunked losses agree."""

from __future__ import annotations

import json

import peft  # noqa: F401 - pinned: a failed import fails the suite
import pytest
import torch  # noqa: F401

from repo_scripts import load_script


def test_dry_run_writes_results_with_equal_losses(tmp_path):
    out = tmp_path / "bench.json"
    assert load_script("benchmarks/train_gpu.py").main(["--dry-run", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["dry_run"] and len(res["cases"]) == 2 and res["generation"][0]["ratio_n8_over_n1"] > 0
    for case in res["cases"]:
        assert case["plain"]["tokens_per_s"] > 0 and case["agentdistill"]["mfu"] > 0
        # padded batch + full logits vs packed row + chunked head: the same first-step loss
        assert case["agentdistill"]["first_loss"] == pytest.approx(case["plain"]["first_loss"], rel=1e-4)


def test_mfu_formula_counts_attention_quadratically():
    mod = load_script("benchmarks/train_gpu.py")
    cfg = mod.make_config(mod.TINY["tiny"], "sdpa")
    a = mod.useful_flops(cfg, [(range(100), None)])
    b = mod.useful_flops(cfg, [(range(200), None)])
    assert b - 2 * a == pytest.approx(12 * cfg.num_hidden_layers * cfg.hidden_size * (200**2 - 2 * 100**2))
