"""The forced final answer after max_steps (the paper's provide_final_answer) and multi-block actions, on the
real loop and sandbox, driven by scripted outputs (ReplayLLM)."""

from __future__ import annotations

import pytest

from agentdistill.agent import run_episode
from agentdistill.agent.loop import FORCED_ANSWER_REQUEST, forced_answer
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task

F = "```"
QA = Task(id="q1", dataset="unit", kind="qa", question="What is the capital of France?", answer="Paris")


def step(thought: str, code: str) -> str:
    return f"Thought: {thought}\nCode:\n{F}py\n{code}\n{F}<end_code>"


def test_forced_turn_after_max_steps_is_asked_once_marked_and_answers():
    llm = ReplayLLM([step("look", "print('still looking')"), step("look", "print('again')"), "Paris"])
    traj = run_episode(QA, llm, max_steps=2)
    assert traj.status == "answered" and traj.final_answer == "Paris"
    assert traj.forced_final_answer is True
    assert [s.forced for s in traj.steps] == [False, False, True]
    assert len(llm.calls) == 3
    messages, config, prefix = llm.calls[2]
    ask = FORCED_ANSWER_REQUEST.format(max_steps=2, question=QA.question)
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith(ask)
    assert messages[-1]["content"].startswith("Observation:\nagain")  # appended to the last observation turn
    assert config.stop == () and config.n == 1 and prefix == ""
    assert traj.messages[-1] == {"role": "assistant", "content": "Paris"}
    assert traj.settings["force_final_answer"] is True


def test_no_answer_in_forced_reply_keeps_max_steps_status():
    llm = ReplayLLM([step("look", "print(1)"), "   "])
    traj = run_episode(QA, llm, max_steps=1)
    assert traj.status == "max_steps" and traj.final_answer is None
    assert traj.forced_final_answer is True and traj.steps[-1].forced


def test_answered_episode_has_no_forced_turn():
    llm = ReplayLLM([step("done", "final_answer('Paris')")])
    traj = run_episode(QA, llm, max_steps=2)
    assert traj.status == "answered" and not traj.forced_final_answer and len(llm.calls) == 1


def test_off_means_no_extra_call():
    llm = ReplayLLM([step("look", "print(1)")], cycle=True)
    traj = run_episode(QA, llm, max_steps=2, force_final_answer=False)
    assert traj.status == "max_steps" and not traj.forced_final_answer and len(llm.calls) == 2


@pytest.mark.parametrize(
    ("reply", "want"),
    [
        ("Paris", "Paris"),
        ("Final answer: Paris.", "Paris"),
        ("The answer is: 12.", "12"),
        ("We get \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        (f"{F}py\nfinal_answer(42)\n{F}", 42),
        ("Thought: I know it.\nfinal_answer('Paris')", "Paris"),
        ("", None),
    ],
)
def test_forced_answer_reading(reply, want):
    assert forced_answer(reply) == want


def test_every_code_block_of_a_step_runs_in_order_as_one_action():
    two_blocks = (
        f"Thought: compute then answer\nCode:\n{F}py\nx = 2\n{F}\n{F}py\nfinal_answer(x * 2)\n{F}<end_code>"
    )
    llm = ReplayLLM([two_blocks])
    traj = run_episode(
        Task(id="m", dataset="unit", kind="math", question="2*2?", answer="4"),
        llm,
        max_steps=1,
        force_final_answer=False,
    )
    assert traj.status == "answered", (traj.error, traj.steps[0].error)
    assert traj.final_answer == 4 and len(traj.steps) == 1


def test_eval_reports_accuracy_with_and_without_forced_answers(tmp_path):
    from agentdistill.evaluate.run import evaluate
    from agentdistill.evaluate.settings import EvalSettings

    tasks = [QA, QA.model_copy(update={"id": "q2"})]
    # q1 answers in its step; q2 runs out of steps and answers right only in the forced turn
    llm = ReplayLLM([step("done", "final_answer('Paris')"), step("look", "print(1)"), "Paris"])
    summary = evaluate(tasks, llm, tmp_path / "run", EvalSettings(max_steps=1))
    m = summary.per_set["unit"]
    assert m.n == 2 and m.accuracy == 1.0
    assert m.forced == 1 and m.accuracy_unforced == 0.5
