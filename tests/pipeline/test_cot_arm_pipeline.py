"""The CoT-distillation path end to end (issue 15 item 1): one config trains a CoT-distilled student beside the
agent-distilled one — same teacher, same tasks — and evaluates it with CoT and CoT + RAG, on the real 135M model."""

import json
from pathlib import Path

from agentdistill.distill.sft import read_sft_jsonl
from agentdistill.evaluate.records import load_run
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline


def test_cot_arm_trains_and_evaluates_a_cot_distilled_student(tiny_gguf: Path, tmp_path: Path) -> None:
    rows = [
        {"label": "Student CoT-distilled", "model": "distilled-cot", "mode": "cot"},
        {"label": "Student CoT-distilled + RAG", "model": "distilled-cot", "mode": "cot", "rag": True},
    ]
    cfg = load_config(
        "smoke",
        {
            "workdir": str(tmp_path / "w"),
            "cot": {"train": {"max_seq_len": 768}},
            "eval.runs": rows,
            "eval.sets": [{"set": "hotpotqa-paper-closed", "limit": 1}],
        },
    )
    result = run_pipeline(cfg)
    work = Path(result.workdir)
    assert "cot" in result.stage_seconds
    cot_records = [json.loads(x) for x in (work / "cot" / "generate" / "cot.jsonl").read_text().splitlines()]
    agent_tasks = {
        json.loads(x)["task"]["id"]
        for x in (work / "generate" / "trajectories.jsonl").read_text().splitlines()
    }
    assert {r["task"]["id"] for r in cot_records} == agent_tasks  # same teacher tasks for both students
    # the CoT student was trained on the teacher's CoT text as a chat (system, question, reasoning)
    sft = read_sft_jsonl(work / "cot" / "train" / "student" / "sft.jsonl")
    assert [m["role"] for m in sft[0]] == ["system", "user", "assistant"]
    assert sft[0][2]["content"] in {r["text"] for r in cot_records}
    cot_stamp = json.loads((work / "cot" / "train" / "DONE.json").read_text())
    agent_stamp = json.loads((work / "train" / "DONE.json").read_text())
    assert cot_stamp["model_spec"] != agent_stamp["model_spec"]
    assert (
        json.loads((work / "cot" / "train" / "student" / "train_config.json").read_text())["max_seq_len"]
        == 768
    )
    runs = [load_run(d) for d in result.run_dirs]
    assert [r.summary.mode for r in runs] == ["cot", "cot"]
    assert all(r.records[0].model.endswith("(distilled-cot)") for r in runs)
    assert runs[1].records[0].cot_text is not None
    settings = json.loads((result.run_dirs[0] / "settings.json").read_text())
    assert settings["model"] == cot_stamp["model_spec"] and settings["trained"] == cot_stamp["run_id"]
