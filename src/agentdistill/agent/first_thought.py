"""First-thought prefix (FTP): start the agent's first turn with the first paragraph of a CoT answer.

The teacher first answers with a plain chain of thought; its opening paragraph (its plan) becomes the start of
the agent's first assistant turn, ``Thought: <paragraph>\\n\\n``, which the model then continues. The prefix is
part of the step's raw text and therefore of the trained text.
"""

from __future__ import annotations

import re

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_THOUGHT_LABEL = re.compile(r"^\s*(?:\*\*)?thoughts?(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_THINK_TAGS = re.compile(r"</?think>", re.IGNORECASE)


def first_paragraph(text: str) -> str:
    """Text up to the first blank line, stripped (leading blank lines are skipped)."""
    text = _THINK_TAGS.sub("", text.replace("\r\n", "\n")).strip()
    return _BLANK_LINE.split(text, maxsplit=1)[0].strip()


def first_thought_prefix(cot_text: str) -> str:
    """``"Thought: <first paragraph>\\n\\n"``; empty string when the CoT text is empty."""
    paragraph = _THOUGHT_LABEL.sub("", first_paragraph(cot_text), count=1).strip()
    return f"Thought: {paragraph}\n\n" if paragraph else ""
