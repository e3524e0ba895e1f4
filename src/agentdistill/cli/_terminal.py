"""Text from a model or its sandbox made safe to print on the operator's terminal.

Model-written code controls what it prints, and the CLI shows that output (and the model's own thought, code and
final answer) live. A terminal acts on control characters: ESC starts CSI/OSC sequences that set the window
title, write the clipboard (OSC 52) or clear the screen, and C1 codes (CSI as the single byte U+009B) do the same
on terminals that read them. Rich's ``Text`` strips only BEL, BS, VT, FF and CR
(docs/reviews/sandbox-2026-12-02.md, fault 5).
Rule: every C0 control character except newline and tab, DEL, and every C1 control character is shown as a
visible ``\\xNN`` escape; the records keep the exact text, only what is printed changes.
"""

from __future__ import annotations

_KEPT = {"\n", "\t"}
_TABLE = {
    code: f"\\x{code:02x}"
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
    if chr(code) not in _KEPT
}


def terminal_safe(text: str) -> str:
    """``text`` with each C0/C1 control character (except ``\\n`` and ``\\t``) and DEL written as ``\\xNN``."""
    return text.translate(_TABLE)
