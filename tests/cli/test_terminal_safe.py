"""Terminal escape sequences printed by model code never reach the operator's terminal through `agentdistill run`
(``cli/_terminal.py``; docs/reviews/sandbox-2026-12-02.md, fault 5): the observation, thought, code and final answer are
shown with every C0/C1 control character except newline and tab escaped, while the records keep the exact text."""

from __future__ import annotations

import io
import json

from rich.console import Console

from agentdistill.agent.replay import ReplayLLM
from agentdistill.cli import run_cmd
from agentdistill.cli._terminal import terminal_safe

from .helpers import run_cli

F = "```"
TITLE, CLIP, CLEAR, CSI8 = "\x1b]0;PWNED-TITLE\x1b\\", "\x1b]52;c;ZWNobyBwd25lZA==\x07", "\x1b[2J", "\x9b2J"
HOSTILE = (TITLE, CLIP, CLEAR, CSI8)


def test_terminal_safe_escapes_every_control_character_but_newline_and_tab():
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)):
        c = chr(code)
        assert terminal_safe(c) == (c if c in "\n\t" else f"\\x{code:02x}")
    assert terminal_safe(TITLE + CSI8) == "\\x1b]0;PWNED-TITLE\\x1b\\\\x9b2J"
    plain = "line 1\n\tline 2: é → 数 😀 \xa0 \u200b ~"
    assert terminal_safe(plain) == plain
    assert terminal_safe("a\r\nb\x00c\x08") == "a\\x0d\nb\\x00c\\x08"


def _step(thought: str, code: str) -> str:
    return f"Thought: {thought}\nCode:\n{F}py\n{code}\n{F}<end_code>"


def test_agentdistill_run_shows_hostile_output_escaped(monkeypatch, tmp_path):
    """The real `run` command (CliRunner), agent loop and sandbox; a scripted model whose code prints escape
    sequences and answers with them; the console is a terminal (Rich's own colours) writing to a buffer."""
    printed = "print(" + repr("before" + "".join(HOSTILE) + "after") + ")"
    answer = "final_answer(" + repr("ans" + TITLE + CSI8) + ")"
    llm = ReplayLLM([_step("look" + CLEAR, printed), _step("done" + CLIP, answer)])
    monkeypatch.setattr("agentdistill.models.loading.load_llm", lambda spec, **kw: llm)
    buf = io.StringIO()
    monkeypatch.setattr(run_cmd, "console", Console(file=buf, force_terminal=True, width=120))
    save = tmp_path / "t.jsonl"
    r = run_cli("run", "q?", "--model", "replay", "--retriever", "none", "--save", str(save))
    out = buf.getvalue()
    assert r.code == 0, out[-2000:] + r.stderr
    for seq in HOSTILE:
        assert seq not in out, f"{seq!r} reached the terminal"
    assert "\x07" not in out and "\x9b" not in out and "\x1b]" not in out and "\x1b[2J" not in out
    assert "before\\x1b]0;PWNED-TITLE" in out and "\\x9b2J" in out  # shown, escaped
    record = json.loads(save.read_text())  # the record keeps the exact text
    assert record["final_answer"] == "ans" + TITLE + CSI8
    assert record["steps"][0]["observation"] == "before" + "".join(HOSTILE) + "after\n"
