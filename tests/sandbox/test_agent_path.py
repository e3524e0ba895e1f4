"""The issue's escapes replayed through the agent's real path: ``run_episode`` with the default sandbox policy of
each task kind and the search tool wired; the host stays intact and the episode ends normally."""

from __future__ import annotations

import pytest

from agentdistill.agent import run_episode
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task

from .test_adversarial import ATTACKS

F = "```"
ESCAPES = (
    "str_subclass_path",
    "dir_fd_walk_canary",
    "name_trick_subprocess",
    "guard_tables_via_tool",
    "unix_path",
    "walk_host_sys_path",
    "setsid_survivor",
    "write_host_tmp",
    "huge_final_answer",
)


def _step(code: str) -> str:
    return f"Thought: try\nCode:\n{F}py\n{code}\n{F}<end_code>"


@pytest.mark.parametrize("kind", ["qa", "math"])
def test_escapes_through_run_episode(host, kind: str):
    codes = [host.fill(code) for name, code, _ in ATTACKS if name in ESCAPES]
    assert len(codes) == len(ESCAPES)
    llm = ReplayLLM([_step(c) for c in codes] + [_step("final_answer('done')")])
    task = Task(id="t1", dataset="unit", kind=kind, question="q?", answer="done")
    traj = run_episode(task, llm, retriever=lambda q: "a passage", max_steps=len(codes) + 1)
    assert traj.status == "answered" and traj.final_answer == "done", traj.error
    host.assert_intact(*(s.observation for s in traj.steps), traj.final_answer)
