"""Degenerate and unfinished steps as small models write them (docs/reviews/graders-parser-2026-12-02.md):
a run of bare words that CPython's own parser cannot compile (MemoryError, not SyntaxError), an imagined output
block after labelled code, and prose after code whose closing fence was never written. Each case failed before."""

from __future__ import annotations

import pytest

from agentdistill.agent import run_episode
from agentdistill.agent.paper_format import with_last_value
from agentdistill.agent.parse import parse_step
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.grading import grade_math
from agentdistill.llm.types import GenerationConfig

F = "```"
MATH = Task(id="m1", dataset="unit", kind="math", question="What is 2+2?", answer="4")
# about 1,500 bare words on one line make CPython 3.11's compile() raise MemoryError
DEGENERATE = "Thought: I will compute the sum.\nCode:\n" + "four " * 1600


def good(code: str) -> str:
    return f"Thought: t\nCode:\n{F}py\n{code}\n{F}<end_code>"


@pytest.mark.parametrize(
    "raw",
    [DEGENERATE, "Thought: t\nCode:\n" + "the " * 3000, f"Code:\n{F}py\nx = a" + ".a" * 5000 + f"\n{F}"],
)
def test_uncompilable_text_is_a_failed_step(raw: str) -> None:
    step = parse_step(raw)
    assert step.error_kind == "syntax" and "too long or too deeply nested" in (step.error or "")


def test_a_degenerate_step_costs_one_step_not_the_episode() -> None:
    gen = GenerationConfig(max_tokens=4096)
    traj = run_episode(MATH, ReplayLLM([DEGENERATE, good("final_answer(4)")]), gen=gen, max_steps=3)
    assert traj.status == "answered", traj.error
    assert traj.steps[0].error_kind == "syntax" and traj.final_answer == 4


def test_a_degenerate_sag_candidate_is_dropped() -> None:
    gen = GenerationConfig(max_tokens=4096)
    llm = ReplayLLM([[DEGENERATE, good("final_answer(4)"), good("final_answer(4)")]])
    traj = run_episode(MATH, llm, gen=gen, sag_n=3, max_steps=2)
    assert traj.status == "answered", traj.error
    assert traj.final_answer == 4 and traj.steps[0].n_valid == 2


def test_other_readers_of_model_code_survive_it() -> None:
    code = "the " * 3000
    assert with_last_value(code) == (code, {})
    assert grade_math(code, "4").correct is False


CASES: list[tuple[str, str, str | None, str | None]] = [
    # (name, raw, error_kind, code)
    (
        "imagined output after labelled code",
        f"Thought: t\nCode:\n{F}py\ncity = 'Paris'\nprint(city)\n{F}\n{F}\nParis\n{F}",
        None,
        "city = 'Paris'\nprint(city)",
    ),
    (
        "a number as imagined output",
        f"Code:\n{F}python\nx = 6 * 7\nprint(x)\n{F}\n{F}\n42\n{F}",
        None,
        "x = 6 * 7\nprint(x)",
    ),
    (
        "an untagged block that acts is still code",
        f"Code:\n{F}py\nx = 6 * 7\n{F}\n{F}\nfinal_answer(x)\n{F}",
        None,
        "x = 6 * 7\n\nfinal_answer(x)",
    ),
    (
        "prose right after unclosed code",
        f"Thought: t\nCode:\n{F}py\nr = search('director of Inception')\nprint(r)\nThis will search for the director.",
        None,
        "r = search('director of Inception')\nprint(r)",
    ),
    (
        "a note with a call in it",
        f"Code:\n{F}py\nprint(search('x'))\n\nNote: search() returns the top passages.",
        None,
        "print(search('x'))",
    ),
    (
        "an emphasised explanation",
        f"Code:\n{F}py\nx = 2 + 2\nfinal_answer(x)\n**Explanation:** we add the numbers.",
        None,
        "x = 2 + 2\nfinal_answer(x)",
    ),
    ("a short sentence", f"Code:\n{F}py\nfinal_answer(4)\nDone here.", None, "final_answer(4)"),
    (
        "prose after unfenced labelled code",
        "Thought: t\nCode:\nfinal_answer('Paris')\nThis gives the answer.",
        None,
        "final_answer('Paris')",
    ),
    # what is broken code, not prose, stays a syntax error the model is told about
    ("python 2 print", f"Code:\n{F}py\nx = 5\nprint x", "syntax", None),
    ("else if", f"Code:\n{F}py\nif x:\n    y = 1\nelse if x > 3:\n    y = 2", "syntax", None),
    ("assignment with words", f"Code:\n{F}py\nx = 5\nTotal = 5 apples", "syntax", None),
    ("an unfinished call", f"Code:\n{F}py\nx = 5\nfinal_answer(round(x", "syntax", None),
]


@pytest.mark.parametrize(("name", "raw", "kind", "code"), CASES, ids=[c[0] for c in CASES])
def test_unfinished_steps(name: str, raw: str, kind: str | None, code: str | None) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind, (name, step)
    if code is not None:
        assert step.code == code, (name, step)


# A block opened by a fence and closed by </code>, or the reverse (smolagents#1870): the closer is not code.
MIXED_CLOSERS = [
    f"Thought: t\n{F}py\nprint(2+2)\n</code>",
    f"Thought: t\n{F}py\nprint(2+2)\n</code>\nThe result will show.",
    f"Thought: t\n{F}py\nprint(2+2)</code>",
    f"Thought: t\n<code>\nprint(2+2)\n{F}",
    f"Thought: t\nCode: <code>\nprint(2+2)\n{F}<end_code>",
    f"Thought: t\nCode:<code>print(2+2)\n{F}",
]


@pytest.mark.parametrize("raw", MIXED_CLOSERS)
def test_a_block_closed_by_the_other_kind_of_marker(raw: str) -> None:
    step = parse_step(raw)
    assert step.error is None and step.code == "print(2+2)", (step.code, step.error)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (f"Thought: t\n{F}py\nprint('</code>')\n{F}", "print('</code>')"),  # markers inside strings stay code
        (f"Thought: t\n{F}py\ns = '<code>'\nprint(s)\n{F}", "s = '<code>'\nprint(s)"),
        ("Thought: t\n<code>\nprint(1)\n</code>", "print(1)"),
    ],
)
def test_markers_inside_code_are_code(raw: str, code: str) -> None:
    assert parse_step(raw).code == code
