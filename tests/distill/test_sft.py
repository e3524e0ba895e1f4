"""SFT examples from records made by the real code: agent trajectories from the real loop (ReplayLLM, real
sandbox), CoT records from the real `generate --mode cot`; the forced final answer never becomes training data."""

from __future__ import annotations

import json

import pytest

from agentdistill.agent import run_episode
from agentdistill.agent.prompts import load_prompt
from agentdistill.agent.records import TrajectoryWriter
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.distill.filter import filter_cot, filter_trajectories
from agentdistill.distill.sft import (
    SFTDataError,
    cot_to_sft,
    read_sft_jsonl,
    records_to_sft,
    sniff_kind,
    trajectories_to_sft_file,
    trajectory_to_sft,
)

F = "```"
QA = Task(id="t1", dataset="unit", kind="qa", question="Capital of France?", answer="Paris")
MATH = Task(id="m1", dataset="unit", kind="math", question="What is 6 * 7?", answer="42")
STEP1 = f"Thought: I should look it up.\nCode:\n{F}py\nprint(search('capital of France'))\n{F}<end_code>"
STEP2 = f"Thought: confirmed.\nCode:\n{F}py\nfinal_answer('Paris')\n{F}<end_code>"


def fake_search(query: str) -> str:  # the search tool the sandbox calls (a ready query -> str tool)
    return "1. France: Paris is the capital of France."


def qa_episode(prefix: str | None = None, k: int = 2):
    traj = run_episode(
        QA,
        ReplayLLM([STEP1, STEP2]),
        retriever=fake_search,
        prompt="teacher",
        k=k,
        max_steps=4,
        prefix=prefix,
    )
    traj.correct = True
    return traj


def test_student_prompt_replaces_teacher_and_steps_are_verbatim():
    traj = qa_episode(prefix="Thought: I should")
    assert traj.status == "answered", traj.error
    msgs = trajectory_to_sft(traj)
    # the loop recorded k=2 and a search tool: the student prompt says so (not a fallback value)
    assert msgs[0]["content"] == load_prompt("student").render(kind="qa", search=True, max_steps=4, k=2)
    assert "2 most relevant passages" in msgs[0]["content"]
    assert msgs[0]["content"] != traj.messages[0]["content"]  # the teacher prompt is not trained on
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant"]
    assert msgs[2]["content"] == traj.steps[0].raw and msgs[2]["content"].startswith("Thought: I should")
    assert msgs[3]["content"].startswith("Observation:\n1. France: Paris")
    assert msgs[4]["content"] == STEP2


def test_trajectory_without_a_retriever_trains_without_search():
    code = f"Thought: multiply.\nCode:\n{F}py\nfinal_answer(6 * 7)\n{F}<end_code>"
    traj = run_episode(MATH, ReplayLLM([code]), prompt="teacher", max_steps=3)
    assert traj.settings["k"] is None and traj.settings["search_tool"] is None  # what the loop writes
    msgs = trajectory_to_sft(traj)  # used to crash with int(None)
    assert "search(" not in msgs[0]["content"] and "passages" not in msgs[0]["content"]
    assert "at most 3 steps" in msgs[0]["content"]


def test_forced_final_answer_from_the_real_loop_is_never_training_data(tmp_path):
    forced = run_episode(QA, ReplayLLM([STEP1, "Paris"]), retriever=fake_search, max_steps=1)
    assert forced.forced_final_answer and forced.status == "answered" and forced.final_answer == "Paris"
    forced.correct = True  # even a right forced answer
    with pytest.raises(SFTDataError, match="forced final-answer"):
        trajectory_to_sft(forced)
    src, kept = tmp_path / "raw.jsonl", tmp_path / "kept.jsonl"
    with TrajectoryWriter(src, fsync=False) as w:
        w.write(forced)
        w.write(qa_episode())
    rep = filter_trajectories(src, kept)
    assert rep.kept == 1 and rep.dropped == {"forced_final_answer": 1}
    examples, skipped = records_to_sft(src)  # unfiltered data: sft leaves it out too, and counts it
    assert skipped == {"forced_final_answer": 1} and examples == [trajectory_to_sft(qa_episode())]


def test_trajectory_file_to_sft_file_roundtrip(tmp_path):
    src, dst = tmp_path / "traj.jsonl", tmp_path / "sft.jsonl"
    good, bad = qa_episode(), qa_episode()
    bad.correct = False
    with TrajectoryWriter(src, fsync=False) as w:
        w.write(good)
        w.write(bad)
    assert sniff_kind(src) == "trajectories"
    assert trajectories_to_sft_file(src, dst, only_correct=True) == 1
    assert sniff_kind(dst) == "sft"
    assert read_sft_jsonl(dst)[0] == trajectory_to_sft(good)


def test_cot_records_from_real_generate_become_chat_examples(tmp_path):
    from agentdistill.distill.generate import GenerateSettings, generate

    tasks = [MATH, Task(id="m2", dataset="unit", kind="math", question="What is 2 + 2?", answer="4")]
    texts = ["6 times 7 is 42.\n\nThe answer is \\boxed{42}.", "2 plus 2 is 5.\n\nThe answer is \\boxed{5}."]
    raw, kept = tmp_path / "cot.jsonl", tmp_path / "kept_cot.jsonl"
    generate(tasks, ReplayLLM(texts, name="teacher"), raw, GenerateSettings(mode="cot"))
    assert sniff_kind(raw) == "cot"
    rep = filter_cot(raw, kept)
    assert rep.kept == 1 and rep.dropped == {"incorrect": 1}
    examples, skipped = records_to_sft(kept)
    assert not skipped and len(examples) == 1
    system = load_prompt("cot").render(kind="math", search=False)
    assert examples[0] == [
        {"role": "system", "content": system},
        {"role": "user", "content": MATH.question},
        {"role": "assistant", "content": texts[0]},
    ]
    out = tmp_path / "sft.jsonl"
    assert trajectories_to_sft_file(kept, out) == 1 and read_sft_jsonl(out) == examples


def test_sft_file_errors_name_file_and_line(tmp_path):
    ex = cot_to_sft("2+2?", "2 plus 2 is 4.\n\nThe answer is: 4")
    assert [m["role"] for m in ex] == ["system", "user", "assistant"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(SFTDataError, match=r"bad.jsonl:1: .*no assistant turn"):
        read_sft_jsonl(bad)
    bad.write_text("{oops\n")
    with pytest.raises(SFTDataError, match=r"bad.jsonl:1: invalid JSON"):
        read_sft_jsonl(bad)
    bad.write_text(json.dumps({"task": MATH.model_dump(), "text": ""}) + "\n")
    with pytest.raises(SFTDataError, match=r"bad.jsonl:1: field 'text'"):
        records_to_sft(bad)
