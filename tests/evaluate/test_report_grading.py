"""The report's judge and forced-answer tables, over a run made by the real eval runner (real loop and sandbox,
scripted agent outputs: ReplayLLM) and judged by the real judge code (grading/judge.py) with scripted judge
replies (ReplayLLM). The cells are asserted exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.report import write_report
from agentdistill.evaluate.run import evaluate
from agentdistill.evaluate.settings import EvalSettings
from agentdistill.grading.judge import LLMJudge, judge_results_file

F = "```"
YES, NO = '{"explanation": "same answer", "score": 1}', '{"explanation": "different", "score": 0}'


def step(code: str) -> str:
    return f"Thought: go.\nCode:\n{F}py\n{code}\n{F}<end_code>"


def qa(i: int, question: str) -> Task:
    return Task(id=f"q{i}", dataset="hotpotqa", kind="qa", question=question, answer="Paris")


TASKS = [
    qa(1, "What is the capital of France?"),  # answers Paris in its step: EM right, judge right
    qa(2, "Which city is the seat of the French government?"),  # paraphrase: EM wrong, judge right
    qa(3, "Where is the Louvre?"),  # out of steps, Paris in the forced turn: EM right, forced
    qa(4, "Which city hosts the Eiffel Tower?"),  # Lyon: EM wrong, the judge never gives a verdict
    # m1 answers in its step, m2 only in the forced turn
    Task(id="m1", dataset="gsm8k", kind="math", question="What is 2 + 2?", answer="4"),
    Task(id="m2", dataset="gsm8k", kind="math", question="What is 3 + 1?", answer="4"),
]
AGENT_SCRIPT = [
    step("final_answer('Paris')"),
    step("final_answer('the city of Paris')"),
    step("print('still looking')"),
    "Paris",  # forced final-answer turn of q3
    step("final_answer('Lyon')"),
    step("final_answer(2 + 2)"),
    step("print(3 + 1)"),
    "4",  # forced final-answer turn of m2
]
# One verdict per QA prediction in results order; q4's replies never carry a score (1 try + 2 retries).
JUDGE_SCRIPT = [YES, YES, YES, "They might match.", "Hard to say.", "I cannot tell."]


@pytest.fixture()
def judged_run(tmp_path: Path) -> tuple[Path, ReplayLLM]:
    run_dir = tmp_path / "agent"
    evaluate(TASKS, ReplayLLM(AGENT_SCRIPT), run_dir, EvalSettings(label="Student agent", max_steps=1))
    judge_llm = ReplayLLM(JUDGE_SCRIPT, name="judge-replay")
    judge_results_file(run_dir / "results.jsonl", LLMJudge(judge_llm, tmp_path / "judge_cache.jsonl"))
    return run_dir, judge_llm


def _md_rows(md: str, heading: str) -> list[list[str]]:
    """Body rows of the first Markdown table after ``heading``."""
    block: list[str] = []
    for line in md.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in block[2:]]


def test_report_shows_em_f1_judge_agreement_and_forced(judged_run, tmp_path: Path) -> None:
    run_dir, judge_llm = judged_run
    assert len(judge_llm.calls) == 6  # the unparsed verdict was retried twice
    run = load_run(run_dir)
    m = run.summary.per_set
    assert (m["hotpotqa"].n, m["hotpotqa"].forced, m["gsm8k"].forced) == (4, 1, 1)
    f1 = f"{100 * m['hotpotqa'].f1:.1f}"  # mean token F1 of Paris, city of Paris, Paris, Lyon

    md = write_report([run], tmp_path / "out").markdown.read_text()
    assert "Judged by `judge-replay`." in md
    assert _md_rows(md, "## QA graded by exact match, F1 and the LLM judge") == [
        [
            run.summary.model,
            "Student agent",
            "hotpotqa",
            "4",
            "50.0 [15.0, 85.0]",
            f1,
            "75.0 [30.1, 95.4]",
            "66.7 [20.8, 93.9] (n=3)",
            "1",
            "judge-replay",
        ],
    ]
    assert _md_rows(md, "## Forced final answers") == [
        [
            run.summary.model,
            "Student agent",
            "hotpotqa",
            "4",
            "50.0 [15.0, 85.0]",
            "25.0 [4.6, 69.9]",
            "1",
            "1",
        ],
        [
            run.summary.model,
            "Student agent",
            "gsm8k",
            "2",
            "100.0 [34.2, 100.0]",
            "50.0 [9.5, 90.5]",
            "1",
            "1",
        ],
    ]
    assert "Check these inputs" not in md

    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>75.0 [30.1, 95.4]</td><td>66.7 [20.8, 93.9] (n=3)</td><td>1</td>" in html
    assert "<td>50.0 [15.0, 85.0]</td><td>25.0 [4.6, 69.9]</td><td>1</td><td>1</td>" in html
    assert html.count('<span class="tag">forced answer</span>') == 2  # q3 and m2 in the viewer
    assert html.count("forced final-answer turn</span>") == 2


def test_unjudged_run_has_no_judge_table_and_a_stale_judge_is_flagged(judged_run, tmp_path: Path) -> None:
    run_dir, _ = judged_run
    summary_path = run_dir / "judge_summary.json"
    judged = json.loads(summary_path.read_text())
    summary_path.unlink()
    md = write_report([load_run(run_dir)], tmp_path / "plain").markdown.read_text()
    assert "LLM judge" not in md and "## Forced final answers" in md

    judged["per_set"]["hotpotqa"]["n"] = 3  # judged before the run gained a question
    summary_path.write_text(json.dumps(judged))
    md = write_report([load_run(run_dir)], tmp_path / "stale").markdown.read_text()
    assert "set 'hotpotqa': judge_summary.json has n=3, EM 2 but the run has n=4, EM 2; judge it again" in md


def test_cot_run_has_no_forced_rows(tmp_path: Path) -> None:
    task = Task(id="m", dataset="gsm8k", kind="math", question="What is 2 + 2?", answer="4")
    evaluate(
        [task], ReplayLLM(["2 + 2 = 4.\n\nAnswer: \\boxed{4}"]), tmp_path / "cot", EvalSettings(mode="cot")
    )
    md = write_report([load_run(tmp_path / "cot")], tmp_path / "out").markdown.read_text()
    assert "Forced final answers" not in md and "LLM judge" not in md


def test_a_forced_turn_without_an_answer_is_not_a_forced_answer(tmp_path: Path) -> None:
    """The fault this guards: "forced answers" counted forced turns, also those that gave no answer."""
    tasks = [qa(5, "Where is the Louvre?"), qa(6, "Which city hosts the Eiffel Tower?")]
    script = [step("print('looking')"), "Paris", step("print('looking')"), ""]  # q6's forced turn: nothing
    summary = evaluate(tasks, ReplayLLM(script), tmp_path / "run", EvalSettings(label="s", max_steps=1))
    recs = load_run(tmp_path / "run").records
    assert [r.trajectory["forced_final_answer"] for r in recs] == [True, True]
    assert [r.status for r in recs] == ["answered", "max_steps"]
    assert summary.per_set["hotpotqa"].forced == 1
