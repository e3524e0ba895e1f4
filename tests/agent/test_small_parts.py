"""Pure logic: SAG vote, first-thought prefix, CoT answer extraction, prompts, ReplayLLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdistill.agent.cot import extract_answer, last_boxed
from agentdistill.agent.first_thought import first_thought_prefix
from agentdistill.agent.prompts import STEP_STOP, PromptError, load_prompt
from agentdistill.agent.replay import ReplayLLM
from agentdistill.agent.sag import vote
from agentdistill.llm.types import GenerationConfig, GenerationError


@pytest.mark.parametrize(
    ("keys", "winner", "sizes"),
    [
        (["a", "b", "b", "a", "b"], 1, {"a": 2, "b": 3}),
        (["a", "b", "a", "b"], 0, {"a": 2, "b": 2}),  # tie: earliest group wins
        ([None, "b", "a", "b"], 1, {"a": 1, "b": 2}),
        ([None, "x", "y", "z"], 1, {"x": 1, "y": 1, "z": 1}),  # all distinct: first valid
        ([None, None, None], 0, {}),  # none valid: first candidate
        ([None, "c", "d", "d"], 2, {"c": 1, "d": 2}),
    ],
)
def test_vote(keys: list[str | None], winner: int, sizes: dict[str, int]) -> None:
    assert vote(keys) == (winner, sizes)


@pytest.mark.parametrize(
    ("cot", "prefix"),
    [
        (
            "First find the director.\nThen his birthplace.\n\nThe director is X.",
            "Thought: First find the director.\nThen his birthplace.\n\n",
        ),
        ("\n\n  Thought: plan it.  \n\nmore", "Thought: plan it.\n\n"),
        ("single paragraph only", "Thought: single paragraph only\n\n"),
        ("a\n   \nb", "Thought: a\n\n"),
        ("", ""),
        ("<think>\nplan\n\nrest</think>", "Thought: plan\n\n"),
    ],
)
def test_first_thought_prefix(cot: str, prefix: str) -> None:
    assert first_thought_prefix(cot) == prefix


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("So 3+4=7.\n\\boxed{7}", "7"),
        ("\\boxed{\\frac{1}{2}} and then \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        ("Reasoning...\nThe answer is: Paris.", "Paris"),
        ("Therefore the final answer is **Niels Bohr**.", "Niels Bohr"),
        ("Final Answer: 42", "42"),
        # a labelled answer line, as models write it without the prompt's phrase (a whole line is not an answer)
        ("Step 1: ...\nAnswer: Yes", "Yes"),
        ("Reasoning.\n**Answer:** Greenwich Village", "Greenwich Village"),
        ("Reasoning.\n**Answer**: Greenwich Village.", "Greenwich Village"),
        ("> Answer - 1995\nThat is all.", "1995"),
        ("The answer is: Paris\nAnswer: Lyon", "Lyon"),  # the last one wins
        (
            "Answers vary.\nThe question's answer depends on context.",
            "The question's answer depends on context.",
        ),
        ("blah\nblah\nyes", "yes"),
        # real teacher outputs (runs/study CoT arm): the phrase repeated, the question named, a correction
        ("Therefore, the answer is: The answer is: Apaches", "Apaches"),
        ("Step 3: ...\nTherefore, the answer is:\nThe answer is: October 1917", "October 1917"),
        ("5. Therefore, the answer to the question is: No, they differ.", "No, they differ"),
        ("I think the answer is 3. But wait, the answer is 4.", "4"),
        ("", None),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


def test_last_boxed_unbalanced() -> None:
    assert last_boxed("\\boxed{1} \\boxed{2") == "1"


def test_prompts_render() -> None:
    student_qa = load_prompt("student").render(kind="qa")
    assert student_qa == load_prompt("student").render(kind="math")  # student prompt is kind-independent
    assert "search(query)" in student_qa and "<end_code>" in student_qa
    assert "search(" not in load_prompt("student").render(kind="qa", search=False)
    teacher_qa = load_prompt("teacher").render(kind="qa")
    teacher_math = load_prompt("teacher").render(kind="math")
    assert "Ritesh Batra" in teacher_qa and "Ritesh Batra" not in teacher_math
    assert "final_answer(102)" in teacher_math
    paper = load_prompt("paper")
    assert paper.search_tool == "web_search" and "web_search" in paper.render(kind="qa")


def test_user_prompt_file(tmp_path: Path) -> None:
    p = tmp_path / "mine.j2"
    p.write_text("{#- agentdistill: search_tool=lookup -#}\nTools: {{ search_tool }}; steps {{ max_steps }}")
    t = load_prompt(p)
    assert t.search_tool == "lookup" and t.render(max_steps=3).strip() == "Tools: lookup; steps 3"
    bad = tmp_path / "bad.j2"
    bad.write_text("line one\n{% if %}")
    with pytest.raises(PromptError, match=r"bad\.j2:2"):
        load_prompt(bad)
    with pytest.raises(PromptError, match="neither a built-in"):
        load_prompt("nope")
    undefined = tmp_path / "undef.j2"
    undefined.write_text("{{ nosuch }}")
    with pytest.raises(PromptError, match="nosuch"):
        load_prompt(undefined).render()


def test_replay_applies_stops_and_n() -> None:
    llm = ReplayLLM(["Thought: a\nCode:\n```py\nx=1\n```<end_code>tail", ["one", "two"]])
    cfg = GenerationConfig(stop=STEP_STOP, n=1)
    r = llm.generate([{"role": "user", "content": "q"}], cfg)
    assert r.text == "Thought: a\nCode:\n```py\nx=1\n```" and r.completions[0].stop_string == "<end_code>"
    r = llm.generate([], GenerationConfig(n=3))
    assert [c.text for c in r.completions] == ["one", "two", "one"]
    with pytest.raises(GenerationError, match="exhausted after 2 calls"):
        llm.generate([], cfg)
    assert len(llm.calls) == 2
