"""The built-in comparison configs (issue 15 item 6, issue 17 item 1): they validate, say what the paper says,
train a CoT-distilled and an agent-distilled student from the same teacher and tasks, and never test on a
training question."""

from __future__ import annotations

import re

import pytest

from agentdistill.pipeline.config import BUILTIN, load_config
from agentdistill.pipeline.stages.base import load_slices
from agentdistill.pipeline.stages.cot import cot_config


def _norm(question: str) -> str:
    return re.sub(r"\W+", " ", question.lower()).strip()


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_config_validates(name):
    cfg = load_config(name)
    assert cfg.name == name
    models = {r.model for r in cfg.eval.runs}
    assert ("distilled-cot" in models) == (cfg.cot is not None)  # a CoT-distilled row needs the CoT arm


def test_study_config_models_lora_and_rows():
    cfg = load_config("study")
    assert (cfg.teacher.model, cfg.student.model) == ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")
    t = cfg.train
    assert (t.lora, t.lora_r, t.lora_alpha, t.lora_dropout, t.lora_target, t.learning_rate) == (
        True,
        64,
        128,
        0.05,
        "all-linear",
        2e-4,
    )
    assert t.max_seq_len == 10240 and cot_config(cfg, cfg.workdir / "cot").train.max_seq_len == 4096
    assert cfg.generate.samples >= 2 and cfg.judge is not None
    rows = {(r.model, r.mode, r.rag, r.sag_n) for r in cfg.eval.runs}
    assert rows >= {
        ("teacher", "cot", False, 1),
        ("teacher", "agent", False, 1),
        ("student", "cot", False, 1),
        ("student", "agent", False, 1),
        ("distilled-cot", "cot", False, 1),
        ("distilled-cot", "cot", True, 1),
        ("distilled", "agent", False, 1),
    }
    assert any(r.model == "distilled" and r.sag_n >= 4 for r in cfg.eval.runs)


def test_a_cot_answer_gets_one_long_turn_in_generation_and_in_every_cot_row():
    """A CoT answer is one model turn: the CoT arm's teacher and every CoT row get 1024 tokens, the agent's
    steps 384 each (5 of them), so no CoT answer is cut at an agent step's budget."""
    from agentdistill.pipeline.stages.eval import run_settings

    cfg = load_config("study")
    assert cot_config(cfg, cfg.workdir / "cot").generate.max_tokens == 1024 and cfg.generate.max_tokens == 384
    budgets = {r.label: run_settings(cfg, r, "spec").max_tokens for r in cfg.eval.runs}
    assert {budgets[r.label] for r in cfg.eval.runs if r.mode == "cot"} == {1024}
    assert {budgets[r.label] for r in cfg.eval.runs if r.mode == "agent"} == {cfg.eval.max_tokens} == {384}


def test_study_test_sets_are_big_enough_and_never_in_training():
    cfg = load_config("study")
    train, test = load_slices(cfg.generate.tasks), load_slices(cfg.eval.sets)
    qa_train = sum(t.kind == "qa" for t in train)
    assert 0.4 <= qa_train / len(train) <= 0.6  # about half QA, half math
    assert sum(t.kind == "qa" for t in test) >= 100 and sum(t.kind == "math" for t in test) >= 100
    assert len({(t.dataset, t.id) for t in test}) == len(test)
    leaked = {_norm(t.question) for t in train} & {_norm(t.question) for t in test}
    assert not leaked, sorted(leaked)[:3]


def test_paper_config_follows_the_paper():
    cfg = load_config("paper")
    assert [s.set for s in cfg.generate.tasks] == ["hotpotqa-train", "math-train", "math-medium-train"]
    assert cfg.train.max_seq_len == 10240 and cfg.judge is not None
    cot = cot_config(cfg, cfg.workdir / "cot")
    assert cot.train.max_seq_len == 4096 and cot.generate.mode == "cot" and cot.generate.ftp is False
    assert cot.generate.tasks == cfg.generate.tasks and cot.cot is None  # same teacher tasks, no nested arm
    assert [(r.model, r.mode, r.rag, r.sag_n) for r in cfg.eval.runs] == [
        ("teacher", "cot", False, 1),
        ("teacher", "agent", False, 1),
        ("distilled-cot", "cot", False, 1),
        ("distilled-cot", "cot", True, 1),
        ("distilled", "agent", False, 1),
        ("distilled", "agent", False, 8),
    ]


def test_leak_check_sees_a_training_question_in_the_test_sets():
    cfg = load_config("study", {"eval.sets": [{"set": "multihop-train", "limit": 3}]})
    train, test = load_slices(cfg.generate.tasks), load_slices(cfg.eval.sets)
    assert {_norm(t.question) for t in train} & {_norm(t.question) for t in test}


def test_ftp_arm_is_the_study_with_first_thought_prefixes():
    """`study-ftp` starts from `study` (`base:`): only the prefix, the workdir and its two rows differ."""
    study, ftp = load_config("study"), load_config("study-ftp")
    assert ftp.generate.ftp and not study.generate.ftp and ftp.cot is None
    assert ftp.generate.model_dump(exclude={"ftp"}) == study.generate.model_dump(exclude={"ftp"})
    assert (ftp.teacher, ftp.student, ftp.train, ftp.judge) == (
        study.teacher,
        study.student,
        study.train,
        study.judge,
    )
    assert ftp.eval.sets == study.eval.sets and str(ftp.workdir) != str(study.workdir)
    assert [(r.model, r.sag_n) for r in ftp.eval.runs] == [("distilled", 1), ("distilled", 4)]


def test_base_merges_mappings_replaces_lists_and_refuses_a_loop(tmp_path):
    from agentdistill.pipeline.config import ConfigError

    child = tmp_path / "child.yaml"
    child.write_text(
        "base: study\nname: child\ngenerate: {samples: 2}\neval: {sets: [{set: gsm-hard-500, limit: 5}]}\n"
    )
    cfg = load_config(child)
    assert cfg.generate.samples == 2 and cfg.generate.stop_after_correct == 1  # merged key by key
    assert [(s.set, s.limit) for s in cfg.eval.sets] == [("gsm-hard-500", 5)]  # a list replaces
    assert len(cfg.eval.runs) == len(load_config("study").eval.runs)
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="'base' loops"):
        load_config(tmp_path / "a.yaml")
