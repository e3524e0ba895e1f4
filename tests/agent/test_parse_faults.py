"""Parser faults found by probing the formats small models write and by re-parsing the 6452 recorded steps of
runs/study and runs/demo (2026-12-01). Each case was misparsed before its fix."""

from __future__ import annotations

import pytest

from agentdistill.agent.parse import parse_step

F = "```"

CASES: list[tuple[str, str, str | None, str | None]] = [
    # (name, raw, error_kind, code)
    # the end marker cut by max_tokens or misspelled, after an unclosed block or glued to the closing fence
    (
        "end marker cut by length",
        f"Thought: t\nCode:\n{F}py\nx = 1\nfinal_answer(x)\n<end_co",
        None,
        "x = 1\nfinal_answer(x)",
    ),
    (
        "end marker '<end' cut",
        f"Thought: t\nCode:\n{F}py\nx = 1\nfinal_answer(x)\n<end",
        None,
        "x = 1\nfinal_answer(x)",
    ),
    (
        "misspelled <endcode>",
        f"Thought: t\nCode:\n{F}py\nx = 1\nfinal_answer(x)\n<endcode>",
        None,
        "x = 1\nfinal_answer(x)",
    ),
    ("closing-tag style </end_code>", f"Code:\n{F}py\nfinal_answer(2)\n</end_code>", None, "final_answer(2)"),
    (
        "fence glued to end_code>",
        f"Code:\n{F}py\nx = 1\nfinal_answer(x)\n{F}end_code>",
        None,
        "x = 1\nfinal_answer(x)",
    ),
    # a hallucinated observation written inside the block, before its closing fence
    (
        "observation inside a closed block",
        f"Thought: t\nCode:\n{F}py\nprint(search('a'))\nObservation:\nfoo bar\n{F}",
        None,
        "print(search('a'))",
    ),
    # line ends and fences
    ("CR-only line ends", f"Thought: t\rCode:\r{F}py\rprint(1)\r{F}", None, "print(1)"),
    ("byte-order mark", f"\ufeffThought: t\nCode:\n{F}py\nprint(1)\n{F}", None, "print(1)"),
    ("four-backtick fence", "Thought: t\nCode:\n````py\nprint(1)\n````", None, "print(1)"),
    (
        "four-backtick fence around a ``` in a string",
        f"Thought: t\nCode:\n````python\ns = '''\n{F}\n'''\nprint(s)\n````",
        None,
        f"s = '''\n{F}\n'''\nprint(s)",
    ),
    # recorded teacher steps (runs/study): a stray opening fence, then the whole step written again inside it
    (
        "stray fence, step written again inside it",
        f"Here's the corrected code:\n\n{F}py\n# Python code; print() what you need to see\nThought: I need to "
        f'find who founded it.\nCode:\n{F}py\nprint(search("Kaiser Ventures founding"))\n{F}<end_code>',
        None,
        'print(search("Kaiser Ventures founding"))',
    ),
    (
        "stray python fence, step again inside, unclosed",
        f"Fixed:\n{F}python\nThought: look it up.\nCode:\n{F}py\nprint(search('x'))\n",
        None,
        "print(search('x'))",
    ),
    # recorded teacher steps: an untagged block after the code is its hallucinated output
    (
        "untagged output block after the code",
        f"Thought: t\nCode:\n{F}py\nx = 2\nprint(x)\n{F}\n{F}\n[Empty output]\n{F}",
        None,
        "x = 2\nprint(x)",
    ),
]


@pytest.mark.parametrize(("name", "raw", "kind", "code"), CASES, ids=[c[0] for c in CASES])
def test_fault_cases(name: str, raw: str, kind: str | None, code: str | None) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind, (name, step)
    if code is not None:
        assert step.code == code, (name, step)


def test_still_errors() -> None:
    """What the fixes above must not swallow."""
    # an untagged block that is code with a typo, alone after the label, is still reported
    assert parse_step(f"Code:\n{F}\nprint(x\n{F}").error_kind == "syntax"
    # narration inside a block is cut only when the code before it parses
    assert parse_step(f"Code:\n{F}py\nx = (\nObservation: 1\n{F}").error_kind == "syntax"
    # a stray fence is skipped only for a tagged fence whose code parses
    assert parse_step(f"Code:\n{F}py\nfoo bar\n{F}py\nbaz qux\n{F}").error_kind == "syntax"


@pytest.mark.parametrize("raw", ["Thought: I know it.\nFinal Answer: Paris", "The answer is: tennis."])
def test_prose_answer_is_told_how_to_answer(raw: str) -> None:
    """smolagents' parser, too, tells a model that answered in prose to call final_answer in code."""
    step = parse_step(raw)
    assert step.error_kind == "no_code"
    assert step.error is not None and "final answer in prose" in step.error and 'final_answer("' in step.error


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('final_answer = "Paris"', 'final_answer_value = "Paris"'),
        (
            'final_answer = search("x")\nprint(final_answer)\nfinal_answer(final_answer)',
            'final_answer_value = search("x")\nprint(final_answer_value)\nfinal_answer(final_answer_value)',
        ),
        ('answer: str = "é"\nfinal_answer: str = answer\nfinal_answer(final_answer)', None),
        (
            "obj.final_answer = 3\nfinal_answer(obj.final_answer)",
            "obj.final_answer = 3\nfinal_answer(obj.final_answer)",
        ),
        ('final_answer(f"{x} ({y})")', 'final_answer(f"{x} ({y})")'),
    ],
)
def test_assigning_final_answer_does_not_hide_the_tool(code: str, expected: str | None) -> None:
    """``final_answer = x`` would shadow the tool in the episode's namespace (smolagents' fix_final_answer_code)."""
    step = parse_step(f"Thought: t\nCode:\n{F}py\n{code}\n{F}<end_code>")
    assert step.ok
    if expected is None:
        expected = code.replace("final_answer:", "final_answer_value:").replace(
            "(final_answer)", "(final_answer_value)"
        )
    assert step.code == expected


def test_assigned_final_answer_leaves_the_tool_callable_in_a_live_episode() -> None:
    from agentdistill.agent import run_episode
    from agentdistill.agent.replay import ReplayLLM
    from agentdistill.data.task import Task

    steps = [
        f"Thought: t\nCode:\n{F}py\nfinal_answer = 6 * 7\nprint(final_answer)\n{F}<end_code>",
        f"Thought: done\nCode:\n{F}py\nfinal_answer(final_answer_value)\n{F}<end_code>",
    ]
    task = Task(id="m", dataset="unit", kind="math", question="6*7?", answer="42")
    traj = run_episode(task, ReplayLLM(steps), max_steps=3)
    assert traj.status == "answered" and traj.final_answer == 42 and len(traj.steps) == 2
