"""`agentdistill train`: shipped accelerate configs are accepted and launched; bad input exits cleanly."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from agentdistill.cli.main import app
from agentdistill.cli.train_cmd import ACCELERATE_CONFIGS, accelerate_config_path

runner = CliRunner()


@pytest.mark.parametrize("name", ACCELERATE_CONFIGS)
def test_shipped_accelerate_configs_parse(name):
    cfg = yaml.safe_load(accelerate_config_path(name).read_text())
    assert cfg["distributed_type"] in {"MULTI_GPU", "FSDP", "DEEPSPEED"}
    assert cfg["mixed_precision"] == "bf16"
    if name == "zero3":
        assert cfg["deepspeed_config"]["zero_stage"] == 3


def test_accelerate_launch_command(tmp_path):
    data = tmp_path / "sft.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
        + "\n"
    )
    res = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--model",
            "smollm2-135m",
            "--out",
            str(tmp_path / "o"),
            "--accelerate",
            "zero3",
            "--num-processes",
            "4",
            "--max-steps",
            "5",
            "--print-launch",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "accelerate.commands.launch --config_file" in res.output and "zero3.yaml" in res.output
    assert "--num_processes 4" in res.output and "--max-steps 5" in res.output
    assert "--accelerate" not in res.output.split("agentdistill.cli.main", 1)[1]


def test_unknown_accelerate_and_missing_data(tmp_path):
    res = runner.invoke(
        app, ["train", "--data", "x.jsonl", "--model", "m", "--out", str(tmp_path), "--accelerate", "tpu"]
    )
    assert res.exit_code != 0 and "ddp, fsdp, zero3" in res.output
    res = runner.invoke(
        app, ["train", "--data", str(tmp_path / "missing.jsonl"), "--model", "m", "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and "data file not found" in res.output
