"""The parser is linear in its input: megabyte outputs of every shape that once took quadratic (or worse) time
finish, and the compile work a parse does stays proportional to the input's length."""

from __future__ import annotations

import builtins
import signal

import pytest

from agentdistill.agent.parse import parse_step

F = "```"
MB = 1_000_000

# Each of these took minutes to hours at 1 MB before (seconds at 5 KB): catastrophic regex backtracking over
# runs of blanks, a rescan of every later line per opening fence, a trial compile per suffix or per candidate.
SHAPES: dict[str, str] = {
    "newlines after a thought": "Thought: x" + "\n" * MB + "y",
    "blanks on one line": "Thought: x " + " " * MB + "y",
    "blank lines before narration": "Code:\n" + " \n" * (MB // 2) + "Observation",
    "many bare fences": (F + "\nx\n") * (MB // 6),
    "fence lines only": (F + "\n") * (MB // 4),
    "many blocks that never parse": (F + "py\nx = (\n" + F + "\n") * (MB // 13),
    "narration in an unclosed block": f"Code:\n{F}py\n" + "x = (\nObservation: y\n" * (MB // 22),
    "prose in an unclosed block": f"Code:\n{F}py\nx = (\n" + "\nThis is prose here\n" * (MB // 20),
    "thought then lines of words": "Thought: t\n" + "x y\n" * (MB // 4),
    "unclosed think tags": "<think>" * (MB // 7),
    "one-line fence with blanks": f"{F}py x" + " " * MB + "y",
    "long valid code": f"Thought: t\nCode:\n{F}py\n" + "x = 1\n" * (MB // 6) + F,
    "long unclosed code": f"Thought: t\nCode:\n{F}py\n" + "x = 1\n" * (MB // 6),
}


@pytest.fixture
def compiled_chars(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the characters of source the parser hands to ``compile``."""
    total = [0]
    real = builtins.compile

    def counting(source, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if isinstance(source, str):
            total[0] += len(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting)
    return total


@pytest.mark.parametrize("name", list(SHAPES))
def test_megabyte_input_parses_in_linear_work(name: str, compiled_chars: list[int]) -> None:
    text = SHAPES[name]

    def hung(*_: object) -> None:
        raise TimeoutError(f"{name}: parse_step did not finish")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)  # a hang guard, not a speed measurement: a quadratic parse takes hours here
    try:
        step = parse_step(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert step.error_kind in {None, "no_code", "syntax", "empty_code"}
    assert compiled_chars[0] <= 2_000_000 + 12 * len(text), (name, compiled_chars[0])


def test_small_inputs_are_parsed_exactly_as_before_the_budget() -> None:
    """The budget only bounds huge inputs: a real-sized step still tries every fence that could close it."""
    body = "\n".join(f's{k} = """\n{F}\n"""' for k in range(40))
    step = parse_step(f"Thought: t\nCode:\n{F}py\n{body}\nfinal_answer(1)\n{F}<end_code>")
    assert step.ok and step.code.endswith("final_answer(1)") and step.code.count(F) == 40
