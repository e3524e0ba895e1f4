"""The CoT-distillation path end to end (issue 15 item 1) on the real 135M model: the config's `cot:` arm runs
generate (CoT mode) → filter → train on the same teacher tasks as the agent arm, into a student trained on the
teacher's CoT chats, which the eval stage evaluates as `distilled-cot` with CoT and CoT + RAG."""

import json
from pathlib import Path

import pytest

from agentdistill.distill.sft import read_sft_jsonl
from agentdistill.evaluate.records import load_run
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import plan, run_pipeline
from agentdistill.pipeline.stages.base import load_slices


@pytest.mark.timeout(1800)  # a training run and two eval rows on a shared 2-core machine
def test_cot_arm_trains_a_cot_distilled_student_that_eval_uses(tiny_gguf: Path, tmp_path: Path) -> None:
    rows = [
        {"label": "Student CoT-distilled", "model": "distilled-cot", "mode": "cot"},
        {"label": "Student CoT-distilled + RAG", "model": "distilled-cot", "mode": "cot", "rag": True},
    ]
    overrides = {
        "workdir": str(tmp_path / "w"),
        "cot": {"train": {"max_seq_len": 768}},
        "eval.runs": rows,
        "eval.max_tokens": 48,
    }
    cfg = load_config("smoke", overrides)
    assert [s.name for s in plan(cfg, ("eval",))] == ["cot", "eval"]  # rows use only the CoT student
    result = run_pipeline(cfg, stages=("cot", "eval"))
    work = Path(result.workdir)
    assert list(result.stage_seconds) == ["cot", "eval"]
    cot_records = [json.loads(x) for x in (work / "cot" / "generate" / "cot.jsonl").read_text().splitlines()]
    teacher_tasks = {(t.dataset, t.id) for t in load_slices(cfg.generate.tasks)}
    assert {(r["task"]["dataset"], r["task"]["id"]) for r in cot_records} == teacher_tasks  # the same tasks
    # the CoT student trained on the teacher's CoT as chats: the CoT system prompt, the question, the reasoning
    sft = read_sft_jsonl(work / "cot" / "train" / "student" / "sft.jsonl")
    assert [m["role"] for m in sft[0]] == ["system", "user", "assistant"]
    assert {ex[2]["content"] for ex in sft} <= {r["text"] for r in cot_records}
    saved = json.loads((work / "cot" / "train" / "student" / "train_config.json").read_text())
    assert saved["max_seq_len"] == 768  # the arm's own length (the agent arm's is 1024)
    stamp = json.loads((work / "cot" / "train" / "DONE.json").read_text())
    assert stamp["model_kind"] == "llamacpp" and (work / "cot" / "train" / stamp["model_path"]).is_file()
    runs = [load_run(d) for d in result.run_dirs]
    assert [r.summary.mode for r in runs] == ["cot", "cot"]
    assert all(r.records and r.records[0].model.endswith("(distilled-cot)") for r in runs)
    assert all(rec.cot_text is not None for r in runs for rec in r.records)
    settings = json.loads((result.run_dirs[0] / "settings.json").read_text())
    assert settings["model"] == "distilled-cot" and settings["trained"] == stamp["run_id"]
