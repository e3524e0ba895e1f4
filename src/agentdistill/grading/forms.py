"""Answer forms whose meaning is in their notation, read before any value is compared (``grading.math``).

- *Numerals in a base*: ``52_8``, ``4210_{5}``, ``1A_{16}`` are digits in base b, never the Python integer
  ``528`` (``_`` as a digit separator) nor a subscripted symbol. Two numerals are equal when their digits and
  bases are; a bare numeral against one compares the digits (math-verify's reading: ``52`` is ``52_8``), so
  ``528`` is not ``52_8``. Source: MATH-500 golds such as #127 ``4210_{5}``; rasbt/reasoning-from-scratch#133.
- *Bracketed pairs*: ``(1, 6)``, ``[1, 6]``, ``(1, 6]`` — a point or an interval. Written as text, the brackets
  are part of the answer: ``[1, 6]`` is not ``(1, 6)`` (math-verify, Math-Verify#25). A Python list or tuple
  from code (``final_answer([1, 6])``) cannot say open or closed, so its brackets are not compared. Against a
  sympy ``Interval`` the text pair is read as that interval.
- *Lists of rows*: against a matrix or vector gold, ``[[1, 2], [3, 4]]`` (and a flat ``[1, 2]`` for a vector)
  is that matrix.
- *Sequences with an ellipsis*: ``1, 3, 5, \\ldots, 2n-1``. math-verify drops the ellipsis, which makes
  ``1, 3, 5, \\ldots, 2n-1`` equal ``1, 2, \\ldots, n`` (Math-Verify#14); here both sides need an ellipsis at
  the same places and equal items around it.
"""

from __future__ import annotations

import re
from typing import Any

_NUMERAL = re.compile(r"^\s*([0-9A-Z]+)_\{?\s*(\d{1,2})\s*\}?\s*$")
_DIGITS = re.compile(r"^\s*([0-9A-Z]+)\s*$")
_ELLIPSIS = re.compile(r"\\[lc]?dots|\\ldotp|\.\.\.|…")
_PAIR = re.compile(r"^\s*([(\[])(.*)([)\]])\s*$", re.DOTALL)


def base_numeral(text: str) -> tuple[str, int] | None:
    """``(digits, base)`` for a numeral written in a base (``52_8`` → ``("52", 8)``), else None. The digits must
    hold a decimal digit and be valid in the base (2–36), so ``x_1`` and ``A_1`` stay symbols."""
    m = _NUMERAL.match(text)
    if not m or not any(c.isdigit() for c in m.group(1)):
        return None
    digits, base = m.group(1), int(m.group(2))
    if not 2 <= base <= 36 or any(int(c, 36) >= base for c in digits):
        return None
    return digits.lstrip("0") or "0", base


def numerals_equal(pred: str, gold: str) -> bool | None:
    """The verdict when a side is a numeral in a base (module docstring), else None."""
    p, g = base_numeral(pred), base_numeral(gold)
    if p is None and g is None:
        return None
    if p is not None and g is not None:
        return p == g
    bare = _DIGITS.match(gold if p is not None else pred)
    digits = (bare.group(1).lstrip("0") or "0") if bare else None
    return digits == (p or g)[0]  # type: ignore[index]


def top_level_split(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def bracket_pair(text: str) -> tuple[str, str, str, str] | None:
    """``(open, left item, right item, close)`` for a bracketed pair such as ``(1, 6]``, else None."""
    m = _PAIR.match(text)
    if not m:
        return None
    items = top_level_split(m.group(2))
    if len(items) != 2 or not all(i.strip() for i in items):
        return None
    inner = m.group(2)
    depth = 0
    for ch in inner:  # "(1, 2) + (3, 4)" is not one pair
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0:
            return None
    return m.group(1), items[0].strip(), items[1].strip(), m.group(3)


def brackets_disagree(pred: str, gold: str) -> bool:
    """True when both are bracketed pairs written with different brackets (``[1, 6]`` vs ``(1, 6)``)."""
    p, g = bracket_pair(pred), bracket_pair(gold)
    return p is not None and g is not None and (p[0], p[3]) != (g[0], g[3])


def as_interval(text: str, parse: Any) -> Any | None:
    """The sympy ``Interval`` a bracketed pair denotes (``parse`` reads one item to a sympy value), else None."""
    import sympy

    pair = bracket_pair(text)
    if pair is None:
        return None
    ends = []
    for item in (pair[1], pair[2]):
        value = next((v for v in parse(item) if isinstance(v, sympy.Basic)), None)
        if not isinstance(value, sympy.Expr):
            return None
        ends.append(value)
    try:
        return sympy.Interval(ends[0], ends[1], left_open=pair[0] == "(", right_open=pair[3] == ")")
    except (TypeError, ValueError):
        return None


def as_matrix(value: Any, shape: tuple[int, int]) -> Any | None:
    """A bracketed list of rows (``[[1, 2], [3, 4]]``), or a flat list against a row or column vector, as a
    sympy Matrix of ``shape``; else None. Qwen2.5-Math's grader (the paper's) compares such lists with a
    ``pmatrix`` gold row by row."""
    import sympy

    if not isinstance(value, sympy.Tuple) or not len(value):
        return None
    if all(isinstance(row, sympy.Tuple) for row in value):
        rows = [list(row.args) for row in value]
    elif 1 in shape and len(value) == max(shape):
        rows = [[v] for v in value.args] if shape[1] == 1 else [list(value.args)]
    else:
        return None
    if len(rows) != shape[0] or any(len(row) != shape[1] for row in rows):
        return None
    try:
        return sympy.Matrix(rows)
    except (TypeError, ValueError):
        return None


def ellipsis_items(text: str) -> list[str] | None:
    """The items of a comma (or colon) sequence holding an ellipsis, the ellipsis as ``...``; else None."""
    if not _ELLIPSIS.search(text):
        return None
    body = text.strip()
    sep = "," if len(top_level_split(body)) > 1 else ":"
    return [("..." if _ELLIPSIS.fullmatch(i.strip()) else i.strip()) for i in top_level_split(body, sep)]


# English number words 0-99, for answers spelled out ("three", "twenty-one"); QA and math graders share them
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_word(n: int) -> str | None:
    """0-99 in words (``21`` -> ``"twenty-one"``); None outside that range."""
    if not 0 <= n <= 99:
        return None
    if n <= 20:
        return _UNITS[n]
    tens, units = divmod(n, 10)
    return _TENS[tens] + (f"-{_UNITS[units]}" if units else "")


_WORD_NUMBERS = {number_word(n): n for n in range(100)}


def word_number(text: str) -> int | None:
    """The inverse of ``number_word``: ``"Twenty one"`` / ``"twenty-one"`` -> 21; None for anything else."""
    return _WORD_NUMBERS.get(re.sub(r"[\s-]+", "-", text.strip().lower()))
