"""Lenient parsing of one agent step (``Thought: … Code: ```py … ```<end_code>``).

Small models break the format in predictable ways: no ``Code:`` label, a ```` ```python ```` fence, an unclosed
fence, backticks in the thought, chatter after the code, ``<think>`` blocks. We accept all of these when the
intent is unambiguous, and otherwise return a precise, model-readable error so the failure costs one step
and teaches the model what to fix.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Literal

ParseErrorKind = Literal["empty", "no_code", "empty_code", "syntax"]

FORMAT_REMINDER = (
    "Write your step as 'Thought: ...' then 'Code:' and one ```py code block ending with ```<end_code>."
)

# An opening fence at the start of a line; the language tag is optional (py, python, python3, …).
_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*(?:\n|$)", re.MULTILINE)
_CLOSE_FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)
_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_THOUGHT_LABEL = re.compile(r"^\s*(?:\*\*)?thoughts?(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_CODE_LABEL = re.compile(r"(?:^|\n)[ \t]*(?:\*\*)?code(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*(?:\n|$)", re.IGNORECASE)
_CODE_LABEL_TAIL = re.compile(r"\n?[ \t]*(?:\*\*)?code(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*$", re.IGNORECASE)
# Lines that end an unclosed code block: the model moved on to narrating.
_CHATTER = re.compile(r"^\s*(?:Observation|Thought|Output|Result)s?\s*:", re.IGNORECASE | re.MULTILINE)
_PY_TAGS = {"", "py", "python", "python3", "py3", "ipython", "pycon"}


@dataclass
class ParsedStep:
    """The parts of one step. ``error_kind`` is None when ``code`` is ready to run."""

    thought: str
    code: str
    error_kind: ParseErrorKind | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def _fail(thought: str, code: str, kind: ParseErrorKind, message: str) -> ParsedStep:
    return ParsedStep(thought=thought, code=code, error_kind=kind, error=message)


_INNER_THOUGHT_LABEL = re.compile(r"^[ \t]*(?:\*\*)?thoughts?(?:\*\*)?[ \t]*:[ \t]*(?:\*\*)?", re.IGNORECASE | re.MULTILINE)


def _clean_thought(text: str) -> str:
    """Thought text without labels (a model continuing a first-thought prefix often repeats 'Thought:')."""
    text = _CODE_LABEL_TAIL.sub("", text.strip())
    text = _THOUGHT_LABEL.sub("", text, count=1)
    text = _INNER_THOUGHT_LABEL.sub("", text)
    return text.strip()


def _find_code_block(text: str) -> tuple[int, int, str, bool] | None:
    """(start of fence, end of block, code, closed) for the first Python fence, else None.

    Fences are paired in order, so the closing fence of a non-Python block is never taken as an opening one.
    """
    pos = 0
    while True:
        match = _OPEN_FENCE.search(text, pos)
        if match is None:
            return None
        body_start = match.end()
        close = _CLOSE_FENCE.search(text, body_start)
        if match.group(1).lower() not in _PY_TAGS:
            if close is None:
                return None
            pos = close.end()
            continue
        if close is None:
            body = text[body_start:]
            chatter = _CHATTER.search(body)
            if chatter:
                body = body[: chatter.start()]
            return match.start(), len(text), body, False
        return match.start(), close.end(), text[body_start : close.start()], True


def _syntax_error(code: str) -> str | None:
    try:
        compile(code, "<code>", "exec")
    except SyntaxError as exc:
        where = f" line {exc.lineno}" if exc.lineno else ""
        line = (exc.text or "").rstrip("\n")
        detail = f"\n    {line.strip()}" if line.strip() else ""
        return f"SyntaxError{where}: {exc.msg}{detail}"
    except ValueError as exc:  # e.g. null bytes in the source
        return f"SyntaxError: {exc}"
    return None


def parse_step(text: str) -> ParsedStep:
    """Split a raw assistant step into thought and code, or say precisely what is wrong with it."""
    text = text.replace("\r\n", "\n").replace("<end_code>", "")
    # <think> blocks are reasoning: keep their content as part of the thought, never as code.
    think = " ".join(m.strip() for m in _THINK_BLOCK.findall(text))
    text = _THINK_BLOCK.sub("", text)
    if re.search(r"<think>", text, re.IGNORECASE):  # unclosed: everything after it is still thinking
        head, _, tail = re.split(r"(<think>)", text, maxsplit=1, flags=re.IGNORECASE)
        think = (think + " " + tail).strip()
        text = head
    if not text.strip() and not think:
        return _fail("", "", "empty", f"Your step was empty. {FORMAT_REMINDER}")

    block = _find_code_block(text)
    if block is not None:
        start, _end, code, _closed = block
        thought = _clean_thought(text[:start])
    else:
        label = _CODE_LABEL.search(text)
        if label is None:
            thought = _clean_thought(text)
            thought = (think + "\n" + thought).strip() if think else thought
            return _fail(thought, "", "no_code", f"No code block found. {FORMAT_REMINDER}")
        thought = _clean_thought(text[: label.start()])
        code = text[label.end() :]
        chatter = _CHATTER.search(code)
        if chatter:
            code = code[: chatter.start()]
    if think:
        thought = (think + "\n" + thought).strip()

    code = textwrap.dedent(code).strip("\n").rstrip()
    if not code.strip():
        return _fail(thought, "", "empty_code", f"The code block is empty. {FORMAT_REMINDER}")
    problem = _syntax_error(code)
    if problem is not None:
        return _fail(thought, code, "syntax", problem)
    if not ast.parse(code).body:  # only comments (small models copy the prompt's placeholder comment)
        return _fail(thought, code, "empty_code", f"The code block has only comments, no statements. {FORMAT_REMINDER}")
    return ParsedStep(thought=thought, code=code)


def format_step(thought: str, code: str) -> str:
    """The canonical text of a step (what a well-behaved model writes)."""
    return f"Thought: {thought.strip()}\nCode:\n```py\n{code.strip()}\n```<end_code>"
