"""Progress when not on a terminal: plain lines with count, rate and ETA; resumes are announced."""

from __future__ import annotations

import io
import re

from agentdistill.common.progress import StageProgress, announce_resume, format_seconds


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_plain_lines_when_piped() -> None:
    out = Pipe()
    p = StageProgress("eval demo", total=10, done=4, stream=out, interval=0)
    p.advance(1, tokens=100)
    p.advance(1, tokens=100)
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2
    assert re.match(
        r"eval demo: 6/10 tasks, [\d.]+ tasks/min, [\d.]+ tok/s, eta \S+, elapsed \S+$", lines[-2]
    )
    assert "\x1b[" not in out.getvalue()  # no terminal control codes in a log


def test_lines_are_rate_limited() -> None:
    out = Pipe()
    p = StageProgress("gen", total=1000, stream=out, interval=3600)
    for _ in range(500):
        p.advance()
    assert out.getvalue() == ""  # nothing within the interval ...
    p.close()
    assert out.getvalue().startswith("gen: 500/1000 tasks")  # ... and one final line


def test_resume_is_announced() -> None:
    out = Pipe()
    announce_resume("generate (agent)", 3, 8, "runs/t.jsonl", stream=out)
    assert (
        out.getvalue() == "generate (agent): resuming runs/t.jsonl: 3 of 8 already done, skipped; 5 to do\n"
    )
    quiet = Pipe()
    announce_resume("x", 0, 8, "y", stream=quiet)
    assert quiet.getvalue() == ""


def test_format_seconds() -> None:
    assert (format_seconds(5), format_seconds(95), format_seconds(4000)) == ("5s", "1m35s", "1h06m")
