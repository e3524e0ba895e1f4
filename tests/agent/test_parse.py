"""Table-driven tests of the lenient step parser on real-looking (and real) model outputs."""

from __future__ import annotations

import pytest

from agentdistill.agent.parse import format_step, parse_step

F = "```"

# (name, raw output, expected error_kind or None, expected code (or substring in code) or None, thought substring)
CASES: list[tuple[str, str, str | None, str | None, str]] = [
    (
        "canonical",
        f"Thought: I need to search.\nCode:\n{F}py\nprint(search('x'))\n{F}<end_code>",
        None,
        "print(search('x'))",
        "I need to search.",
    ),
    (
        "stop-removed end_code",
        f"Thought: look up\nCode:\n{F}py\nr = search('Paris')\nprint(r)\n{F}",
        None,
        "r = search('Paris')\nprint(r)",
        "look up",
    ),
    ("python fence", f"Thought: compute\nCode:\n{F}python\nprint(2+2)\n{F}", None, "print(2+2)", "compute"),
    ("python3 fence", f"Thought: compute\nCode:\n{F}python3\nx = 1\n{F}", None, "x = 1", "compute"),
    ("bare fence", f"Thought: t\nCode:\n{F}\nprint(1)\n{F}", None, "print(1)", "t"),
    (
        "missing Code label",
        f"Thought: I'll search.\n{F}py\nprint(search('a'))\n{F}<end_code>",
        None,
        "print(search('a'))",
        "I'll search.",
    ),
    (
        "no Thought label",
        f"I should compute it.\nCode:\n{F}py\nprint(3*4)\n{F}",
        None,
        "print(3*4)",
        "I should compute it.",
    ),
    (
        "unclosed fence",
        f"Thought: answer\nCode:\n{F}py\nfinal_answer(42)\n",
        None,
        "final_answer(42)",
        "answer",
    ),
    (
        "unclosed fence, chatter after",
        f"Thought: a\nCode:\n{F}py\nprint(1)\nObservation: 1\nThought: done",
        None,
        "print(1)",
        "a",
    ),
    (
        "backticks in thought",
        f"Thought: use `search` with `query='x'`.\nCode:\n{F}py\nprint(search('x'))\n{F}",
        None,
        "print(search('x'))",
        "use `search`",
    ),
    (
        "inline triple backticks in thought",
        f"Thought: call {F}search{F} on it.\nCode:\n{F}py\nprint(search('it'))\n{F}",
        None,
        "print(search('it'))",
        "call",
    ),
    (
        "trailing chatter",
        f"Thought: t\nCode:\n{F}py\nprint(5)\n{F}<end_code>\nThis prints five. Hope it helps!",
        None,
        "print(5)",
        "t",
    ),
    (
        "two blocks: both run",
        f"Thought: t\nCode:\n{F}py\na = 1\n{F}\nand then\n{F}py\nb = 2\n{F}",
        None,
        "a = 1\n\nb = 2",
        "t",
    ),
    (
        "think block",
        f"<think>Let me plan: search first.</think>\nThought: search\nCode:\n{F}py\nprint(search('q'))\n{F}",
        None,
        "print(search('q'))",
        "Let me plan",
    ),
    (
        "unclosed think",
        "<think>I am still reasoning about the question and",
        "no_code",
        None,
        "still reasoning",
    ),
    ("empty", "", "empty", None, ""),
    ("whitespace only", "   \n\n  ", "empty", None, ""),
    ("no code at all", "Thought: The answer is Paris.", "no_code", None, "The answer is Paris."),
    ("plain prose answer", "The capital of France is Paris.", "no_code", None, "Paris"),
    (
        "json-style tool call",
        'Thought: x\n{"name": "search", "arguments": {"query": "x"}}',
        "no_code",
        None,
        "x",
    ),
    ("empty code block", f"Thought: t\nCode:\n{F}py\n\n{F}", "empty_code", None, "t"),
    ("syntax error line 3", f"Thought: t\nCode:\n{F}py\nx = 1\ny = 2\nz = = 3\n{F}", "syntax", None, "t"),
    ("unclosed paren", f"Thought: t\nCode:\n{F}py\nprint(search('a')\n{F}", "syntax", None, "t"),
    ("Code label without fence", "Thought: compute\nCode:\nprint(6*7)\n", None, "print(6*7)", "compute"),
    (
        "Code label without fence, chatter",
        "Thought: c\nCode:\nx = 6*7\nprint(x)\nObservation: 42",
        None,
        "x = 6*7\nprint(x)",
        "c",
    ),
    (
        "indented block",
        f"Thought: t\nCode:\n{F}py\n    x = 1\n    print(x)\n{F}",
        None,
        "x = 1\nprint(x)",
        "t",
    ),
    ("bold labels", f"**Thought:** plan\n**Code:**\n{F}py\nprint(1)\n{F}", None, "print(1)", "plan"),
    ("lowercase labels", f"thought: plan\ncode:\n{F}py\nprint(1)\n{F}", None, "print(1)", "plan"),
    ("CRLF line ends", f"Thought: t\r\nCode:\r\n{F}py\r\nprint(1)\r\n{F}\r\n", None, "print(1)", "t"),
    (
        "non-python fence first",
        f"Thought: t\n{F}text\nsome text\n{F}\nCode:\n{F}py\nprint(2)\n{F}",
        None,
        "print(2)",
        "t",
    ),
    ("only a json fence", f'Thought: t\n{F}json\n{{"a": 1}}\n{F}', "no_code", None, "t"),
    ("end_code inside", f"Thought: t\nCode:\n{F}py\nprint(1)<end_code>\n", None, "print(1)", "t"),
    (
        "multi-line thought",
        f"Thought: First I search.\nThen I answer.\nCode:\n{F}py\nprint(1)\n{F}",
        None,
        "print(1)",
        "Then I answer.",
    ),
    (
        "final answer string",
        f'Thought: done\nCode:\n{F}py\nfinal_answer("Niels Bohr")\n{F}<end_code>',
        None,
        'final_answer("Niels Bohr")',
        "done",
    ),
    (
        "multiline code with loop",
        f"Thought: t\nCode:\n{F}py\nfor q in ['a', 'b']:\n    print(search(q))\n{F}",
        None,
        "for q in ['a', 'b']:\n    print(search(q))",
        "t",
    ),
    ("tab indentation error", f"Thought: t\nCode:\n{F}py\nif True:\nprint(1)\n{F}", "syntax", None, "t"),
    (
        "length-cut in thought",
        "Thought: I will first look up the birth year of Albert Einstein, then the",
        "no_code",
        None,
        "birth year",
    ),
    ("length-cut in code", f"Thought: t\nCode:\n{F}py\nresult = search('Albert Ein", "syntax", None, "t"),
    (
        "repeated Thought label",
        f"Thought: Thought: plan\nCode:\n{F}py\nprint(1)\n{F}",
        None,
        "print(1)",
        "plan",
    ),
    (
        "prefix then repeated label",
        f"Thought: plan first\n\nThought: now code\nCode:\n{F}py\nprint(1)\n{F}",
        None,
        "print(1)",
        "plan first\n\nnow code",
    ),
    (
        "markdown heading before",
        f"### Step 1\nThought: go\nCode:\n{F}py\nprint('go')\n{F}",
        None,
        "print('go')",
        "go",
    ),
    (
        "Python prose in fence is syntax error",
        f"Thought: t\nCode:\n{F}py\nThe answer is 42.\n{F}",
        "syntax",
        None,
        "t",
    ),
    ("nul byte in code", f"Thought: t\nCode:\n{F}py\nprint(1)\x00\n{F}", "syntax", None, "t"),
    (
        "code then Observation hallucinated",
        f"Thought: s\nCode:\n{F}py\nprint(search('Bohr'))\n{F}\nObservation:\nNiels Bohr was born 1885.",
        None,
        "print(search('Bohr'))",
        "s",
    ),
    (
        "web_search paper style",
        f'Thought: I will use web_search.\nCode:\n{F}py\nr = web_search(query="x")\nprint(r)\n{F}<end_code>',
        None,
        'r = web_search(query="x")\nprint(r)',
        "web_search",
    ),
]


@pytest.mark.parametrize(("name", "raw", "kind", "code", "thought"), CASES, ids=[c[0] for c in CASES])
def test_parse_table(name: str, raw: str, kind: str | None, code: str | None, thought: str) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind, (name, step)
    if kind is None:
        assert step.ok and step.error is None
        assert step.code == code
    else:
        assert not step.ok and step.error
    assert thought in step.thought
    assert not step.thought.lower().startswith("thought:")


def test_table_is_large_enough() -> None:
    assert len(CASES) + len(REAL_OUTPUTS) >= 40


def test_syntax_error_names_line() -> None:
    step = parse_step(f"Thought: t\nCode:\n{F}py\nx = 1\ny = 2\nz = = 3\n{F}")
    assert step.error is not None and step.error.startswith("SyntaxError line 3:")
    assert "z = = 3" in step.error


def test_no_code_message_tells_format() -> None:
    step = parse_step("Thought: just words")
    assert step.error is not None
    assert "No code block found" in step.error and "```py" in step.error and "<end_code>" in step.error


def test_format_step_roundtrip() -> None:
    text = format_step("plan it", "x = 1\nprint(x)")
    step = parse_step(text)
    assert step.ok and step.thought == "plan it" and step.code == "x = 1\nprint(x)"


# Outputs generated by the embedded models (SmolLM2-135M at temperature 0.7; Qwen2.5-Coder-0.5B greedy), verbatim.
# (raw continuation, expected error_kind)
REAL_OUTPUTS: list[tuple[str, str | None]] = [
    # Qwen2.5-Coder-0.5B-Instruct (student prompt, greedy), from benchmarks/agent_parse_rate.py
    (
        "Thought: To answer this question, I need to find the descendants of the group of black Indians associated with the Seminole people. The Seminole people are a group of people who settled in the Seminole region of North America, specifically in the United States.\n\nCode:\n```py\n# Python code; print() what you need to see\n```",
        "empty_code",
    ),
    (
        "Thought: To find the descendants of the group of black Indians associated with the Seminole people, I need to find the descendants of the group of black Indians associated with the Seminole people. The Seminole people are a group of people who settled in the Seminole region of North America, specifically in the United States.\n\nCode:\n```py\n# Python code; print() what you need to see\n```",
        "empty_code",
    ),
    (
        "Thought: To find out how many apples Marin and Nancy eat in 30 days, we need to calculate the total number of apples eaten by each person in one day and then multiply that by 30.\nCode:\n```py\n# Calculate the total number of apples eaten by each person in one day\napples_per_person_per_day = 218983\ndays = 30\n\n# Calculate the total number of apples eaten by Marin and Nancy in one day\ntotal_apples_per_day = apples_per_person_per_day * days\n\n# Calculate the total number of apples eaten by Marin and Nancy in 30 days\ntotal_apples_in_30_days = total_apples_per_day * 30\n\n# Print the final answer\nfinal_answer(total_apples_in_30_days)\n```",
        None,
    ),
    (
        'Thought: David Huntsinger has worked with this gospel singer born in the month of July.\nCode:\n```py\n# David Huntsinger has worked with this gospel singer born in the month of July\nprint("David Huntsinger has worked with this gospel singer born in the month of July.")\nfinal_answer("Yes")\n```',
        None,
    ),
    (
        "To determine the total number of square feet in Brittany's quilted comforter, we need to calculate the number of each color square and then sum them up.\n\n1. **Red squares:**\n   - Brittany has 3347396 red squares.\n\n2. **Blue squares:**\n   - The comforter has 4 more blue squares than red squares.\n   - Therefore, the number of blue squares is:\n     \\[\n     3347396 + 4 = 3347440\n     \\]\n\n3. **Green squares:**\n   - The comforter has 6 more green squares than blue squares.\n   - Therefore, the number of green squares is:\n     \\[\n     3347440 + 6 = 3347446\n     \\]\n\n4. **White squares:**\n   - The comforter has 12",
        "no_code",
    ),
    (
        "Thought: To solve this problem, we need to determine how many men can stay upright on the wave given the conditions.\n\n1. **Calculate the number of riders who can stay upright:**\n   - The wave is over 30 feet.\n   - Only 25% of the riders can stay upright.\n   - Number of riders who can stay upright = 0.25 * 5611617\n\n2. **Calculate the number of women who can stay upright:**\n   - 60% of the riders are women.\n   - Number of women who can stay upright = 0.60 * 5611617\n\n3. **Calculate the number of men who can stay upright:**\n   - Subtract the number of women who can stay upright from the number of riders who can stay upright.\n\n4. **Final answer:**\n   - Number of men who can stay upright = Number",
        "no_code",
    ),
    (
        'Thought: To answer this question, I need to search for a song based on the brand of comic character associated with the album "Suicide\'s 1977". \n\nCode:\n```py\nsearch(query: str) -> str:\n    # Search for the song based on the brand of comic character\n    song = search(query: "Suicide\'s 1977")\n    return song\n```',
        "syntax",
    ),
    (
        'Thought: The error is due to the incorrect syntax in the search function. The correct syntax should be `search(query: str) -> str:`. \n\nCode:\n```py\nsearch(query: str) -> str: \n    # Search for the song based on the brand of comic character\n    song = search(query: "Suicide\'s 1977")\n    return song\n```',
        "syntax",
    ),
    # Qwen2.5-Coder-0.5B-Instruct, student prompt, greedy (benchmarks/agent_parse_rate.py, new stop strings):
    # the closing fence ends the code line
    (
        "Thought: To answer this question, we need to find the descendants of the group of black Indians "
        'associated with the Seminole people.\n\nCode:\n```py\nprint(search("what to look up"))```<end_code>',
        None,
    ),
    # SmolLM2-135M-Instruct
    ("Albert Einstein was born in Germany, while Niels Bohr was born in Denmark.", "no_code"),
    ("Your input is corrected. The capital of France is Paris.", "no_code"),
    ("The capital of the country where the Eiffel Tower is is Paris.", "no_code"),
    (
        'Write the code snippet to calculate 12 * 37 + 5.\n```python\ndef add_five():\n    return 12 + 37\n\nresult = add_five()\nprint(f"The result of adding 12 and 37 is: {result}")\n```',
        None,
    ),
    ("12 * 37 + 5 = 50 + 5 = 55.", "no_code"),
    (
        "No answer. Continue to the next task:\nTasks:\n- Write a Python code that finds the length of the shortest path between a given starting point and a given destination point.",
        "no_code",
    ),
    ("If Janet buys 17 more, she has 3 + 5 = 8 apples remaining.\n#### 8\nThe answer is: 8", "no_code"),
    ("12 * 37 + 5 = 425.", "no_code"),
]


@pytest.mark.parametrize(("raw", "kind"), REAL_OUTPUTS)
def test_real_model_outputs(raw: str, kind: str | None) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind
    if kind is None:
        compile(step.code, "<code>", "exec")


# Issue 13 §1: the action is found by the format's structure and by whether it parses, not by the first fence.
ISSUE_CASES: list[tuple[str, str, str | None, str | None, int]] = [
    # (name, raw, error_kind, code, n_blocks)
    (
        "fence in thought before Code:",
        f"Thought: for example\n{F}\ny = 0\n{F}\nCode:\n{F}py\nfinal_answer(4)\n{F}<end_code>",
        None,
        "final_answer(4)",
        1,
    ),
    (
        "python-tagged fence in thought before Code:",
        f"Thought: e.g.\n{F}python\nprint('hi')\n{F}\nso now\nCode:\n{F}py\nfinal_answer(1)\n{F}<end_code>",
        None,
        "final_answer(1)",
        1,
    ),
    (
        "two py blocks after Code:",
        f"Thought: t\nCode:\n{F}py\nx = 2\n{F}\n{F}py\nfinal_answer(x * 2)\n{F}<end_code>",
        None,
        "x = 2\n\nfinal_answer(x * 2)",
        2,
    ),
    (
        "three blocks, mixed tags",
        f"Code:\n{F}python\na = 1\n{F}\n{F}\nb = a + 1\n{F}\n{F}py\nfinal_answer(b)\n{F}",
        None,
        "a = 1\n\nb = a + 1\n\nfinal_answer(b)",
        3,
    ),
    ("bare final_answer", "final_answer(2+2)", None, "final_answer(2+2)", 1),
    ("bare multi-line code", "x = 3\nfinal_answer(x ** 2)", None, "x = 3\nfinal_answer(x ** 2)", 1),
    ("thought line then bare code", "Thought: add them\nprint(2 + 3)", None, "print(2 + 3)", 1),
    (
        "fence line inside a string literal",
        f'Thought: t\nCode:\n{F}py\ns = """\n{F}\n"""\nfinal_answer(len(s))\n{F}<end_code>',
        None,
        f's = """\n{F}\n"""\nfinal_answer(len(s))',
        1,
    ),
    (
        "think block containing a code block",
        f"<think>Maybe\n{F}py\nfinal_answer(3)\n{F}\nno.</think>\nThought: t\nCode:\n{F}py\nfinal_answer(5)\n{F}",
        None,
        "final_answer(5)",
        1,
    ),
    (
        "think block missing its opening tag",
        f"I could do\n{F}py\nfinal_answer(3)\n{F}\nbut no.\n</think>\nThought: t\nCode:\n{F}py\nfinal_answer(5)\n{F}",
        None,
        "final_answer(5)",
        1,
    ),
    (
        "only reasoning, missing opening tag",
        f"Let me try\n{F}py\nfinal_answer(3)\n{F}\n</think>",
        "no_code",
        None,
        0,
    ),
    ("unclosed think with code inside", f"<think>perhaps\n{F}py\nfinal_answer(3)\n{F}", "no_code", None, 0),
    (
        "<code> tags after Code:",
        "Thought: t\nCode:\n<code>\nfinal_answer(7)\n</code>",
        None,
        "final_answer(7)",
        1,
    ),
    ("<code> tags without label", "Thought: t\n<code>\nx = 1\nprint(x)\n</code>", None, "x = 1\nprint(x)", 1),
    (
        "inline <code> in thought is not the action",
        f"Thought: I call <code>search</code> now.\nCode:\n{F}py\nprint(search('a'))\n{F}",
        None,
        "print(search('a'))",
        1,
    ),
    (
        "py tag preferred over bare fence without label",
        f"Thought: e.g.\n{F}\ny = 0\n{F}\nthen\n{F}py\nfinal_answer(9)\n{F}",
        None,
        "final_answer(9)",
        1,
    ),
    (
        "Action: JSON",
        'Thought: search it\nAction: {"name": "search", "arguments": {"query": "x"}}',
        "no_code",
        None,
        0,
    ),
    (
        "json fence",
        f'Thought: t\nAction:\n{F}json\n{{"name": "final_answer", "arguments": 4}}\n{F}',
        "no_code",
        None,
        0,
    ),
    (
        "fence opened on the Code: line",
        f"Thought: t\nCode: {F}py\nfinal_answer(1)\n{F}",
        None,
        "final_answer(1)",
        1,
    ),
    (
        "fence opened at the end of the thought",
        f"Thought: I add. {F}python\nprint(1 + 1)\n{F}",
        None,
        "print(1 + 1)",
        1,
    ),
    ("fence closing the last code line", f"Code:\n{F}py\nx = 1\nprint(x){F}", None, "x = 1\nprint(x)", 1),
    (
        "fence closing a code line, then a block",
        f"Code:\n{F}py\nx = 1{F}\n{F}py\nfinal_answer(x){F}",
        None,
        "x = 1\n\nfinal_answer(x)",
        2,
    ),
    ("closing fence with text after it", f"Code:\n{F}py\nprint(3)\n{F} that's it", None, "print(3)", 1),
    ("bare JSON dict is not run", '{"name": "search", "arguments": {"query": "x"}}', "no_code", None, 0),
    ("bare word that parses is not run", "Paris", "no_code", None, 0),
    ("bare number is not run", "42", "no_code", None, 0),
    (
        "text after end_code is ignored",
        f"Thought: t\nCode:\n{F}py\nprint(1)\n{F}<end_code>\nCode:\n{F}py\nprint(2)\n{F}",
        None,
        "print(1)",
        1,
    ),
    (
        "hallucinated next step not joined",
        f"Code:\n{F}py\nprint(1)\n{F}\nObservation: 1\nThought: next\nCode:\n{F}py\nprint(2)\n{F}",
        None,
        "print(1)",
        1,
    ),
    (
        "output block between py blocks ends the action",
        f"Code:\n{F}py\nprint(1)\n{F}\n{F}output\n1\n{F}\n{F}py\nprint(2)\n{F}",
        None,
        "print(1)",
        1,
    ),
    ("second block has a syntax error", f"Code:\n{F}py\nx = 1\n{F}\n{F}py\ny = = 2\n{F}", "syntax", None, 2),
    (
        "inline fenced code after label",
        "Thought: t\nCode:\n```final_answer(4)```",
        None,
        "final_answer(4)",
        1,
    ),
]


@pytest.mark.parametrize(
    ("name", "raw", "kind", "code", "n_blocks"), ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES]
)
def test_issue_cases(name: str, raw: str, kind: str | None, code: str | None, n_blocks: int) -> None:
    step = parse_step(raw)
    assert step.error_kind == kind, (name, step)
    assert step.n_blocks == n_blocks, (name, step)
    if kind is None:
        assert step.code == code
    assert "final_answer(3)" not in step.code  # reasoning is never the action


def test_error_messages_name_the_problem() -> None:
    assert "JSON/tool-call" in (parse_step('Action: {"name": "search", "arguments": {}}').error or "")
    assert "only reasoning" in (parse_step("<think>hmm, let me think").error or "")
    step = parse_step(f"Code:\n{F}py\nx = 1\n{F}\n{F}py\ny = = 2\n{F}")
    assert step.error is not None and step.error.startswith("code block 2 of 2: SyntaxError line 1")


def test_step_stop_is_the_end_marker_not_a_fence() -> None:
    from agentdistill.agent.prompts import STEP_STOP
    from agentdistill.llm.stops import truncate_at_stop

    # a live step: the thought's example fence must not end generation before the real code
    live = f"Thought: for example\n{F}\ny = 0\n{F}\nCode:\n{F}py\nfinal_answer(4)\n{F}<end_code>\nmore"
    kept, stop = truncate_at_stop(live, STEP_STOP)
    assert stop == "<end_code>" and kept.endswith(f"final_answer(4)\n{F}")
    assert parse_step(kept).code == "final_answer(4)"
    in_string = f'Code:\n{F}py\nprint("a fence:\\n{F}\\n")\n{F}\nprint("Observation: fine")\n'
    assert truncate_at_stop(in_string, STEP_STOP) == (in_string, None)
    assert truncate_at_stop("print(1)\n```\nObservation: 1", STEP_STOP)[1] == "\nObservation:"


@pytest.mark.parametrize(
    "raw",
    [
        f"Thought: for example\n{F}\ny = 0\n{F}\nCode:\n{F}py\nfinal_answer(4)\n{F}<end_code>",
        f"Thought: t\nCode:\n{F}py\nx = 2\n{F}\n{F}py\nfinal_answer(x * 2)\n{F}<end_code>",
        "final_answer(2+2)",
    ],
    ids=["fence in thought", "two blocks", "bare call"],
)
def test_issue_cases_answer_in_a_live_episode(raw: str) -> None:
    """The issue's three cases through the loop (stop strings, parser, sandbox): each answers 4 in one step."""
    from agentdistill.agent import run_episode
    from agentdistill.agent.replay import ReplayLLM
    from agentdistill.data.task import Task

    task = Task(id="m", dataset="unit", kind="math", question="2+2?", answer="4")
    traj = run_episode(task, ReplayLLM([raw]), max_steps=2)
    assert traj.status == "answered" and traj.final_answer == 4 and len(traj.steps) == 1
