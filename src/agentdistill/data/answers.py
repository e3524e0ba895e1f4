"""Gold-answer extraction from reference solutions (GSM8K `####`, MATH `\\boxed{}` with nested braces)."""

from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s+(?=[^\s{]))")


def boxed_contents(text: str) -> list[str]:
    """All `\\boxed{...}` / `\\fbox{...}` contents in order, honouring nested braces.

    Unclosed boxes are skipped; `\\boxed 5` (no braces, seen in MATH solutions) yields `5`.
    """
    out: list[str] = []
    for m in _BOX_RE.finditer(text):
        if m.group(1) != "{":
            bare = re.match(r"[^\s$]+", text[m.end() :])
            if bare:
                out.append(bare.group(0))
            continue
        depth, i = 1, m.end()
        while i < len(text) and depth:
            ch = text[i]
            if ch == "\\" and i + 1 < len(text):  # escaped braces \{ \} do not count
                i += 2
                continue
            depth += ch == "{"
            depth -= ch == "}"
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1].strip())
    return out


def last_boxed(text: str) -> str | None:
    """The last boxed answer of a solution (the MATH convention), or None."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None


def gsm8k_answer(solution: str) -> str | None:
    """The value after the last `####` of a GSM8K solution, without thousands separators."""
    if "####" not in solution:
        return None
    return solution.rsplit("####", 1)[1].strip().replace(",", "")
