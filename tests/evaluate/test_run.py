"""The eval stage with the real 135M model: graded records, summary metrics, resume, CoT mode."""

import json
from pathlib import Path

from agentdistill.data import load_tasks
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.run import EvalSettings, evaluate
from agentdistill.grading import grade
from agentdistill.models.loading import load_llm


def test_eval_agent_and_cot_resume(tiny_gguf: Path, tmp_path: Path) -> None:
    tasks = load_tasks("gsm-hard-500", limit=2)
    llm = load_llm("smollm2-135m", n_ctx=4096)
    try:
        run = tmp_path / "agent"
        s = EvalSettings(label="tiny agent", max_steps=2, max_tokens=96)
        first = evaluate(tasks[:1], llm, run, s)
        assert first.per_set["gsm-hard-500"].n == 1
        summary = evaluate(tasks, llm, run, s)  # resumes: only the second task is new
        cot = evaluate(
            tasks, llm, tmp_path / "cot", EvalSettings(label="tiny cot", mode="cot", max_tokens=96)
        )
    finally:
        llm.close()
    lines = (run / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and len({json.loads(x)["task"]["id"] for x in lines}) == 2
    m = summary.per_set["gsm-hard-500"]
    assert m.n == 2 and 0.0 <= m.accuracy <= 1.0 and 1 <= m.mean_steps <= 2
    loaded = load_run(run)
    assert loaded.summary.label == "tiny agent" and not loaded.warnings
    for rec in loaded.records:
        assert rec.trajectory is not None and rec.trajectory["steps"]
        regraded = grade(rec.task, rec.prediction if rec.prediction is not None else "")
        assert regraded.correct == rec.grade.correct
        assert rec.trajectory["correct"] == rec.grade.correct
        assert rec.tokens > 0 and rec.seconds > 0
    assert cot.mode == "cot" and cot.per_set["gsm-hard-500"].n == 2
    assert all(r.cot_text for r in load_run(tmp_path / "cot").records)


def test_an_episode_that_outgrows_the_context_is_scored_wrong_not_dropped(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    """The fault this guards: a conversation past n_ctx raised a backend error, so the question was left out
    of n (and retried, failing the same way, on every resume) — hard questions silently raised accuracy. Now
    the episode ends with status context_overflow, the question counts, wrong; a resumed run does not redo it.
    """
    tasks = load_tasks("gsm-hard-500", limit=2)
    llm = load_llm("smollm2-135m", n_ctx=512)  # the agent's system prompt + 384 new tokens do not fit
    try:
        s = EvalSettings(label="tiny ctx", max_steps=2, max_tokens=384)
        summary = evaluate(tasks, llm, tmp_path / "run", s)
        again = evaluate(tasks, llm, tmp_path / "run", s)
        cot = evaluate(tasks[:1], llm, tmp_path / "cot", EvalSettings(label="c", mode="cot", max_tokens=500))
    finally:
        llm.close()
    m = summary.per_set["gsm-hard-500"]
    assert m.n == 2 and m.accuracy == 0.0 and m.failed == 0
    recs = load_run(tmp_path / "run").records
    assert [r.status for r in recs] == ["context_overflow"] * 2 and all(r.failure is None for r in recs)
    assert "exceeds n_ctx" in recs[0].trajectory["error"] and recs[0].grade.correct is False
    assert again.per_set["gsm-hard-500"].n == 2
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 2  # nothing redone
    c = load_run(tmp_path / "cot").records[0]
    assert c.status == "context_overflow" and c.failure is None and cot.per_set["gsm-hard-500"].n == 1
