"""Parser cases from a review of real model outputs against smolagents-style bug reports (2026-11-30): code on
the ``Code:`` line, one-line fenced blocks, fences inside ``<code>`` tags, annotated assignments that look like
narration, prose after an unclosed block, fence info strings; then stray fences, invalid untagged blocks, closing
markers cut by length and smolagents' own log lines (a third review). Each was misparsed before."""

from __future__ import annotations

import pytest

from agentdistill.agent.parse import parse_step

F = "```"

CASES: list[tuple[str, str, str | None, str | None]] = [
    ("code on the label line", "Thought: compute\nCode: final_answer(6*7)", None, "final_answer(6*7)"),
    ("one-line fence after label", f"Thought: t\nCode: {F}py final_answer(42){F}", None, "final_answer(42)"),
    ("one-line fence alone", f"{F}py final_answer(42){F}", None, "final_answer(42)"),
    ("one-line fence of prose is not code", f"Thought: t\n{F}py the answer{F}", "no_code", None),
    ("fence inside <code> tags", f"<code>\n{F}py\nprint(1)\n{F}\n</code>", None, "print(1)"),
    (
        "annotated assignment, unclosed fence",
        f"Code:\n{F}py\nresult: int = 6*7\nfinal_answer(result)\n",
        None,
        "result: int = 6*7\nfinal_answer(result)",
    ),
    (
        "annotated assignment after label",
        "Code:\noutput: str = search('x')",
        None,
        "output: str = search('x')",
    ),
    ("narration 'Result:' still ends the code", f"Code:\n{F}py\nx = 1\nResult: the value", None, "x = 1"),
    (
        "prose after an unclosed block",
        f"Code:\n{F}py\nprint(search('x'))\n\nThis will search for x.",
        None,
        "print(search('x'))",
    ),
    (
        "a block cut by length stays a syntax error",
        f"Code:\n{F}py\nx = 1\n\nfor i in range(3):\n    print(",
        "syntax",
        None,
    ),
    ("fence with a file name", f"Thought: t\nCode:\n{F}python:main.py\nprint(1)\n{F}", None, "print(1)"),
    ("fence with attributes", f"Thought: t\nCode:\n{F}python {{.x}}\nprint(1)\n{F}", None, "print(1)"),
    ("prose on the label line", "Thought: t\nCode: I will now search", "no_code", None),
    # a second review of the rules above: what they must not do
    (
        "narration 'Observation: r = ...' still ends the code",
        f"Code:\n{F}py\nr = search('capital of France')\nprint(r)\nObservation: r = 'Lyon'\nfinal_answer('Lyon')",
        None,
        "r = search('capital of France')\nprint(r)",
    ),
    (
        "narration 'Output: total = 5' between blocks ends the action",
        f"Code:\n{F}py\ntotal = 1\n{F}\nOutput: total = 5\n{F}py\nfinal_answer(total)\n{F}",
        None,
        "total = 1",
    ),
    ("a word on the label line is not code", "Thought: t\nCode: Paris", "no_code", None),
    ("a number on the label line is not code", "Thought: t\nCode: 42", "no_code", None),
    (
        "a fence before an inline label is the action",
        f"Thought: t\nCode:\n{F}py\nx = 2\n{F}\nCode: final_answer(x)",
        None,
        "x = 2",
    ),
    (
        "capitalised code after a blank line is not prose",
        f"Code:\n{F}py\nimport math\n\nPrices = {{\n 'apple': 1.5,\n}}\nfinal_answer(round(tot",
        "syntax",
        None,
    ),
    ("a typo'd keyword is not prose", f"Code:\n{F}py\nx = 1\n\nIf x > 0:\n  print(x)", "syntax", None),
    ("a language glued to the code", f"{F}pyprint(1){F}", "no_code", None),
    (
        "json after a fence is not an info string",
        f'Thought: t\n{F}json {{"a": 1}}\n{F}py\nprint(1)\n{F}',
        None,
        "print(1)",
    ),
    # a third review, against public smolagents bug reports (2026-11-30)
    (
        "stray bare fence before ```py (smolagents#201)",
        f"Thought: t\nCode:\n{F}\n{F}py\nprint(1)\n{F}<end_code>",
        None,
        "print(1)",
    ),
    ("stray ```python before ```py", f"Thought: t\nCode:\n{F}python\n{F}py\nprint(1)\n{F}", None, "print(1)"),
    ("empty py block stays empty", f"Thought: t\nCode:\n{F}py\n{F}", "empty_code", None),
    (
        "an invalid untagged block before a valid one (smolagents#1219)",
        f'Thought:\nxxxx\n{F}\ninvalid code\n{F}\n\n{F}\nprint("valid code")\n{F}',
        None,
        'print("valid code")',
    ),
    (
        "closing tag cut by max_tokens (smolagents#1851)",
        "Thought: t\n<code>\nresult = 2\nfinal_answer(result)\n</code",
        None,
        "result = 2\nfinal_answer(result)",
    ),
    (
        "closing fence cut by max_tokens",
        f"Code:\n{F}py\nx = 2\nfinal_answer(x)\n``",
        None,
        "x = 2\nfinal_answer(x)",
    ),
    (
        "smolagents' 'Calling tools:' log after an unclosed block (smolagents#1703)",
        f"Code:\n{F}py\nprint(1)\nCalling tools:\n[{{'id': 'call_1'}}]",
        None,
        "print(1)",
    ),
    (
        "an Output: line inside a triple-quoted string does not end the code",
        f'Code:\n{F}py\ns = """\nOutput: x\n"""\nprint(s)\n',
        None,
        's = """\nOutput: x\n"""\nprint(s)',
    ),
    (
        "a narration line still ends it",
        f"Code:\n{F}py\nprint(1)\nObservation: the answer is 5",
        None,
        "print(1)",
    ),
    # CommonMark's tilde fence
    (
        "tilde fence",
        "Thought: t\nCode:\n~~~python\nx = 6*7\nfinal_answer(x)\n~~~<end_code>",
        None,
        "x = 6*7\nfinal_answer(x)",
    ),
    ("tilde fence of prose, as with backticks", "Thought: t\n~~~\nthe answer is 42\n~~~", "syntax", None),
]


@pytest.mark.parametrize(("name", "raw", "kind", "code"), CASES, ids=[c[0] for c in CASES])
def test_reviewed_outputs(name: str, raw: str, kind: str | None, code: str | None) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind, (name, step)
    if code is not None:
        assert step.code == code, (name, step)
