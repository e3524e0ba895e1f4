"""pipeline/ledger.py: yield per 100 tasks (per kind) and hours per stage, summed from a workdir's own records
(built here with the real generate and eval runners on scripted model outputs)."""

import json
from pathlib import Path

from agentdistill.agent.replay import ReplayLLM
from agentdistill.data import load_tasks
from agentdistill.distill.filter import filter_cot, filter_trajectories
from agentdistill.distill.generate import GenerateSettings, generate
from agentdistill.evaluate.run import evaluate
from agentdistill.evaluate.settings import EvalSettings
from agentdistill.pipeline.ledger import ledger, ledger_markdown, write_ledger
from agentdistill.pipeline.runner import _record_seconds


def _agent_answer(answer: str) -> str:
    return f"Thought: done.\nCode:\n```py\nfinal_answer({answer!r})\n```<end_code>"


def test_ledger_adds_up_yield_and_hours_from_records(tmp_path: Path) -> None:
    work = tmp_path / "work"
    math = load_tasks("gsm8k-train", limit=2)
    qa = load_tasks("multihop-train", limit=2)
    # agent arm: math task 0 right on attempt 0, math task 1 wrong twice, QA task 0 right on attempt 1, QA 1 wrong
    script = [
        _agent_answer(math[0].answer),
        _agent_answer("-1"),
        _agent_answer("nobody"),
        _agent_answer("nobody"),
        _agent_answer("-1"),
        _agent_answer(qa[0].answer),
        _agent_answer("nobody"),
    ]
    s = GenerateSettings(samples=2, stop_after_correct=1, ftp=False, max_steps=1, max_tokens=64)
    summary = generate(math + qa, ReplayLLM(script), work / "generate" / "trajectories.jsonl", s)
    assert summary.correct == 2
    # CoT arm: one record per task, the first math task right
    cot = ["x\n\nAnswer: \\boxed{" + math[0].answer + "}", "x\n\nAnswer: \\boxed{-1}", "x", "x"]
    generate(math + qa, ReplayLLM(cot), work / "cot" / "generate" / "cot.jsonl", GenerateSettings(mode="cot"))
    evaluate(math, ReplayLLM(cot[:2]), work / "eval" / "student-cot", EvalSettings(mode="cot"))
    # both filters, as the filter stage writes them (the CoT arm's file is kept_cot.jsonl), and their wall time
    filter_trajectories(work / "generate" / "trajectories.jsonl", work / "filter" / "kept.jsonl")
    filter_cot(work / "cot" / "generate" / "cot.jsonl", work / "cot" / "filter" / "kept_cot.jsonl")
    _record_seconds(work / "cot" / "stage_seconds.json", {"generate": 3.0, "filter": 1200.0})

    rows = {(r.arm, r.stage): r for r in ledger(work)}
    agent = rows[("agent", "generate")]
    assert (agent.records, agent.correct, agent.tasks, agent.tasks_solved) == (7, 2, 4, 2)
    assert agent.yield_per_100 == {"math": 50.0, "qa": 50.0, "all": 50.0}
    trajs = [json.loads(x) for x in (work / "generate" / "trajectories.jsonl").read_text().splitlines()]
    assert abs(agent.seconds - sum(t["totals"]["seconds"] for t in trajs)) <= 0.05
    cot_row = rows[("cot", "generate")]
    assert (cot_row.records, cot_row.correct, cot_row.yield_per_100["all"]) == (4, 1, 25.0)
    kept = rows[("agent", "filter")]
    assert (kept.records, kept.yield_per_100) == (2, {"math": 50.0, "qa": 50.0, "all": 50.0})
    cot_kept = rows[("cot", "filter")]  # the CoT arm's filter row is there, with its (judge's) wall time
    assert (cot_kept.records, cot_kept.seconds) == (1, 1200.0)
    assert cot_kept.yield_per_100 == {"math": 50.0, "qa": 0.0, "all": 25.0}
    ev = rows[("eval", "eval/student-cot")]
    assert (ev.records, ev.correct) == (2, 1)
    js, md = write_ledger(work, tmp_path / "report")
    assert json.loads(js.read_text())[0]["yield_per_100"]["all"] == 50.0
    assert (
        md.read_text() == ledger_markdown(ledger(work))
        and "| agent | generate | 7 | 2 | 4 (2) |" in md.read_text()
    )


def test_missing_stages_are_absent_not_errors(tmp_path: Path) -> None:
    assert ledger(tmp_path / "nothing-yet") == []


def test_eval_rows_count_each_question_once_and_leave_failures_out(tmp_path: Path) -> None:
    """The fault this guards: the ledger counted a failed attempt and its retry as two records (and the
    failure as a wrong answer); the eval summary's n counts the question once."""
    math = load_tasks("gsm8k-train", limit=2)
    run = tmp_path / "work" / "eval" / "student-cot"
    right = "x\n\nAnswer: \\boxed{" + math[0].answer + "}"
    evaluate(math, ReplayLLM([right]), run, EvalSettings(mode="cot"))  # the 2nd question fails: script ends
    ev = {r.stage: r for r in ledger(tmp_path / "work")}["eval/student-cot"]
    assert (ev.records, ev.correct) == (1, 1)
    evaluate(math, ReplayLLM(["x\n\nAnswer: \\boxed{-1}"]), run, EvalSettings(mode="cot"))  # retried
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and sum(bool(x.get("failure")) for x in lines) == 1
    ev = {r.stage: r for r in ledger(tmp_path / "work")}["eval/student-cot"]
    assert (ev.records, ev.correct) == (2, 1)
    assert abs(ev.seconds - sum(x["seconds"] for x in lines)) <= 0.05  # cost: every attempt


def test_eval_hours_count_the_qa_judge(tmp_path: Path) -> None:
    """A judged row's cost is its episodes plus the judge's calls (judge_summary.json's ``seconds``)."""
    import time

    from agentdistill.grading.judge import LLMJudge, judge_results_file

    class SlowReplay(ReplayLLM):
        def generate(self, *args, **kwargs):  # the judge's calls take time, as a model's do
            time.sleep(0.05)
            return super().generate(*args, **kwargs)

    qa = load_tasks("multihop-train", limit=2)
    run = tmp_path / "work" / "eval" / "teacher-cot"
    evaluate(qa, ReplayLLM(["x\n\nAnswer: nobody"] * 2), run, EvalSettings(mode="cot"))
    summary = judge_results_file(run / "results.jsonl", LLMJudge(SlowReplay(['{"score": 0}'] * 2)))
    assert summary["seconds"] >= 0.1
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    ev = {r.stage: r for r in ledger(tmp_path / "work")}["eval/teacher-cot"]
    assert abs(ev.seconds - (sum(x["seconds"] for x in lines) + summary["seconds"])) <= 0.05


def test_training_resumed_before_the_clock_existed_is_a_lower_bound(tmp_path: Path) -> None:
    """The fault this guards: a training killed and resumed from a checkpoint reported HF's ``train_runtime``,
    the last attempt's only, and the ledger printed it as the stage's hours. Stamps written since carry the
    clock over every attempt (``metrics.train_seconds``); an older resumed stamp is shown as a lower bound.
    The stamp is the study's CoT-arm ``DONE.json`` as the train stage wrote it then (its fields, fewer losses)."""
    train = tmp_path / "work" / "cot" / "train"
    train.mkdir(parents=True)
    resumed = "runs/study/cot/train/student/checkpoints/checkpoint-50"
    metrics = {"global_step": 129, "examples": 339, "resumed_from": resumed, "train_runtime": 2635.7474}
    (train / "DONE.json").write_text(json.dumps({"run_id": "r", "metrics": metrics, "train_seconds": 2635.7}))
    row = {(r.arm, r.stage): r for r in ledger(tmp_path / "work")}[("cot", "train")]
    assert row.lower_bound and row.seconds == 2635.7
    md = ledger_markdown([row])
    assert "| ≥0.73 |" in md and "| all | | | | | | ≥0.73 |" in md and "lower bound" in md
    # the same run stamped with the clock: exact, no mark
    metrics["train_seconds"] = 5456.0
    (train / "DONE.json").write_text(json.dumps({"run_id": "r", "metrics": metrics, "train_seconds": 5456.0}))
    row = {(r.arm, r.stage): r for r in ledger(tmp_path / "work")}[("cot", "train")]
    assert not row.lower_bound and "| 1.52 |" in ledger_markdown([row]) and "≥" not in ledger_markdown([row])
