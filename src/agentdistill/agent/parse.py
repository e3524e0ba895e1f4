"""Parsing of one agent step (``Thought: … Code: ```py … ```<end_code>``) by the format's structure.

A step ends at the format's own end marker ``<end_code>`` (``STEP_STOP``: also a hallucinated
``\\nObservation:`` line, as in smolagents, which the paper's code builds on) — never at a closing fence, which
may sit in the thought or inside a string literal. The action is the code block(s) after the ``Code:`` label:
several blocks are run in order as one action (``ParsedStep.n_blocks`` says how many). Fences are paired by
whether the body parses as Python, so a fence line inside a triple-quoted string does not end the block.
Without a label, the Python blocks are the action (explicitly tagged ones first); a bare reply that parses as
Python as a whole and does something (a call, an assignment, …) is run as it is.

What is never the action: reasoning (``<think>…</think>``, also an unclosed ``<think>`` or a ``</think>`` whose
opening tag was in the prompt) — kept as thought; non-Python blocks (```` ```json ````, ```` ```text ````);
JSON tool calls; prose that happens to parse (``Paris``). ``<code>…</code>`` (newer smolagents markup) is a
code block like a fence (a fence inside the tags is the block). Code may sit on the ``Code:`` line itself, a block on
one line (```` ```py final_answer(42)``` ````); prose after an unclosed block is cut when the code before it
parses, and ``result: int = 6*7`` is code, not a 'Result:' narration line. Failures keep one of four kinds (``PARSE_ERROR_KINDS``) with a precise, model-readable
message, so a failure costs one step and teaches the model what to fix.
"""

from __future__ import annotations

import ast
import bisect
import re
import textwrap
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

ParseErrorKind = Literal["empty", "no_code", "empty_code", "syntax"]
PARSE_ERROR_KINDS: frozenset[str] = frozenset({"empty", "no_code", "empty_code", "syntax"})

END_CODE = "<end_code>"
# Stop strings that end a step: the format's end marker and a hallucinated observation line. No fence: a
# closing fence in the thought or in a string literal must not end the step before its code is written.
STEP_STOP: tuple[str, ...] = (END_CODE, "\nObservation:")

FORMAT_REMINDER = (
    "Write your step as 'Thought: ...' then 'Code:' and one ```py code block ending with ```<end_code>."
)

_FENCE_LINE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)(?::[^\s`]*|[ \t]*\{[.#][^}\n]*\})?[ \t]*\n?$"
)  # an opening (maybe bare) fence line; "```python:main.py" and "```python {.x}" name the language too
# a whole block on one line: "```py final_answer(42)```"
_ONE_LINE_FENCE = re.compile(r"^[ \t]*```(?:(py|python3?|py3)[ \t]+|[ \t]*)(\S(?:.*?\S)?)[ \t]*```[ \t]*\n?$")
_BARE_FENCE_LINE = re.compile(
    r"^[ \t]*```(?![A-Za-z0-9_`]|/?end[_ -]?code\b)|^[ \t]*```/?end[_ -]?code\b", re.IGNORECASE
)  # a line that can close a block ("``` done" and a misspelled end marker, "```end_code>", too)
_TILDE_FENCE = re.compile(r"(?m)^([ \t]*)~~~+")
_LONG_FENCE = re.compile(r"(?m)^([ \t]*)````+")
_TAIL_FENCE = re.compile(r"(?<=\S)[ \t]*```[ \t]*\n?$")  # a fence closing the block at the end of a code line
# A fence opened at the end of a label or thought line ("Code: ```py"): put it on its own line.
_LATE_OPEN = re.compile(r"(?im)^([^\n`]*\S)[ \t]*(```[ \t]*(?:py|python3?|py3)?[ \t]*)$")
_CODE_TAG = re.compile(r"<code>[ \t]*\n?(.*?)(?:</code>|\Z)", re.DOTALL | re.IGNORECASE)
_REASONING_TAGS = r"think|thinking|reasoning|reflection"
_REASON_NAMED_OPEN = re.compile(rf"<({_REASONING_TAGS})>", re.IGNORECASE)
_REASON_OPEN = re.compile(rf"<(?:{_REASONING_TAGS})>", re.IGNORECASE)
_REASON_CLOSE = re.compile(rf"</(?:{_REASONING_TAGS})>", re.IGNORECASE)
_THOUGHT_LABEL = re.compile(r"^\s*(?:\*\*)?thoughts?(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_INNER_THOUGHT_LABEL = re.compile(r"^[ \t]*(?:\*\*)?thoughts?(?:\*\*)?[ \t]*:[ \t]*(?:\*\*)?", re.I | re.M)
_CODE_LABEL = re.compile(r"(?:^|\n)[ \t]*(?:\*\*)?code(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*(?:\n|$)", re.IGNORECASE)
_CODE_LABEL_INLINE = re.compile(  # "Code: final_answer(6*7)": the code on the label's own line
    r"(?:^|\n)[ \t]*(?:\*\*)?code(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*(?=\S)", re.IGNORECASE
)
_INLINE_FENCED = re.compile(r"\s*(`{1,3})(?:py(?:thon)?\s)?(.*?)\1\s*", re.DOTALL)
_CODE_LABEL_TAIL = re.compile(
    r"(?:\*\*)?code(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*\Z", re.IGNORECASE
)  # on stripped text
# Lines that end the action: the model moved on to narrating (a hallucinated observation or next step).
_CHATTER = re.compile(
    r"^[ \t]*(?:Observation|Thought|Output|Result|Calling tool)s?\s*:", re.IGNORECASE | re.MULTILINE
)  # "Calling tools:" is smolagents' own log line (smolagents#1703)
# the start of a closing marker cut off by max_tokens ("</co", "``") at the very end of an unclosed block
_PARTIAL_CLOSE = re.compile(
    r"\n[ \t]*(?:<(?:/(?:c(?:o(?:d(?:e)?)?)?)?)?|`{1,2}|`{0,3}<?/?e(?:n(?:d(?:[_ -]?(?:c(?:o(?:d(?:e)?)?)?)?)?)?)?>?)[ \t]*$",
    re.IGNORECASE,
)  # ... or of the end marker, cut or misspelled ("<end_co", "</end_code>", "<endcode>", "```end_code>")
# prose after an unclosed block: a capitalised sentence of three or more words, after a blank line
_PROSE_LINE = re.compile(r"^[A-Z][a-z']+(?:[ \t]+[^\s=()\[\]{}:]+){2,}[ \t]*$")  # no code marks
_TOOL_CALL = re.compile(r"(?:^|\n)[ \t]*Action\s*:|<tool_call>|\"(?:name|tool|action)\"\s*:", re.IGNORECASE)
_PROSE_ANSWER = re.compile(r"\b(?:final[ _]answer|the answer is)\b", re.IGNORECASE)
_PY_TAGS = {"", "py", "python", "python3", "py3", "ipython", "pycon", "<code>"}
# Statements that make a bare reply an action; an expression statement counts only if it calls something.
_ACTION_STMTS = (
    ast.Assign,
    ast.AugAssign,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.Try,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.Return,
    ast.Delete,
    ast.Assert,
)


# Trial syntax checks (which fence closes a block, where code ends and prose begins) cost a compile each; one
# parse may spend this many characters of them, so any input parses in linear time. Real steps (a few KB) never
# reach the floor; past it, the rules fall back to their first choice.
_TRIAL_FLOOR = 1_000_000
_TRIAL_PER_CHAR = 4


class _Trials:
    """The trial budget of one parse and the syntax verdicts it has already paid for."""

    def __init__(self, text: str):
        self.left = _TRIAL_FLOOR + _TRIAL_PER_CHAR * len(text)
        self.seen: dict[str, str | None] = {}


_TRIALS: ContextVar[_Trials | None] = ContextVar("agentdistill_parse_trials", default=None)


@dataclass
class ParsedStep:
    """The parts of one step. ``error_kind`` is None when ``code`` is ready to run.

    ``n_blocks``: how many code blocks were joined (in order, blank line between) into ``code``; ``source``:
    where the code came from ("fence", "tag" for ``<code>``, "label" for unfenced code after ``Code:``,
    "bare" for a whole reply that parses as Python, "" when none).
    """

    thought: str
    code: str
    error_kind: ParseErrorKind | None = None
    error: str | None = None
    n_blocks: int = 0
    source: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None


@dataclass
class _Block:
    start: int  # offset of the opening marker
    end: int  # offset just after the closing marker (len(text) when unclosed)
    body: str
    lang: str  # fence language ("" bare) or "<code>"

    @property
    def python(self) -> bool:
        return self.lang in _PY_TAGS


def _fail(thought: str, code: str, kind: ParseErrorKind, message: str, **extra: object) -> ParsedStep:
    return ParsedStep(thought=thought, code=code, error_kind=kind, error=message, **extra)  # type: ignore[arg-type]


def _clean_thought(text: str) -> str:
    """Thought text without labels (a model continuing a first-thought prefix often repeats 'Thought:')."""
    text = text.strip()
    tail = _CODE_LABEL_TAIL.search(text)
    if tail is not None:  # a trailing 'Code:' label, with the blanks and one line break before it
        text = text[: tail.start()].rstrip(" \t")
        text = text[:-1] if text.endswith("\n") else text
    text = _THOUGHT_LABEL.sub("", text, count=1)
    text = _INNER_THOUGHT_LABEL.sub("", text)
    return text.strip()


def _syntax_error(code: str) -> str | None:
    trials = _TRIALS.get()
    if trials is None:
        return _compile_error(code)
    if code not in trials.seen:
        trials.seen[code] = _compile_error(code)
    return trials.seen[code]


def _compile_error(code: str) -> str | None:
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


def _tidy(code: str) -> str:
    return textwrap.dedent(code).strip("\n").rstrip()


def _trials_left(spend: int = 0) -> bool:
    """True while this parse's trial budget lasts (``spend``: characters of work to pay first)."""
    trials = _TRIALS.get()
    if trials is None:
        return True
    trials.left -= spend
    return trials.left > 0


def _parses(code: str) -> bool:
    """A trial syntax check, paid from this parse's budget; False once the budget is spent."""
    trials = _TRIALS.get()
    if trials is not None:
        if trials.left <= 0:
            return False
        trials.left -= len(code) + 64  # a verdict already known costs as much: the code was built to ask
    return _syntax_error(code) is None


def _split_reasoning(text: str) -> tuple[str, str]:
    """(text without reasoning, reasoning). Closed blocks, an unclosed opening tag (the rest is reasoning)
    and a closing tag without its opening (chat templates put ``<think>`` in the prompt) are all handled."""
    parts, kept, pos, unclosed = [], [], 0, set()
    for m in _REASON_NAMED_OPEN.finditer(text):  # closed blocks, each up to the first closing tag of its name
        name = m.group(1).lower()
        if m.start() < pos or name in unclosed:
            continue
        close = re.compile(rf"</{name}>", re.IGNORECASE).search(text, m.end())
        if close is None:
            unclosed.add(name)  # no later opening tag of this name closes either
            continue
        parts.append(text[m.end() : close.start()].strip())
        kept.append(text[pos : m.start()])
        pos = close.end()
    text = "".join(kept) + text[pos:]
    close = next(reversed(list(_REASON_CLOSE.finditer(text))), None)
    if close is not None:  # everything before a stray closing tag was reasoning
        parts.insert(0, _REASON_OPEN.sub("", text[: close.start()]).strip())
        text = text[close.end() :]
    opened = _REASON_OPEN.search(text)
    if opened is not None:  # unclosed: everything after it is still reasoning (cut by length)
        parts.append(text[opened.end() :].strip())
        text = text[: opened.start()]
    return text, "\n".join(p for p in parts if p)


_TYPE_NAMES = {"int", "float", "str", "bool", "list", "dict", "tuple", "set", "complex", "object", "Any"}


def _is_annotated_assignment(line: str) -> bool:
    """``result: int = 6*7`` is code, not a 'Result:' narration line: a lower-case name annotated with a type
    (``Observation: r = 'Lyon'`` and ``Output: total = 5`` parse too, but are narration)."""
    try:
        body = ast.parse(line.strip()).body
    except (SyntaxError, ValueError):
        return False
    if len(body) != 1 or not isinstance(body[0], ast.AnnAssign) or body[0].value is None:
        return False
    target, note = body[0].target, body[0].annotation
    note = note.value if isinstance(note, ast.Subscript) else note
    return (
        isinstance(target, ast.Name)
        and target.id.islower()
        and isinstance(note, ast.Name | ast.Attribute)
        and (note.id if isinstance(note, ast.Name) else note.attr) in _TYPE_NAMES
    )


def _chatter_lines(text: str) -> list[re.Match[str]]:
    """Narration lines (a hallucinated observation, thought, output), annotated assignments excepted."""
    out = []
    for m in _CHATTER.finditer(text):
        end = text.find("\n", m.start())
        if not _is_annotated_assignment(text[m.start() : len(text) if end < 0 else end]):
            out.append(m)
    return out


def _cut_at_chatter(body: str) -> str:
    """An unclosed block up to narration: at the first narration line before which the code parses (an
    ``Output:`` line inside a triple-quoted string is not one), else the whole body if it parses, else the first."""
    chatter = _chatter_lines(body)
    if not chatter:
        return body
    for m in chatter:
        if _parses(_tidy(body[: m.start()])):
            return body[: m.start()]
        if not _trials_left():
            break
    return body if _parses(_tidy(body)) else body[: chatter[0].start()]


def _unclosed_body(body: str, python: bool) -> str:
    """The body of a block cut by length or by a stop string: a partial closing marker dropped, then cut at
    narration and before trailing prose (Python blocks)."""
    body = _PARTIAL_CLOSE.sub("", body)
    return _cut_trailing_prose(_cut_at_chatter(body)) if python else _cut_at_chatter(body)


def _cut_trailing_prose(body: str) -> str:
    """An unclosed block that does not parse, cut before a paragraph of prose after a blank line when what
    comes before it parses ("print(x)\n\nThis will search for x.")."""
    if _parses(_tidy(body)):
        return body
    lines = body.splitlines(keepends=True)
    at = 0  # offset of lines[k] in body
    for k in range(1, len(lines)):
        at += len(lines[k - 1])
        if not _trials_left():
            break
        if lines[k - 1].strip() or not _PROSE_LINE.match(lines[k]) or _parses(lines[k].strip()):
            continue
        head = body[:at]
        if head.strip() and _parses(_tidy(head)):
            return head
    return body


_MAX_CLOSES = 64  # close candidates tried per block


def _restart(lines: list[str], i: int, end: int, parses: Callable[[int], bool]) -> int | None:
    """The line of a tagged Python opening fence inside the block opened at line ``i`` (before line ``end``)
    from which the block parses: the model opened a fence, then wrote its step again ("Thought: ... Code:
    ```py ..."). None when there is none (the block stays as it is)."""
    for k in range(i + 1, min(end, len(lines))):
        if not _trials_left(len(lines[k])):
            return None
        m = _FENCE_LINE.match(lines[k])
        if m is not None and m.group(1).lower() in _PY_TAGS - {""} and parses(k):
            return k
    return None


def _fence_blocks(text: str) -> list[_Block]:
    """Fenced blocks in order. A block closes at a bare fence line, or at a fence ending a code line
    (``print(x)```)``; a Python block at the first such close after which its body parses (so a fence line
    inside a string literal does not close it), else at the first bare fence line (else the first tail)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    bare_at = [j for j, line in enumerate(lines) if _BARE_FENCE_LINE.match(line)]
    close_at = [j for j, line in enumerate(lines) if _BARE_FENCE_LINE.match(line) or _TAIL_FENCE.search(line)]

    def body(i: int, j: int) -> str:  # the body of a block opened at line i and closed at line j
        if _BARE_FENCE_LINE.match(lines[j]):
            return text[offsets[i + 1] : offsets[j]]
        return text[offsets[i + 1] : offsets[j]] + _TAIL_FENCE.sub("", lines[j])

    out: list[_Block] = []
    i = 0
    while i < len(lines):
        one = _ONE_LINE_FENCE.match(lines[i])
        glued = one is not None and not one.group(1) and re.match(r"(?:py|python3?|py3)\w", one.group(2))
        if one is not None and not glued and _is_action(one.group(2)):
            out.append(_Block(offsets[i], offsets[i + 1], one.group(2), (one.group(1) or "").lower()))
            i += 1
            continue
        m = _FENCE_LINE.match(lines[i])
        after = _FENCE_LINE.match(lines[i + 1]) if m is not None and i + 1 < len(lines) else None
        if m is None or (after is not None and after.group(1) and m.group(1).lower() in _PY_TAGS):
            i += 1  # not a fence, or a stray opening fence right before the real one ("```" then "```py")
            continue
        lang = m.group(1).lower()
        first = bisect.bisect_right(close_at, i)
        closes = close_at[first : first + _MAX_CLOSES]  # lines that can close the block
        first_bare = bisect.bisect_right(bare_at, i)
        chosen = bare_at[first_bare] if first_bare < len(bare_at) else (closes[0] if closes else None)
        if closes and lang in _PY_TAGS and (chosen is None or not _parses(_tidy(body(i, chosen)))):
            chosen = next((j for j in closes if _trials_left() and _parses(_tidy(body(i, j)))), chosen)
        if chosen is None:  # unclosed (cut by length or by the stop string): up to narration, if any
            if lang in _PY_TAGS and not _parses(_tidy(text[offsets[i + 1] :])):
                last = len(lines) - 1
                restart = _restart(
                    lines,
                    i,
                    len(lines),
                    lambda k: _parses(_tidy(_unclosed_body(text[offsets[k + 1] :], True))),
                )
                if restart is not None and restart < last:
                    i = restart
                    continue
            rest = _unclosed_body(text[offsets[i + 1] :], lang in _PY_TAGS)
            out.append(_Block(offsets[i], len(text), rest, lang))
            break
        code = body(i, chosen)
        if lang in _PY_TAGS and not _parses(_tidy(code)):
            restart = _restart(lines, i, chosen, lambda k, j=chosen: _parses(_tidy(body(k, j))))
            if restart is not None:  # a stray opening fence, the step written again inside it
                i = restart
                continue
            head = _cut_at_chatter(code)  # a hallucinated observation before the closing fence
            code = head if head != code and _parses(_tidy(head)) else code
        out.append(_Block(offsets[i], offsets[chosen + 1], code, lang))
        i = chosen + 1
    return out


def _all_blocks(text: str) -> list[_Block]:
    blocks = _fence_blocks(text)
    starts = [b.start for b in blocks]
    for m in _CODE_TAG.finditer(text):  # a fence inside the tags is the block itself
        k = bisect.bisect_right(starts, m.start())  # fence blocks are disjoint and in order
        inside = k > 0 and m.start() < blocks[k - 1].end
        if not inside and not (k < len(blocks) and blocks[k].start < m.end()):
            closed = m.group(0).lower().endswith("</code>")
            body = m.group(1) if closed else _unclosed_body(m.group(1), True)
            blocks.append(_Block(m.start(), m.end(), body, "<code>"))
    return sorted(blocks, key=lambda b: b.start)


def _outside(pos: int, blocks: list[_Block]) -> bool:
    """True when ``pos`` is in no block (``blocks``: disjoint, in order)."""
    k = bisect.bisect_right(blocks, pos, key=lambda b: b.start)
    return k == 0 or pos >= blocks[k - 1].end


def _run_of_blocks(text: str, pool: list[_Block], blocks: list[_Block]) -> list[_Block]:
    """The first pool block and the ones after it, up to narration or a non-Python block in between."""
    chosen: list[_Block] = []
    index = {id(b): k for k, b in enumerate(blocks)}
    for b in pool:
        if chosen:
            gap = text[chosen[-1].end : b.start]
            if any(_outside(chosen[-1].end + m.start(), blocks) for m in _chatter_lines(gap)):
                break
            if any(not o.python for o in blocks[index[id(chosen[-1])] + 1 : index[id(b)]]):
                break
            if not b.lang and chosen[-1].lang and not _parses(_tidy(b.body)):
                break  # "```\n[Empty output]\n```" after the code: a hallucinated output, not code
        chosen.append(b)
    return chosen


def _is_action(code: str) -> bool:
    """True when ``code`` parses and does something: prose such as ``Paris`` or a JSON dict does not."""
    if not code.strip() or not _parses(code):
        return False
    for stmt in ast.parse(code).body:
        if isinstance(stmt, _ACTION_STMTS) or (isinstance(stmt, ast.AnnAssign) and stmt.value is not None):
            return True  # a bare annotation ("Thought: x" parses as one) does nothing
        if isinstance(stmt, ast.Expr) and any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
            return True
    return False


def _bare_code(text: str) -> tuple[str, str] | None:
    """(thought, code) when the reply, or all of it after its first line(s) of thought, is Python code."""
    stripped = text.strip()
    lines = stripped.splitlines()
    labelled = bool(_THOUGHT_LABEL.match(stripped))
    if not labelled and _is_action(_tidy(stripped)):
        return "", _tidy(stripped)
    if len(lines) > 1 and labelled:
        rest = len(stripped)
        for k in range(1, len(lines)):
            rest -= len(lines[k - 1]) + 1
            if not lines[k].strip():  # the same code as from the next line
                continue
            if not _trials_left(rest + 64):
                break
            code = _tidy("\n".join(lines[k:]))
            if _is_action(code):
                return "\n".join(lines[:k]), code
    return None


def _no_code(text: str, thought: str, think: str) -> ParsedStep:
    if _TOOL_CALL.search(text):
        why = "You wrote a JSON/tool-call action; this agent acts only by writing Python code. "
    elif think and not text.strip():
        why = "Your reply was only reasoning (a think block) with no step after it. "
    elif _PROSE_ANSWER.search(text):
        why = (
            "No code block found. You gave the final answer in prose; it counts only when your code calls it, as in\n"
            'Code:\n```py\nfinal_answer("your answer")\n```<end_code>\n'
        )
    else:
        why = "No code block found. "
    return _fail(thought, "", "no_code", why + FORMAT_REMINDER)


def _finish(thought: str, bodies: list[str], source: str) -> ParsedStep:
    codes = [_tidy(b) for b in bodies]
    codes = [c for c in codes if c.strip()]
    code = "\n\n".join(codes)
    n = len(codes)
    if not code:
        return _fail(thought, "", "empty_code", f"The code block is empty. {FORMAT_REMINDER}", source=source)
    for i, part in enumerate(codes):
        problem = _syntax_error(part)
        if problem is not None:
            where = f"code block {i + 1} of {n}: " if n > 1 else ""
            return _fail(thought, code, "syntax", where + problem, n_blocks=n, source=source)
    problem = _syntax_error(code)
    if problem is not None:  # blocks that parse alone but not together (e.g. an unfinished indented block)
        return _fail(thought, code, "syntax", problem, n_blocks=n, source=source)
    if all(
        not line.strip() or line.lstrip().startswith("#") for line in code.splitlines()
    ):  # only comments (small models copy the prompt's placeholder comment)
        return _fail(
            thought,
            code,
            "empty_code",
            f"The code block has only comments, no statements. {FORMAT_REMINDER}",
            n_blocks=n,
            source=source,
        )
    return ParsedStep(thought=thought, code=_unshadow_final_answer(code), n_blocks=n, source=source)


FINAL_ANSWER_VARIABLE = "final_answer_value"


def _unshadow_final_answer(code: str) -> str:
    """Code that assigns to ``final_answer`` (``final_answer = x``) would hide the tool for the rest of the
    episode: the variable is renamed ``final_answer_value``, its uses too; calls stay calls. smolagents does the
    same (``fix_final_answer_code``), so ``final_answer = search(q)`` then ``final_answer(final_answer)`` works."""
    if "final_answer" not in code:
        return code
    tree = ast.parse(code)
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "final_answer"]
    if not any(isinstance(n.ctx, ast.Store) for n in names):
        return code
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    lines = code.split("\n")
    spots = sorted(((n.lineno - 1, n.col_offset) for n in names if id(n) not in called), reverse=True)
    for row, byte_col in spots:  # from the end, so earlier offsets stay valid
        raw = lines[row].encode()
        if raw[byte_col : byte_col + len("final_answer")] != b"final_answer":
            return code  # a position we cannot trust (inside an f-string): leave the code as written
        lines[row] = (raw[:byte_col] + FINAL_ANSWER_VARIABLE.encode() + raw[byte_col + 12 :]).decode()
    fixed = "\n".join(lines)
    return fixed if _syntax_error(fixed) is None else code


def _label_code(code: str) -> str:
    """The unfenced code after a ``Code:`` label: up to narration, inline backticks removed."""
    chatter = _chatter_lines(code)
    code = code[: chatter[0].start()] if chatter else code
    inline = _INLINE_FENCED.fullmatch(code)
    return inline.group(2) if inline else code


def parse_step(text: str) -> ParsedStep:
    """Split a raw assistant step into thought and code, or say precisely what is wrong with it.

    Linear in the length of ``text``: trial syntax checks are paid from a budget proportional to it."""
    token = _TRIALS.set(_Trials(text))
    try:
        return _parse_step(text)
    finally:
        _TRIALS.reset(token)


def _parse_step(text: str) -> ParsedStep:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "````" in text:  # a longer fence (CommonMark: for a block that holds ``` itself) pairs like ```
        text = _LONG_FENCE.sub(r"\1```", text)
    if "```" not in text:  # CommonMark's other fence: "~~~python" ... "~~~"
        text = _TILDE_FENCE.sub(r"\1```", text)
    text, think = _split_reasoning(text)
    text = _LATE_OPEN.sub(r"\1\n\2", text)
    if not text.strip() and not think:
        return _fail("", "", "empty", f"Your step was empty. {FORMAT_REMINDER}")

    def with_think(thought: str) -> str:
        return (think + "\n" + thought).strip() if think else thought

    blocks = _all_blocks(text)
    label = next((m for m in _CODE_LABEL.finditer(text) if _outside(m.start() + 1, blocks)), None)
    if label is not None:  # the step's end marker ends the action; what follows it is chatter
        cut = text.find(END_CODE, label.end())
        if cut >= 0:
            text = text[:cut]
            blocks = [b for b in _all_blocks(text) if b.start < cut]
    elif END_CODE in text:
        text = text[: text.find(END_CODE)]
        blocks = _all_blocks(text)
    text = text.replace(END_CODE, "")

    if label is not None:
        pool = [b for b in blocks if b.start >= label.end() - 1 and b.python]
        thought = with_think(_clean_thought(text[: label.start()]))
        if pool:
            chosen = _run_of_blocks(text, pool, blocks)
            source = "tag" if all(b.lang == "<code>" for b in chosen) else "fence"
            return _finish(thought, [b.body for b in chosen], source)
        return _finish(thought, [_label_code(text[label.end() :])], "label")
    inline = next((m for m in _CODE_LABEL_INLINE.finditer(text) if _outside(m.start() + 1, blocks)), None)
    code = _label_code(text[inline.end() :]) if inline is not None else ""
    if inline is not None and not any(b.python for b in blocks) and _is_action(_tidy(code)):
        # "Code: final_answer(6*7)"; prose after "Code:" ("Code: Paris") falls through to the rules below
        return _finish(with_think(_clean_thought(text[: inline.start()])), [code], "label")

    pool = [b for b in blocks if b.python]
    tagged = [b for b in pool if b.lang != ""]
    if pool:
        chosen = _run_of_blocks(text, tagged or pool, blocks)
        if len(chosen) > 1 and not tagged:  # untagged blocks: one that is not code is prose (smolagents#1219)
            chosen = [b for b in chosen if _parses(_tidy(b.body))] or chosen
        thought = with_think(_clean_thought(text[: chosen[0].start]))
        source = "tag" if all(b.lang == "<code>" for b in chosen) else "fence"
        return _finish(thought, [b.body for b in chosen], source)
    bare = _bare_code(text)
    if bare is not None:
        return _finish(with_think(_clean_thought(bare[0])), [bare[1]], "bare")
    return _no_code(text, with_think(_clean_thought(text)), think)


def format_step(thought: str, code: str) -> str:
    """The canonical text of a step (what a well-behaved model writes)."""
    return f"Thought: {thought.strip()}\nCode:\n```py\n{code.strip()}\n```{END_CODE}"
