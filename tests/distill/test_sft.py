"""SFT examples from trajectories: student prompt, steps verbatim (prefix kept), forced final turn dropped."""

from __future__ import annotations

import json

import pytest

from agentdistill.agent.prompts import load_prompt
from agentdistill.agent.records import Step, Trajectory, TrajectoryWriter
from agentdistill.data.task import Task
from agentdistill.distill.sft import (
    SFTDataError,
    cot_to_sft,
    read_sft_jsonl,
    sniff_kind,
    trajectories_to_sft_file,
    trajectory_to_sft,
)

STEP1 = "Thought: The capital of France is Paris, I should check.\n\nCode:\n```py\nprint(search('capital of France'))\n```"
STEP2 = "Thought: confirmed.\nCode:\n```py\nfinal_answer('Paris')\n```"


def _traj(forced: bool = False) -> Trajectory:
    task = Task(id="t1", dataset="demo", kind="qa", question="Capital of France?", answer="Paris")
    messages = [
        {"role": "system", "content": "TEACHER PROMPT with worked examples"},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": STEP1},
        {"role": "user", "content": "Observation: 1. France — Paris is the capital."},
        {"role": "assistant", "content": STEP2},
    ]
    steps = [Step(index=0, raw=STEP1, prefix="Thought: The capital of France is Paris, I should check.\n\n"),
             Step(index=1, raw=STEP2)]
    if forced:
        messages[-1] = {"role": "user", "content": "You are out of steps. Give the final answer now.", "forced": "1"}
        messages.append({"role": "assistant", "content": STEP2})
        steps[1] = Step(index=1, raw=STEP2)
    return Trajectory(task=task, model="teacher", messages=messages, steps=steps, status="answered", correct=True,
                      settings={"max_steps": 5})


def test_student_prompt_replaces_teacher_and_steps_are_verbatim():
    msgs = trajectory_to_sft(_traj())
    assert msgs[0] == {"role": "system", "content": load_prompt("student").render(kind="qa", search=True, max_steps=5)}
    assert "TEACHER" not in json.dumps(msgs)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant"]
    assert msgs[2]["content"] == STEP1 and msgs[4]["content"] == STEP2  # first-thought prefix included


def test_forced_final_answer_turn_is_excluded():
    msgs = trajectory_to_sft(_traj(forced=True))
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert "out of steps" not in json.dumps(msgs)


def test_trajectory_file_to_sft_file_roundtrip(tmp_path):
    src, dst = tmp_path / "traj.jsonl", tmp_path / "sft.jsonl"
    with TrajectoryWriter(src, fsync=False) as w:
        w.write(_traj())
        bad = _traj()
        bad.correct = False
        w.write(bad)
    assert sniff_kind(src) == "trajectories"
    assert trajectories_to_sft_file(src, dst, only_correct=True) == 1
    assert sniff_kind(dst) == "sft"
    assert read_sft_jsonl(dst)[0] == trajectory_to_sft(_traj())


def test_cot_example_and_errors(tmp_path):
    ex = cot_to_sft("2+2?", "2 plus 2 is 4.\n\nThe answer is: 4")
    assert [m["role"] for m in ex] == ["system", "user", "assistant"] and ex[2]["content"].endswith("4")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(SFTDataError, match=r"bad.jsonl:1: .*no assistant turn"):
        read_sft_jsonl(bad)
    bad.write_text("{oops\n")
    with pytest.raises(SFTDataError, match=r"bad.jsonl:1: not valid JSON"):
        read_sft_jsonl(bad)
