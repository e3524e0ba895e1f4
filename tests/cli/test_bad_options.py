"""Bad option values and settings (docs/reviews/bad-input-2026-12-02.md items 13, 14, 15, 16): refused at once,
in one line naming the option (or the config section) the value came from, with exit 2, before any work. Each
case failed before (a traceback, a wrong name, an error hours later, or a silent success)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.agent.replay import ReplayLLM
from agentdistill.models.convert import QUANT_TYPES
from agentdistill.models.registry import ModelError

from .helpers import assert_one_line_error, run_cli, write_tasks


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training itself must not start: each case here is refused before it."""

    def train(cfg: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("agentdistill.distill.train.train", train)


def _sft(tmp_path: Path) -> Path:
    path = tmp_path / "sft.jsonl"
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    path.write_text(json.dumps({"messages": chat}) + "\n")
    return path


def _train(tmp_path: Path, *extra: str) -> tuple[str, ...]:
    return ("train", "--data", str(_sft(tmp_path)), "--model", "m", "--out", str(tmp_path / "o"), *extra)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--gguf-quant", "q4km", "--export-gguf"), "--gguf-quant"),
        (("--batch", "0"), "--batch"),
        (("--lr", "0"), "--lr"),
        (("--lr", "-1"), "--lr"),
        (("--epochs", "0"), "--epochs"),
        (("--max-steps", "0"), "--max-steps"),
        (("--lora-alpha", "0"), "--lora-alpha"),
    ],
)
def test_train_settings_are_checked_before_training(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    line = assert_one_line_error(run_cli(*_train(tmp_path, *args)), f"error: {option}: ")
    assert "--effective-batch" not in line and "--learning-rate" not in line
    assert not (tmp_path / "o").exists()


def test_gguf_quant_names_the_known_quants(tmp_path: Path, no_training: None) -> None:
    line = assert_one_line_error(run_cli(*_train(tmp_path, "--gguf-quant", "q4km")), "unknown quant 'q4km'")
    assert all(q in line for q in QUANT_TYPES)


def test_train_model_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def train(cfg: object) -> None:
        raise ModelError("llama_model_quantize to q8_0 failed (code 1) for merged/")

    monkeypatch.setattr("agentdistill.distill.train.train", train)
    assert_one_line_error(run_cli(*_train(tmp_path)), "llama_model_quantize to q8_0 failed")


@pytest.mark.parametrize(
    ("value", "needles"),
    [
        ("generate.max_steps=[1", ("--set 'generate.max_steps=[1'", "not valid YAML")),
        ("generate.foo=1", ("--set 'generate.foo=1'", "unknown field 'generate.foo'")),
        ("generate.max_steps=0", ("--set 'generate.max_steps=0'", "generate.max_steps")),
        ("name.x=1", ("--set 'name.x=1'", "'name' is a str")),
        ("train.gguf_quant=q4km", ("--set 'train.gguf_quant=q4km'", "unknown quant 'q4km'")),
        ("generate..x=1", ("KEY=VALUE",)),
    ],
)
def test_pipeline_set_errors_name_the_set_option(value: str, needles: tuple[str, ...]) -> None:
    line = assert_one_line_error(run_cli("pipeline", "smoke", "--set", value, "--stages", "bogus"), *needles)
    assert "smoke.yaml" not in line  # the value came from --set, not from the config file


def test_pipeline_config_file_errors_still_name_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base: smoke\ngenerate: {foo: 1}\n")
    r = run_cli("pipeline", cfg, "--set", "generate.max_steps=0", "--stages", "bogus")
    assert_one_line_error(r, f"{cfg}: unknown field 'generate.foo'", "--set 'generate.max_steps=0': field")


def _pipeline_config(tmp_path: Path, eval_set: str) -> Path:
    """A pipeline whose generate and filter would run (a scripted teacher) before its eval sets are read."""
    tasks = write_tasks(tmp_path / "train.jsonl", 2)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "base: smoke\n"
        f"workdir: {tmp_path / 'work'}\n"
        "retriever: ''\n"
        f"generate: {{tasks: [{{set: {tasks}}}], mode: cot}}\n"
        "filter: {require_correct: false}\n"
        f"eval: {{sets: [{{set: gsm-hard-500, limit: 1}}, {{set: {json.dumps(eval_set)}}}], "
        "runs: [{label: s, model: student, mode: cot}]}\n"
    )
    return cfg


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ("file not found",)),
        ('{"question": "q", "answer": "1"}\n{"question": "q2"}\n', (":2", "field 'answer'")),
        ("", ("no tasks",)),
    ],
)
def test_pipeline_reads_eval_sets_before_the_first_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, needles: tuple[str, ...]
) -> None:
    monkeypatch.setattr(
        "agentdistill.models.loading.load_llm",
        lambda spec, **_: ReplayLLM(["so the answer is \\boxed{3}."], name=spec, cycle=True),
    )
    bad = tmp_path / "test_set.jsonl"
    if content is not None:
        bad.write_text(content)
    r = run_cli("pipeline", _pipeline_config(tmp_path, str(bad)), "--stages", "generate,filter,eval")
    line = assert_one_line_error(r, "eval.sets[1]", str(bad))
    assert any(n in line for n in needles), line
    assert not (tmp_path / "work").exists()  # no stage ran, nothing was made


def test_pipeline_reads_only_the_sets_of_the_planned_stages(tmp_path: Path) -> None:
    from agentdistill.pipeline.config import load_config
    from agentdistill.pipeline.runner import check_task_sets, plan

    cfg = load_config(_pipeline_config(tmp_path, str(tmp_path / "missing.jsonl")))
    stages = plan(cfg, ("generate",))
    check_task_sets({k: v for s in stages for k, v in s.task_sets(cfg).items()})  # eval's sets are not read
    assert [s.name for s in stages] == ["generate"]


@pytest.mark.parametrize(
    ("field_map", "needle"),
    [
        ("[1]", "expected a JSON object"),
        ("{question:", "not valid JSON"),
        ('{"qestion": "Q"}', "unknown task field 'qestion'"),
        ('{"question": 1}', "must be a string"),
    ],
)
def test_data_show_bad_field_map(tmp_path: Path, field_map: str, needle: str) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 2)
    assert_one_line_error(run_cli("data", "show", tasks, "--field-map", field_map), "--field-map", needle)


def test_data_show_field_map_and_count(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"Q": "What is 1+1?", "A": "2"}\n{"Q": "What is 2+2?", "A": "4"}\n')
    r = run_cli("data", "show", path, "--field-map", '{"question": "Q", "answer": "A"}', "-n", "0")
    assert r.code == 0 and "2 tasks" in r.stdout and "What is" not in r.stdout, r.stderr
    assert_one_line_error(run_cli("data", "show", path, "-n", "-1"), "-n", ">= 0")
