"""Finding the code blocks of a step, for the step parser (agent/parse.py): fenced blocks (```py, bare,
~~~, four backticks, one line), ``<code>`` tags, where an unclosed block ends (narration, prose, a cut end
marker), and which blocks after the ``Code:`` label form the action.

Fences are paired by whether the body parses as Python, so a fence line inside a triple-quoted string does not
end the block; a stray opening fence with the step written again inside it gives way to the inner block.
"""

from __future__ import annotations

import bisect
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass

from agentdistill.agent.parse_python import is_action, is_annotated_assignment, parses, tidy, trials_left

_FENCE_LINE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)(?::[^\s`]*|[ \t]*\{[.#][^}\n]*\})?[ \t]*\n?$"
)  # an opening (maybe bare) fence line; "```python:main.py" and "```python {.x}" name the language too
# a whole block on one line: "```py final_answer(42)```"
_ONE_LINE_FENCE = re.compile(r"^[ \t]*```(?:(py|python3?|py3)[ \t]+|[ \t]*)(\S(?:.*?\S)?)[ \t]*```[ \t]*\n?$")
_BARE_FENCE_LINE = re.compile(
    r"^[ \t]*```(?![A-Za-z0-9_`]|/?end[_ -]?code\b)|^[ \t]*```/?end[_ -]?code\b", re.IGNORECASE
)  # a line that can close a block ("``` done" and a misspelled end marker, "```end_code>", too)
TILDE_FENCE = re.compile(r"(?m)^([ \t]*)~~~+")
LONG_FENCE = re.compile(r"(?m)^([ \t]*)````+")
_TAIL_FENCE = re.compile(r"(?<=\S)[ \t]*```[ \t]*\n?$")  # a fence closing the block at the end of a code line
_CODE_TAG = re.compile(r"<code>[ \t]*\n?(.*?)(?:</code>|\Z)", re.DOTALL | re.IGNORECASE)
# Lines that end the action: the model moved on to narrating (a hallucinated observation or next step).
_CHATTER = re.compile(
    r"^[ \t]*(?:Observation|Thought|Output|Result|Calling tool)s?\s*:", re.IGNORECASE | re.MULTILINE
)  # "Calling tools:" is smolagents' own log line (smolagents#1703)
# the start of a closing marker cut off by max_tokens ("</co", "``") at the very end of an unclosed block
_PARTIAL_CLOSE = re.compile(
    r"\n[ \t]*(?:<(?:/(?:c(?:o(?:d(?:e)?)?)?)?)?|`{1,2}|`{0,3}<?/?e(?:n(?:d(?:[_ -]?(?:c(?:o(?:d(?:e)?)?)?)?)?)?)?>?)[ \t]*$",
    re.IGNORECASE,
)  # ... or of the end marker, cut or misspelled ("<end_co", "</end_code>", "<endcode>", "```end_code>")
# prose after unclosed code: a line that opens with a word (maybe after a list or emphasis mark), not a
# Python keyword or print, and has three words or more, or two and a full stop ("This will search for x.",
# "Note: the result is cached", "**Explanation:** ...", "Done here.")
_PROSE_START = re.compile(r"^(?:[-*>][ \t]+|\*\*|__)?([A-Za-z][A-Za-z']*)(?=[ \t]|:[ \t*]|\*\*|[.!?]?$)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*[ \t]*(?:[-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)")  # "Total = 5 apples"
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
PY_TAGS = {"", "py", "python", "python3", "py3", "ipython", "pycon", "<code>"}
# A block opened one way and closed the other (smolagents#1870): "```py ... </code>" and "<code> ... ```". The
# closer ends a line (so "print('</code>')" is not one) and the opener starts one (so "'<code>'" in code is not).
_FENCE_CLOSED_BY_TAG = re.compile(
    r"(^[ \t]*```[ \t]*(?:py|python3?|py3)?[ \t]*\n)((?:(?!```|<code>|</code>).)*?)[ \t]*</code>[ \t]*$",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)
_TAG_CLOSED_BY_FENCE = re.compile(
    r"^([ \t]*(?:Code:[ \t]*)?)<code>[ \t]*\n?((?:(?!```|</code>|<code>).)*?)^([ \t]*```)",
    re.DOTALL | re.MULTILINE | re.IGNORECASE,
)


def pair_mixed_closers(text: str) -> str:
    """``text`` with a block opened by a fence and closed by ``</code>`` (or the reverse) written as a fenced
    block, so that its closer is not read as code or as a new block."""
    if "code>" not in text.lower():
        return text
    text = _FENCE_CLOSED_BY_TAG.sub(lambda m: f"{m.group(1)}{m.group(2).rstrip()}\n```", text)
    return _TAG_CLOSED_BY_FENCE.sub(lambda m: f"{m.group(1)}```py\n{m.group(2)}{m.group(3)}", text)


@dataclass
class Block:
    """One code block: where it is in the text, its body and its language."""

    start: int  # offset of the opening marker
    end: int  # offset just after the closing marker (len(text) when unclosed)
    body: str
    lang: str  # fence language ("" bare) or "<code>"

    @property
    def python(self) -> bool:
        return self.lang in PY_TAGS


def chatter_lines(text: str) -> list[re.Match[str]]:
    """Narration lines (a hallucinated observation, thought, output), annotated assignments excepted."""
    out = []
    for m in _CHATTER.finditer(text):
        end = text.find("\n", m.start())
        if not is_annotated_assignment(text[m.start() : len(text) if end < 0 else end]):
            out.append(m)
    return out


def _cut_at_chatter(body: str) -> str:
    """An unclosed block up to narration: at the first narration line before which the code parses (an
    ``Output:`` line inside a triple-quoted string is not one), else the whole body if it parses, else the first."""
    chatter = chatter_lines(body)
    if not chatter:
        return body
    for m in chatter:
        if parses(tidy(body[: m.start()])):
            return body[: m.start()]
        if not trials_left():
            break
    return body if parses(tidy(body)) else body[: chatter[0].start()]


def _unclosed_body(body: str, python: bool) -> str:
    """The body of a block cut by length or by a stop string: a partial closing marker dropped, then cut at
    narration and before trailing prose (Python blocks)."""
    body = _PARTIAL_CLOSE.sub("", body)
    return cut_trailing_prose(_cut_at_chatter(body)) if python else _cut_at_chatter(body)


def _prose_line(line: str) -> bool:
    """True when ``line`` reads as a sentence, not as (broken) code: see ``_PROSE_START``."""
    text = line.strip()
    start = _PROSE_START.match(text)
    if start is None or keyword.iskeyword(start.group(1)) or start.group(1) in ("print", "exec"):
        return False
    if text.endswith(":") or _ASSIGNMENT.match(text) or parses(text):  # "else if x:" is broken code
        return False
    words = len(_WORD.findall(text))
    return words >= 3 or (words == 2 and text[-1] in ".!?")


def cut_trailing_prose(body: str) -> str:
    """Code that does not parse, cut before its first line of prose when the code before that line parses
    ("print(x)\nThis will search for x."): the model forgot the closing fence and went on writing. DESIGN
    §3: parse leniently (trailing chatter). Code that parses, or whose head does not, is returned as it is."""
    if parses(tidy(body)):
        return body
    lines = body.splitlines(keepends=True)
    at = 0  # offset of lines[k] in body
    for k in range(1, len(lines)):
        at += len(lines[k - 1])
        if not trials_left():
            break
        if not _prose_line(lines[k]):
            continue
        head = body[:at]
        if head.strip() and parses(tidy(head)):
            return head
    return body


_MAX_CLOSES = 64  # close candidates tried per block


def _restart(lines: list[str], i: int, end: int, parses: Callable[[int], bool]) -> int | None:
    """The line of a tagged Python opening fence inside the block opened at line ``i`` (before line ``end``)
    from which the block parses: the model opened a fence, then wrote its step again ("Thought: ... Code:
    ```py ..."). None when there is none (the block stays as it is)."""
    for k in range(i + 1, min(end, len(lines))):
        if not trials_left(len(lines[k])):
            return None
        m = _FENCE_LINE.match(lines[k])
        if m is not None and m.group(1).lower() in PY_TAGS - {""} and parses(k):
            return k
    return None


def _fence_blocks(text: str) -> list[Block]:
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

    out: list[Block] = []
    i = 0
    while i < len(lines):
        one = _ONE_LINE_FENCE.match(lines[i])
        glued = one is not None and not one.group(1) and re.match(r"(?:py|python3?|py3)\w", one.group(2))
        if one is not None and not glued and is_action(one.group(2)):
            out.append(Block(offsets[i], offsets[i + 1], one.group(2), (one.group(1) or "").lower()))
            i += 1
            continue
        m = _FENCE_LINE.match(lines[i])
        after = _FENCE_LINE.match(lines[i + 1]) if m is not None and i + 1 < len(lines) else None
        if m is None or (after is not None and after.group(1) and m.group(1).lower() in PY_TAGS):
            i += 1  # not a fence, or a stray opening fence right before the real one ("```" then "```py")
            continue
        lang = m.group(1).lower()
        first = bisect.bisect_right(close_at, i)
        closes = close_at[first : first + _MAX_CLOSES]  # lines that can close the block
        first_bare = bisect.bisect_right(bare_at, i)
        chosen = bare_at[first_bare] if first_bare < len(bare_at) else (closes[0] if closes else None)
        if closes and lang in PY_TAGS and (chosen is None or not parses(tidy(body(i, chosen)))):
            chosen = next((j for j in closes if trials_left() and parses(tidy(body(i, j)))), chosen)
        if chosen is None:  # unclosed (cut by length or by the stop string): up to narration, if any
            if lang in PY_TAGS and not parses(tidy(text[offsets[i + 1] :])):
                last = len(lines) - 1
                restart = _restart(
                    lines,
                    i,
                    len(lines),
                    lambda k: parses(tidy(_unclosed_body(text[offsets[k + 1] :], True))),
                )
                if restart is not None and restart < last:
                    i = restart
                    continue
            rest = _unclosed_body(text[offsets[i + 1] :], lang in PY_TAGS)
            out.append(Block(offsets[i], len(text), rest, lang))
            break
        code = body(i, chosen)
        if lang in PY_TAGS and not parses(tidy(code)):
            restart = _restart(lines, i, chosen, lambda k, j=chosen: parses(tidy(body(k, j))))
            if restart is not None:  # a stray opening fence, the step written again inside it
                i = restart
                continue
            head = _cut_at_chatter(code)  # a hallucinated observation before the closing fence
            code = head if head != code and parses(tidy(head)) else code
        out.append(Block(offsets[i], offsets[chosen + 1], code, lang))
        i = chosen + 1
    return out


def all_blocks(text: str) -> list[Block]:
    blocks = _fence_blocks(text)
    starts = [b.start for b in blocks]
    for m in _CODE_TAG.finditer(text):  # a fence inside the tags is the block itself
        k = bisect.bisect_right(starts, m.start())  # fence blocks are disjoint and in order
        inside = k > 0 and m.start() < blocks[k - 1].end
        if not inside and not (k < len(blocks) and blocks[k].start < m.end()):
            closed = m.group(0).lower().endswith("</code>")
            body = m.group(1) if closed else _unclosed_body(m.group(1), True)
            blocks.append(Block(m.start(), m.end(), body, "<code>"))
    return sorted(blocks, key=lambda b: b.start)


def outside(pos: int, blocks: list[Block]) -> bool:
    """True when ``pos`` is in no block (``blocks``: disjoint, in order)."""
    k = bisect.bisect_right(blocks, pos, key=lambda b: b.start)
    return k == 0 or pos >= blocks[k - 1].end


def run_of_blocks(text: str, pool: list[Block], blocks: list[Block]) -> list[Block]:
    """The first pool block and the ones after it, up to narration or a non-Python block in between."""
    chosen: list[Block] = []
    index = {id(b): k for k, b in enumerate(blocks)}
    for b in pool:
        if chosen:
            gap = text[chosen[-1].end : b.start]
            if any(outside(chosen[-1].end + m.start(), blocks) for m in chatter_lines(gap)):
                break
            if any(not o.python for o in blocks[index[id(chosen[-1])] + 1 : index[id(b)]]):
                break
            if not b.lang and chosen[-1].lang and not is_action(tidy(b.body)):
                # "```\n[Empty output]\n```" or "```\nParis\n```" after the code: a hallucinated output (it
                # does nothing even when it parses), not code (smolagents#1219)
                break
        chosen.append(b)
    return chosen
