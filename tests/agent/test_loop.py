"""The loop and SAG on the real sandbox, driven by scripted outputs (ReplayLLM) for exact control."""

from __future__ import annotations

from agentdistill.agent import run_episode
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task

F = "```"


def step(thought: str, code: str, fence: str = "py") -> str:
    return f"Thought: {thought}\nCode:\n{F}{fence}\n{code}\n{F}<end_code>"


MATH = Task(id="m1", dataset="unit", kind="math", question="What is 2+2?", answer="4")


def test_answered_episode_records_everything() -> None:
    llm = ReplayLLM([step("compute", "x = 2 + 2\nprint(x)"), step("done", "final_answer(x)")])
    traj = run_episode(MATH, llm, max_steps=5)
    assert traj.status == "answered", traj.error
    assert traj.final_answer == 4
    assert len(traj.steps) == 2
    assert traj.steps[0].observation.strip() == "4"
    assert traj.steps[0].code == "x = 2 + 2\nprint(x)" and traj.steps[0].thought == "compute"
    roles = [m["role"] for m in traj.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert traj.messages[3]["content"].startswith("Observation:\n4")
    assert traj.messages[2]["content"] == traj.steps[0].raw and traj.steps[0].raw.endswith("<end_code>")
    assert traj.settings["sandbox_imports"] == "math" and traj.settings["max_steps"] == 5
    assert traj.totals.steps == 2 and traj.totals.parse_failures == 0


def test_max_steps_gives_no_answer() -> None:
    llm = ReplayLLM([step("look", "print('still looking')")], cycle=True)
    traj = run_episode(MATH, llm, max_steps=3, force_final_answer=False)
    assert traj.status == "max_steps" and traj.final_answer is None
    assert len(traj.steps) == 3 and len(llm.calls) == 3
    assert traj.messages[-1]["role"] == "user"  # the last observation is recorded too


def test_parse_failure_costs_a_step_and_explains() -> None:
    llm = ReplayLLM(["I think the answer is 4.", step("fix", "x = (1 +\n"), step("ok", "final_answer(4)")])
    traj = run_episode(MATH, llm, max_steps=5)
    assert traj.status == "answered" and len(traj.steps) == 3
    assert traj.steps[0].error_kind == "no_code"
    assert traj.messages[3]["content"].startswith("Observation:\nError: No code block found.")
    assert traj.steps[1].error_kind == "syntax" and "SyntaxError line 1" in traj.steps[1].observation
    assert traj.totals.parse_failures == 2
    # the model saw the failure before its next step
    assert "No code block found" in llm.calls[1][0][-1]["content"]


def test_exception_observation() -> None:
    llm = ReplayLLM([step("divide", "print(1 / 0)"), step("ok", "final_answer(0)")])
    traj = run_episode(MATH, llm, max_steps=5)
    assert traj.steps[0].error_kind == "exception"
    assert "ZeroDivisionError" in traj.steps[0].observation
    assert traj.totals.exec_errors == 1


def test_bare_fence_block_runs_and_the_step_ends_at_its_end_marker() -> None:
    # issue 13 §1: a closing fence does not end the step (only <end_code> does); chatter is not code
    raw = f"Thought: t\nCode:\n{F}\nprint(6 * 7)\n{F}\nThe code prints 42."
    llm = ReplayLLM([raw, step("ok", "final_answer(42)")])
    traj = run_episode(MATH, llm, max_steps=5)
    assert traj.steps[0].code == "print(6 * 7)"
    assert traj.steps[0].observation.strip() == "42"
    assert traj.steps[0].raw == raw


def test_sag_forks_are_isolated_and_winner_state_kept() -> None:
    candidates = [
        step("a", "x += 1\nloser_marker = True\nprint(x)"),  # distinct observation "11": loses 1 vs 2
        step("b", "print(x)"),
        step("c", "print(x)"),
        "no code here",
    ]
    llm = ReplayLLM(
        [
            step("init", "x = 10"),
            candidates,
            step("check", "print(x, 'loser_marker' in globals())"),
            step("done", "final_answer(x)"),
        ]
    )
    traj = run_episode(MATH, llm, sag_n=4, max_steps=5)
    assert traj.status == "answered", traj.error
    s1 = traj.steps[1]
    assert s1.n_candidates == 4 and s1.winner == 1 and s1.n_valid == 3
    assert [c.group_size for c in s1.candidates] == [1, 2, 2, 0]
    assert [c.valid for c in s1.candidates] == [True, True, True, False]
    assert s1.candidates[0].observation.strip() == "11" and s1.candidates[3].error_kind == "no_code"
    assert s1.observation.strip() == "10"
    assert traj.steps[2].observation.strip() == "10 False"  # the loser's x += 1 and marker never happened
    assert traj.final_answer == 10
    assert llm.calls[1][1].n == 4 and llm.calls[1][1].temperature == 0.4 and llm.calls[1][1].top_p == 0.8


def test_sag_final_answer_is_part_of_the_vote() -> None:
    llm = ReplayLLM(
        [[step("a", "final_answer(1)"), step("b", "final_answer(2)"), step("c", "final_answer(2)")]]
    )
    traj = run_episode(MATH, llm, sag_n=3, max_steps=2)
    assert traj.final_answer == 2 and traj.steps[0].winner == 1


def test_sag_none_survive_uses_first_and_adopts_its_state() -> None:
    llm = ReplayLLM(
        [
            [step("a", "y = 5\nraise ValueError('boom')"), step("b", "z = 1\nprint(1/0)"), "junk"],
            step("check", "print('y' in globals(), 'z' in globals())"),
            step("done", "final_answer(0)"),
        ]
    )
    traj = run_episode(MATH, llm, sag_n=3, max_steps=4)
    s0 = traj.steps[0]
    assert s0.winner == 0 and s0.n_valid == 0 and s0.error_kind == "exception"
    assert "ValueError" in s0.observation
    # the first candidate's fork was adopted (its effects before the raise are kept, not re-run); b's are gone
    assert traj.steps[1].observation.strip() == "True False"


def test_generation_error_is_recorded() -> None:
    llm = ReplayLLM([step("look", "print(1)")])  # exhausted at step 2
    traj = run_episode(MATH, llm, max_steps=3)
    assert traj.status == "error" and "exhausted" in (traj.error or "")
    assert len(traj.steps) == 1


def test_replay_from_recorded_trajectories_reproduces_run(tmp_path) -> None:
    from agentdistill.agent import TrajectoryWriter

    llm = ReplayLLM(
        [
            step("init", "x = 3"),
            [step("a", "print(x + 1)"), step("b", "print(x)"), step("c", "print(x)")],
            step("done", "final_answer(x)"),
        ]
    )
    first = run_episode(MATH, llm, sag_n=3, max_steps=4, prefix="Thought: start\n\n")
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.write(first)
    again = run_episode(
        MATH, ReplayLLM.from_trajectories(path), sag_n=3, max_steps=4, prefix="Thought: start\n\n"
    )
    assert [s.raw for s in again.steps] == [s.raw for s in first.steps]
    assert [s.winner for s in again.steps] == [s.winner for s in first.steps] == [0, 1, 0]
    assert again.final_answer == first.final_answer == 3


def test_sag_losers_host_tool_calls_are_recorded(tmp_path) -> None:
    """Each candidate's fork calls the host's search tool; the losers' calls stay in the record (issue 14 item 3)."""
    import json

    from agentdistill.retrieval import load_retriever
    from agentdistill.retrieval.index import build_index

    corpus = tmp_path / "corpus.jsonl"
    docs = [(0, "Paris", "Paris is the capital of France."), (1, "Rome", "Rome is the capital of Italy.")]
    corpus.write_text("".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    build_index(corpus, tmp_path / "index", "bm25", progress=False)
    qa = Task(id="q1", dataset="unit", kind="qa", question="Capital of France?", answer="Paris")
    llm = ReplayLLM(
        [
            [
                step("a", "print(search('capital of France'))\nfinal_answer('Paris')"),
                step("b", "print(search('capital of Italy'))\nfinal_answer('Rome')"),
                step("c", "print(search('capital of France'))\nfinal_answer('Paris')"),
            ]
        ]
    )
    traj = run_episode(qa, llm, retriever=load_retriever(str(tmp_path / "index")), sag_n=3, max_steps=1)
    assert traj.final_answer == "Paris"
    cands = traj.steps[0].candidates
    queries = [[c["args"] for c in cand.tool_calls] for cand in cands]
    assert cands[1].valid and cands[1].final_answer == "Rome"  # the loser ran and searched
    assert "capital of Italy" in json.dumps(queries[1])
    assert all(len(q) == 1 for q in queries[:2])
