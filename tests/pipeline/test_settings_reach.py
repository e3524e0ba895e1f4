"""Every setting does what it says (issue 15 item 7): a value changed in the pipeline config reaches the code it
names — the GenerationConfig the sampler receives, the filter's options, the training config.

The model is a ReplayLLM (``calls`` records every GenerationConfig); the sandbox, prompts, task sets, filter
and runners are the real ones. Each test also checks that its cases cover every field of the stage's settings
model, so a new setting without a test fails here.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from agentdistill.agent.prompts import load_prompt
from agentdistill.agent.records import read_trajectories
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data import load_tasks
from agentdistill.distill.generate import attempt_seed
from agentdistill.distill.settings import FilterSettings, GenerateSettings, TrainSettings
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.settings import EvalMethod, EvalSampling
from agentdistill.pipeline.config import PipelineConfig
from agentdistill.pipeline.runner import run_pipeline

ANSWER = "Thought: I know it.\nCode:\n```py\nfinal_answer('42')\n```<end_code>"
LOOK = "Thought: look first.\nCode:\n```py\nprint(1)\n```<end_code>"


def make_cfg(tmp_path: Path, **sections: Any) -> PipelineConfig:
    raw: dict[str, Any] = {
        "name": "reach",
        "workdir": str(tmp_path / "work"),
        "retriever": "",
        "teacher": {"model": "teacher-spec"},
        "student": {"model": "student-spec"},
        "generate": {"tasks": [{"set": "gsm8k-train", "limit": 1}], "ftp": False},
        "eval": {"sets": [{"set": "gsm-hard-500", "limit": 1}], "runs": [{"label": "s", "model": "student"}]},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return PipelineConfig.model_validate(raw)


def run_with_replay(cfg: PipelineConfig, stage: str, script: list[str]) -> ReplayLLM:
    llm = ReplayLLM(script, cycle=True)
    run_pipeline(cfg, (stage,), llm_loader=lambda spec, **_: llm)
    return llm


def kept_set(cfg: PipelineConfig) -> Path:
    """A kept set written by the real generate and filter stages: the replayed teacher answers right."""
    gold = load_tasks("gsm8k-train", limit=1)[0].answer
    run_with_replay(
        cfg, "generate", [f"Thought: compute.\nCode:\n```py\nfinal_answer('{gold}')\n```<end_code>"]
    )
    run_pipeline(cfg, ("filter",))
    kept = cfg.workdir / "filter" / "kept.jsonl"
    assert len(read_trajectories(kept)) == 1
    return kept


def configs(llm: ReplayLLM) -> list[Any]:
    return [config for _, config, _ in llm.calls]


def system_prompts(llm: ReplayLLM) -> set[str]:
    return {messages[0]["content"] for messages, _, _ in llm.calls}


# ---------------------------------------------------------------- generate: (settings, check(llm, workdir))
def _trajs(work: Path) -> list:
    return read_trajectories(work / "generate" / "trajectories.jsonl")


GENERATE_CASES: dict[str, tuple[dict[str, Any], Any]] = {
    "max_tokens": ({"max_tokens": 77}, lambda llm, w: {c.max_tokens for c in configs(llm)} == {77}),
    "temperature": ({"temperature": 0.3}, lambda llm, w: {c.temperature for c in configs(llm)} == {0.3}),
    "top_p": ({"top_p": 0.9}, lambda llm, w: {c.top_p for c in configs(llm)} == {0.9}),
    # teacher SAG samples at sample_temperature (it used to fall back to the loop's own 0.4 / 0.8)
    "sag_n": (
        {"sag_n": 3, "sample_temperature": 0.55, "top_p": 0.9},
        lambda llm, w: {(c.n, c.temperature, c.top_p) for c in configs(llm)} == {(3, 0.55, 0.9)},
    ),
    "samples": (
        {"samples": 2, "sample_temperature": 0.65},
        lambda llm, w: len(_trajs(w)) == 2 and {c.temperature for c in configs(llm)} == {0.65},
    ),
    "sample_temperature": (
        {"samples": 2, "sample_temperature": 0.45},
        lambda llm, w: {c.temperature for c in configs(llm)} == {0.45},
    ),
    # (and with force_final_answer off by default, no answer-only turn follows the last step)
    "max_steps": (
        {"max_steps": 2},
        lambda llm, w: (
            _trajs(w)[0].settings.max_steps == 2 and [bool(c.stop) for c in configs(llm)] == [True, True]
        ),
    ),
    "prompt": (
        {"prompt": "student"},
        lambda llm, w: (
            system_prompts(llm)
            == {load_prompt("student").render(kind="math", search=False, max_steps=5, k=3)}
        ),
    ),
    "ftp": ({"ftp": True}, lambda llm, w: configs(llm)[0].stop == ("\n\n",) and _trajs(w)[0].settings.ftp),
    "seed": ({"seed": 5}, lambda llm, w: configs(llm)[0].seed == attempt_seed(5, _trajs(w)[0].task.id, 0)),
    # the forced answer turn is the only call without step stop strings
    "force_final_answer": (
        {"force_final_answer": True, "max_steps": 1},
        lambda llm, w: (
            [bool(c.stop) for c in configs(llm)] == [True, False] and _trajs(w)[0].forced_final_answer
        ),
    ),
    "mode": (
        {"mode": "cot"},
        lambda llm, w: (
            (w / "generate" / "cot.jsonl").is_file()
            and system_prompts(llm) == {load_prompt("cot").render(kind="math")}
        ),
    ),
    # the first attempt is correct (SCRIPTS), so attempts 2 and 3 never run; without the setting all three do
    "stop_after_correct": (
        {"mode": "cot", "samples": 3, "stop_after_correct": 1},
        lambda llm, w: len(llm.calls) == 1 and (w / "generate" / "cot.jsonl").read_text().count("\n") == 1,
    ),
}
# concurrency only matters for thread-safe (HTTP) backends; its wiring is tested with them (tests/distill)
GENERATE_UNTESTED = {"concurrency"}


def test_generate_cases_cover_every_setting() -> None:
    assert set(GENERATE_CASES) | GENERATE_UNTESTED == set(GenerateSettings.model_fields)


SCRIPTS = {
    "max_steps": [LOOK, LOOK, ANSWER],
    "force_final_answer": [LOOK, "42"],
    "ftp": ["I think it is 42.\n\nMore.", ANSWER],
    "mode": ["So the answer is \\boxed{42}."],
    "stop_after_correct": [f"So the answer is \\boxed{{{load_tasks('gsm8k-train', limit=1)[0].answer}}}."],
}


@pytest.mark.parametrize("name", sorted(GENERATE_CASES))
def test_generate_setting_reaches_the_sampler(name: str, tmp_path: Path) -> None:
    settings, check = GENERATE_CASES[name]
    top = (
        {"seed": settings["seed"]} if "seed" in settings else {}
    )  # one seed for the pipeline, as users set it
    cfg = make_cfg(tmp_path, generate={k: v for k, v in settings.items() if k != "seed"}, **top)
    llm = run_with_replay(cfg, "generate", SCRIPTS.get(name, [ANSWER]))
    assert check(llm, cfg.workdir), f"generate.{name} did not reach the sampler: {configs(llm)}"


# ---------------------------------------------------------------- eval
EVAL_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {  # (eval section, run row, check)
    "max_tokens": ({"max_tokens": 66}, {}, lambda llm: {c.max_tokens for c in configs(llm)} == {66}),
    "temperature": ({"temperature": 0.25}, {}, lambda llm: {c.temperature for c in configs(llm)} == {0.25}),
    # the bug of issue 15: run_episode's own 0.4 / 0.8 overwrote these
    "sag_n": (
        {"sag_temperature": 0.9, "sag_top_p": 0.7},
        {"sag_n": 3},
        lambda llm: {(c.n, c.temperature, c.top_p) for c in configs(llm)} == {(3, 0.9, 0.7)},
    ),
    "sag_temperature": (
        {"sag_temperature": 0.15},
        {"sag_n": 2},
        lambda llm: {c.temperature for c in configs(llm)} == {0.15},
    ),
    "sag_top_p": ({"sag_top_p": 0.35}, {"sag_n": 2}, lambda llm: {c.top_p for c in configs(llm)} == {0.35}),
    "max_steps": ({"max_steps": 1}, {}, lambda llm: sum(1 for c in configs(llm) if c.stop) == 1),
    "seed": ({"seed": 11}, {}, lambda llm: {c.seed for c in configs(llm)} == {11}),
    "prompt": (
        {},
        {"prompt": "teacher"},
        lambda llm: (
            system_prompts(llm)
            == {load_prompt("teacher").render(kind="math", search=False, max_steps=5, k=3)}
        ),
    ),
    "force_final_answer": (
        {"force_final_answer": False, "max_steps": 1},
        {},
        lambda llm: [bool(c.stop) for c in configs(llm)] == [True],
    ),
    "mode": (
        {},
        {"mode": "cot"},
        lambda llm: system_prompts(llm) == {load_prompt("cot").render(kind="math")},
    ),
    # CoT + RAG: the retriever's passages come before the question (real BM25 over the bundled corpus)
    "rag": (
        {},
        {"mode": "cot", "rag": True},
        lambda llm: [m[1]["content"].startswith("Passages:\n[1] ") for m, _, _ in llm.calls] == [True],
    ),
}
EVAL_UNTESTED = {"concurrency"}  # concurrency only matters for thread-safe (HTTP) backends


def test_eval_cases_cover_every_setting() -> None:
    fields = set(EvalSampling.model_fields) | set(EvalMethod.model_fields)
    assert set(EVAL_CASES) | EVAL_UNTESTED == fields


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_eval_setting_reaches_the_sampler(name: str, tmp_path: Path) -> None:
    section, row, check = EVAL_CASES[name]
    top = {"seed": section["seed"]} if "seed" in section else {}
    section = {k: v for k, v in section.items() if k != "seed"}
    if row.get("rag"):
        top["retriever"] = "default"
    cfg = make_cfg(tmp_path, eval={**section, "runs": [{"label": "s", "model": "student", **row}]}, **top)
    script = (
        [LOOK]
        if name in ("max_steps", "force_final_answer")
        else [SCRIPTS["mode"][0] if row.get("mode") == "cot" else ANSWER]
    )
    llm = run_with_replay(cfg, "eval", script)
    assert check(llm), f"eval.{name} did not reach the sampler: {configs(llm)}"
    assert len(load_run(cfg.workdir / "eval" / "s").records) == 1


def test_changed_sag_temperature_changes_what_is_sampled_not_only_the_hash(tmp_path: Path) -> None:
    """Two values of eval.sag_temperature give two different sampler temperatures (before: both 0.4)."""
    seen = []
    for i, t in enumerate((0.2, 0.6)):
        cfg = make_cfg(
            tmp_path / str(i),
            eval={"sag_temperature": t, "runs": [{"label": "s", "model": "student", "sag_n": 2}]},
        )
        seen.append({c.temperature for c in configs(run_with_replay(cfg, "eval", [ANSWER]))})
    assert seen == [{0.2}, {0.6}]


# ---------------------------------------------------------------- filter and train: every field, generically
def _other(annotation: Any, default: Any) -> Any:
    """A valid value different from ``default`` for a field of this annotation."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return next(a for a in args if a != default)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _other(inner[0], None if default is None else default)
    if annotation is bool:
        return not default if default is not None else True
    if annotation is int:
        return (default or 0) + 3
    if annotation is float:
        return (default or 0.0) + 0.25
    if annotation is str:
        return f"{default or 'x'}-changed"
    raise AssertionError(f"no test value for {annotation}")


def _all_changed(model: type) -> dict[str, Any]:
    return {name: _other(f.annotation, f.default) for name, f in model.model_fields.items()}


def test_every_filter_setting_reaches_the_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentdistill.pipeline.stages.filter as stage
    from agentdistill.distill.filter import FilterReport

    seen: dict[str, Any] = {}

    def fake_filter(src: Path, dst: Path, **options: Any) -> FilterReport:
        seen.update(options)
        Path(dst).write_text("")
        return FilterReport(total=1, kept=1)

    monkeypatch.setattr(stage, "filter_trajectories", fake_filter)
    changed = _all_changed(FilterSettings)
    cfg = make_cfg(tmp_path, filter=changed)
    run_pipeline(cfg, ("filter",))
    assert {k: v for k, v in seen.items() if k in FilterSettings.model_fields} == changed


def test_every_train_setting_reaches_the_trainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentdistill.distill.train as train_pkg
    from agentdistill.distill.train import TrainOutput

    seen = []

    def fake_train(tc: Any) -> TrainOutput:
        seen.append(tc)
        gguf = Path(tc.out_dir) / "model.gguf"
        gguf.parent.mkdir(parents=True, exist_ok=True)
        gguf.write_bytes(b"GGUF")
        return TrainOutput(adapter_dir=None, merged_dir=None, gguf_path=gguf)

    monkeypatch.setattr(train_pkg, "train", fake_train)
    # valid other values where a made-up one cannot load (the stage converts the kept records with the prompt)
    changed = {
        **_all_changed(TrainSettings),
        "lora_target": "q_proj",
        "student_prompt": "teacher",
        "gguf_quant": "q4_k_m",  # a known quant: names are checked with the settings
    }
    cfg = make_cfg(tmp_path, train=changed)
    kept_set(cfg)
    run_pipeline(cfg, ("train",))
    assert len(seen) == 1
    assert seen[0].model_dump(include=set(TrainSettings.model_fields)) == cfg.train.model_dump() == changed
    # the stage hands its run over: a second run with the same inputs is the same run (no retraining)
    done = json.loads((cfg.workdir / "train" / "DONE.json").read_text())
    again = run_pipeline(cfg, ("train",))
    assert len(seen) == 1 and json.loads((cfg.workdir / "train" / "DONE.json").read_text()) == done
    trained = again.outputs["train"]  # what eval is handed: the model and the run id, not a file path
    gguf = (cfg.workdir / "train" / done["model_path"]).resolve()
    assert (trained.spec, trained.run_id) == (f"llamacpp:{gguf}", done["run_id"])


def test_train_rebuilds_missing_weights_and_keeps_the_run_only_when_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights are not committed: with the stamp but no weights the stage trains again; the run id (which eval
    rows are keyed by) survives only a bit-identical rebuild."""
    import agentdistill.distill.train as train_pkg
    from agentdistill.distill.train import TrainOutput

    weights = [b"GGUF-a", b"GGUF-a", b"GGUF-b"]  # what each training call writes

    def fake_train(tc: Any) -> TrainOutput:
        gguf = Path(tc.out_dir) / "model.gguf"
        gguf.parent.mkdir(parents=True, exist_ok=True)
        gguf.write_bytes(weights.pop(0))
        return TrainOutput(adapter_dir=None, merged_dir=None, gguf_path=gguf)

    monkeypatch.setattr(train_pkg, "train", fake_train)
    cfg = make_cfg(tmp_path)
    kept_set(cfg)
    first = run_pipeline(cfg, ("train",)).outputs["train"]
    gguf = cfg.workdir / "train" / "student" / "model.gguf"
    gguf.unlink()
    same = run_pipeline(cfg, ("train",)).outputs["train"]
    assert same.run_id == first.run_id and gguf.read_bytes() == b"GGUF-a"
    gguf.unlink()
    other = run_pipeline(cfg, ("train",)).outputs["train"]
    assert other.run_id != first.run_id and gguf.read_bytes() == b"GGUF-b" and not weights
    done = json.loads((cfg.workdir / "train" / "DONE.json").read_text())
    assert [r["identical"] for r in done["rebuilds"]] == [True, False]
    assert done["model_path"] == "student/model.gguf" and str(tmp_path) not in json.dumps(done)
    assert run_pipeline(cfg, ("train",)).outputs["train"] == other  # weights present: nothing trained
    # stage times: a partial invocation replaces the times of the stages it ran and keeps the others'
    seconds = cfg.workdir / "stage_seconds.json"
    seconds.write_text(json.dumps({"generate": 1156.0, "train": 9999.0}))
    run_pipeline(cfg, ("train",))
    times = json.loads(seconds.read_text())
    assert times["generate"] == 1156.0 and times["train"] >= 9999.0  # stage totals over invocations


def test_train_stamp_hashes_the_examples_not_the_kept_files_bytes(tmp_path: Path) -> None:
    """What training learns from is the examples the kept records convert to: a record rewritten with other
    metadata (a timestamp, timings, the task record) keeps the fingerprint; another conversation changes it."""
    from agentdistill.distill.sft import SFTDataError
    from agentdistill.distill.train import TrainConfig, data_fingerprint

    kept = kept_set(make_cfg(tmp_path))
    tc = TrainConfig(model="student-spec", out_dir=tmp_path / "out", data=kept)
    before = data_fingerprint(tc)
    row = json.loads(kept.read_text())
    task = {**row["task"], "question": row["task"]["question"] + " (as asked)"}
    kept.write_text(
        json.dumps({**row, "created_at": "2020-01-01T00:00:00+00:00", "totals": {}, "task": task}) + "\n"
    )
    assert data_fingerprint(tc) == before and not (tmp_path / "out").exists()  # writes nothing
    user = next(m for m in row["messages"] if m["role"] == "user")
    user["content"] += " Answer in words."
    kept.write_text(json.dumps(row) + "\n")
    assert data_fingerprint(tc) != before
    kept.write_text(json.dumps({**row, "forced_final_answer": True}) + "\n")  # never trained on
    with pytest.raises(
        SFTDataError,
        match=r"kept.jsonl: no trajectories to train on \(left out: \{'forced_final_answer': 1\}\)",
    ):
        data_fingerprint(tc)


def test_output_stamped_before_a_setting_existed_resumes(tmp_path: Path) -> None:
    """Teacher records and scored rows written before a setting was added to the code are resumed while that
    setting holds its default: a new setting must not cost hours of rollouts (or stop the run)."""
    cfg = make_cfg(tmp_path)
    run_with_replay(cfg, "generate", [ANSWER])
    stamp_file = cfg.workdir / "generate" / "settings.json"
    stamp = json.loads(stamp_file.read_text())
    del stamp["stop_after_correct"], stamp["sag_n"]  # as stamped before these settings existed
    stamp_file.write_text(json.dumps(stamp))
    assert run_with_replay(cfg, "generate", [ANSWER]).calls == [] and len(_trajs(cfg.workdir)) == 1
    assert {"stop_after_correct", "sag_n"} <= set(json.loads(stamp_file.read_text()))
    run_with_replay(cfg, "eval", [ANSWER])
    row = cfg.workdir / "eval" / "s"
    scored = (row / "results.jsonl").read_bytes()
    stamp = json.loads((row / "settings.json").read_text())
    del stamp["sag_top_p"], stamp["run"]["rag"]
    (row / "settings.json").write_text(json.dumps(stamp))
    assert run_with_replay(cfg, "eval", [ANSWER]).calls == []
    assert (row / "results.jsonl").read_bytes() == scored and not list(row.parent.glob("s.stale-*"))
    # a setting the stamp lacks, set to another value than its default, is a change: the row is redone
    (row / "settings.json").write_text(json.dumps({k: v for k, v in stamp.items() if k != "temperature"}))
    run_with_replay(make_cfg(tmp_path, eval={"temperature": 0.5}), "eval", [ANSWER])
    assert list(row.parent.glob("s.stale-*"))
