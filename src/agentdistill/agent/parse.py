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
one line (```` ```py final_answer(42)``` ````); prose after an unclosed block or unfenced labelled code is cut
when the code before it parses, and ``result: int = 6*7`` is code, not a 'Result:' narration line. Failures keep one of four kinds (``PARSE_ERROR_KINDS``) with a precise, model-readable
message, so a failure costs one step and teaches the model what to fix.

The blocks are found by ``parse_blocks``; syntax verdicts, the trial budget that keeps a parse linear in its
input and the ``final_answer = x`` rewrite live in ``parse_python``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agentdistill.agent.parse_blocks import (
    LONG_FENCE,
    TILDE_FENCE,
    all_blocks,
    chatter_lines,
    cut_trailing_prose,
    outside,
    pair_mixed_closers,
    run_of_blocks,
)
from agentdistill.agent.parse_python import (
    is_action,
    parses,
    syntax_error,
    tidy,
    trial_budget,
    trials_left,
    unshadow_final_answer,
)

ParseErrorKind = Literal["empty", "no_code", "empty_code", "syntax"]
PARSE_ERROR_KINDS: frozenset[str] = frozenset({"empty", "no_code", "empty_code", "syntax"})

END_CODE = "<end_code>"
# Stop strings that end a step: the format's end marker and a hallucinated observation line. No fence: a
# closing fence in the thought or in a string literal must not end the step before its code is written.
STEP_STOP: tuple[str, ...] = (END_CODE, "\nObservation:")

FORMAT_REMINDER = (
    "Write your step as 'Thought: ...' then 'Code:' and one ```py code block ending with ```<end_code>."
)

# A fence opened at the end of a label or thought line ("Code: ```py"): put it on its own line.
_LATE_OPEN = re.compile(r"(?im)^([^\n`]*\S)[ \t]*(```[ \t]*(?:py|python3?|py3)?[ \t]*)$")
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
_TOOL_CALL = re.compile(r"(?:^|\n)[ \t]*Action\s*:|<tool_call>|\"(?:name|tool|action)\"\s*:", re.IGNORECASE)
_PROSE_ANSWER = re.compile(r"\b(?:final[ _]answer|the answer is)\b", re.IGNORECASE)


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


def _bare_code(text: str) -> tuple[str, str] | None:
    """(thought, code) when the reply, or all of it after its first line(s) of thought, is Python code."""
    stripped = text.strip()
    lines = stripped.splitlines()
    labelled = bool(_THOUGHT_LABEL.match(stripped))
    if not labelled and is_action(tidy(stripped)):
        return "", tidy(stripped)
    if len(lines) > 1 and labelled:
        rest = len(stripped)
        for k in range(1, len(lines)):
            rest -= len(lines[k - 1]) + 1
            if not lines[k].strip():  # the same code as from the next line
                continue
            if not trials_left(rest + 64):
                break
            code = tidy("\n".join(lines[k:]))
            if is_action(code):
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
    codes = [tidy(b) for b in bodies]
    codes = [c for c in codes if c.strip()]
    code = "\n\n".join(codes)
    n = len(codes)
    if not code:
        return _fail(thought, "", "empty_code", f"The code block is empty. {FORMAT_REMINDER}", source=source)
    for i, part in enumerate(codes):
        problem = syntax_error(part)
        if problem is not None:
            where = f"code block {i + 1} of {n}: " if n > 1 else ""
            return _fail(thought, code, "syntax", where + problem, n_blocks=n, source=source)
    problem = syntax_error(code)
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
    return ParsedStep(thought=thought, code=unshadow_final_answer(code), n_blocks=n, source=source)


def _label_code(code: str) -> str:
    """The unfenced code after a ``Code:`` label: up to narration, inline backticks removed, prose after it cut
    (as after an unclosed block)."""
    chatter = chatter_lines(code)
    code = code[: chatter[0].start()] if chatter else code
    inline = _INLINE_FENCED.fullmatch(code)
    return inline.group(2) if inline else cut_trailing_prose(code)


def parse_step(text: str) -> ParsedStep:
    """Split a raw assistant step into thought and code, or say precisely what is wrong with it.

    Linear in the length of ``text``: trial syntax checks are paid from a budget proportional to it."""
    with trial_budget(text):
        return _parse_step(text)


def _parse_step(text: str) -> ParsedStep:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "````" in text:  # a longer fence (CommonMark: for a block that holds ``` itself) pairs like ```
        text = LONG_FENCE.sub(r"\1```", text)
    if "```" not in text:  # CommonMark's other fence: "~~~python" ... "~~~"
        text = TILDE_FENCE.sub(r"\1```", text)
    text, think = _split_reasoning(text)
    text = _LATE_OPEN.sub(r"\1\n\2", pair_mixed_closers(text))
    if not text.strip() and not think:
        return _fail("", "", "empty", f"Your step was empty. {FORMAT_REMINDER}")

    def with_think(thought: str) -> str:
        return (think + "\n" + thought).strip() if think else thought

    blocks = all_blocks(text)
    label = next((m for m in _CODE_LABEL.finditer(text) if outside(m.start() + 1, blocks)), None)
    if label is not None:  # the step's end marker ends the action; what follows it is chatter
        cut = text.find(END_CODE, label.end())
        if cut >= 0:
            text = text[:cut]
            blocks = [b for b in all_blocks(text) if b.start < cut]
    elif END_CODE in text:
        text = text[: text.find(END_CODE)]
        blocks = all_blocks(text)
    text = text.replace(END_CODE, "")

    if label is not None:
        pool = [b for b in blocks if b.start >= label.end() - 1 and b.python]
        thought = with_think(_clean_thought(text[: label.start()]))
        if pool:
            chosen = run_of_blocks(text, pool, blocks)
            source = "tag" if all(b.lang == "<code>" for b in chosen) else "fence"
            return _finish(thought, [b.body for b in chosen], source)
        return _finish(thought, [_label_code(text[label.end() :])], "label")
    inline = next((m for m in _CODE_LABEL_INLINE.finditer(text) if outside(m.start() + 1, blocks)), None)
    code = _label_code(text[inline.end() :]) if inline is not None else ""
    if inline is not None and not any(b.python for b in blocks) and is_action(tidy(code)):
        # "Code: final_answer(6*7)"; prose after "Code:" ("Code: Paris") falls through to the rules below
        return _finish(with_think(_clean_thought(text[: inline.start()])), [code], "label")

    pool = [b for b in blocks if b.python]
    tagged = [b for b in pool if b.lang != ""]
    if pool:
        chosen = run_of_blocks(text, tagged or pool, blocks)
        if len(chosen) > 1 and not tagged:  # untagged blocks: one that is not code is prose (smolagents#1219)
            chosen = [b for b in chosen if parses(tidy(b.body))] or chosen
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
