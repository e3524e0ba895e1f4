"""The stage list: which stages a request runs, and what each stage declares."""

from pathlib import Path

import pytest

from agentdistill.pipeline.config import ConfigError, load_config
from agentdistill.pipeline.runner import plan
from agentdistill.pipeline.stages import STAGES


def names(stages) -> list[str]:
    return [s.name for s in stages]


def test_every_stage_is_one_file_with_a_unique_name() -> None:
    assert len(set(names(STAGES))) == len(STAGES)
    pkg = Path(__import__("agentdistill.pipeline.stages", fromlist=["x"]).__file__).parent
    for stage in STAGES:
        assert Path(type(stage).__module__.replace(".", "/")).name in {p.stem for p in pkg.glob("*.py")}
        for n in stage.inputs:  # inputs name earlier stages
            assert names(STAGES).index(n) < names(STAGES).index(stage.name)


def test_eval_alone_brings_the_training_it_needs() -> None:
    cfg = load_config("smoke")  # has a distilled row
    assert "train" in names(plan(cfg, ("eval",)))
    assert "generate" not in names(plan(cfg, ("eval",)))  # files on disk, not re-run
    cfg.eval.runs = [r for r in cfg.eval.runs if r.model != "distilled"]
    assert "train" not in names(plan(cfg, ("eval",)))


def test_unknown_stage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown stage.*evaluate"):
        plan(load_config("smoke"), ("evaluate",))


def test_renamed_config_field_says_its_new_name(tmp_path: Path) -> None:
    src = Path(load_config.__globals__["builtin_config_path"]("smoke")).read_text()
    bad = tmp_path / "old.yaml"
    bad.write_text(src.replace("effective_batch: 1", "grad_accum: 1"))
    with pytest.raises(ConfigError, match=r"train\.grad_accum' \(renamed: use effective_batch"):
        load_config(bad)


def test_top_level_seed_is_every_stage_seed() -> None:
    cfg = load_config("smoke", {"seed": 7})
    assert cfg.generate.seed == cfg.train.seed == cfg.eval.seed == 7
