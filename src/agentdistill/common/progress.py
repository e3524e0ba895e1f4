"""Progress for long stages: a rich bar on a terminal, a plain line every few seconds otherwise.

A piped or logged run (stderr not a TTY) prints ``<stage>: 12/40 tasks, 3.1 tasks/min, 45 tok/s, eta 9m02s``
every ``$AGENTDISTILL_PROGRESS_SECONDS`` seconds (default 10) and once at the end, so logs show the run is
alive. A resumed stage announces what it skipped before any work starts.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

console = Console(stderr=True)


def _interval() -> float:
    try:
        return float(os.environ.get("AGENTDISTILL_PROGRESS_SECONDS", "10"))
    except ValueError:
        return 10.0


def format_seconds(s: float) -> str:
    """``95`` → ``1m35s``; ``4000`` → ``1h06m``."""
    s = max(0, int(s))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("-- /min", style="progress.data.speed")
        unit = task.fields.get("unit", "items")
        text = f"{task.fields.get('new', 0) / elapsed * 60:5.1f} {unit}/min"
        if task.fields.get("tokens"):
            text += f" {task.fields['tokens'] / elapsed:6.1f} tok/s"
        if task.fields.get("extra"):
            text += f"  {task.fields['extra']}"
        return Text(text, style="progress.data.speed")


class StageProgress:
    """Advance with ``advance(n, tokens=...)`` or set with ``update(completed, extra=...)``.

    ``total`` may be None (unknown: count and rate, no ETA). ``stream`` is where plain lines go (stderr by
    default); ``tty`` forces the mode (default: the stream's ``isatty()``).
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        done: int = 0,
        unit: str = "tasks",
        stream: TextIO | None = None,
        tty: bool | None = None,
        interval: float | None = None,
    ):
        self.description, self.total, self.unit = description, total, unit
        self.completed = done
        self.new = 0
        self.tokens = 0
        self.extra = ""
        self.started = time.monotonic()
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._interval = _interval() if interval is None else interval
        self._last_line = self.started
        self._bar: Progress | None = None
        if self._tty:
            columns = [
                TextColumn("[bold blue]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TimeElapsedColumn(),
            ]
            if total is not None:
                columns += [TextColumn("eta"), TimeRemainingColumn()]
            self._bar = Progress(*columns, console=Console(file=self._stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(
                description, total=total, completed=done, new=0, tokens=0, unit=unit, extra=""
            )

    def line(self) -> str:
        """The plain progress line for the current state."""
        elapsed = time.monotonic() - self.started
        rate = self.new / elapsed * 60 if elapsed > 0 else 0.0
        count = f"{self.completed}/{self.total}" if self.total is not None else str(self.completed)
        parts = [f"{self.description}: {count} {self.unit}", f"{rate:.1f} {self.unit}/min"]
        if self.tokens:
            parts.append(f"{self.tokens / elapsed:.1f} tok/s" if elapsed > 0 else "-- tok/s")
        if self.total is not None and self.new:
            remaining = max(0, self.total - self.completed)
            parts.append(f"eta {format_seconds(remaining * elapsed / self.new)}")
        parts.append(f"elapsed {format_seconds(elapsed)}")
        if self.extra:
            parts.append(self.extra)
        return ", ".join(parts)

    def _refresh(self, force: bool = False) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task, completed=self.completed, new=self.new, tokens=self.tokens, extra=self.extra
            )
            return
        now = time.monotonic()
        if force or now - self._last_line >= self._interval:
            self._last_line = now
            print(self.line(), file=self._stream, flush=True)

    def advance(self, n: int = 1, tokens: int = 0, note: str | None = None) -> None:
        """``n`` more items finished in this run, having generated ``tokens`` tokens."""
        self.completed += n
        self.new += n
        self.tokens += tokens
        if note is not None:
            self.extra = note
        self._refresh()

    def update(self, completed: int, extra: str | None = None, **_: Any) -> None:
        """Set the absolute count (e.g. the optimizer step) and an optional free-text note (e.g. the loss)."""
        self.new += max(0, completed - self.completed)
        self.completed = completed
        if extra is not None:
            self.extra = extra
        self._refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.new:
            self._refresh(force=True)


def announce_resume(
    description: str, skipped: int, total: int, where: object, stream: TextIO | None = None
) -> None:
    """Say what a resumed stage skipped (nothing is printed for a fresh start)."""
    if skipped:
        print(
            f"{description}: resuming {where}: {skipped} of {total} already done, skipped; "
            f"{total - skipped} to do",
            file=stream or sys.stderr,
            flush=True,
        )


@contextmanager
def stage_progress(
    description: str, total: int | None, done: int = 0, unit: str = "tasks", enabled: bool = True, **kw: Any
) -> Iterator[StageProgress]:
    """A :class:`StageProgress` closed on exit; ``enabled=False`` gives one that never prints."""
    if not enabled:
        kw.update(tty=False, interval=float("inf"))
        kw.setdefault("stream", open(os.devnull, "w"))  # noqa: SIM115 - closed below
    p = StageProgress(description, total, done, unit, **kw)
    try:
        yield p
    finally:
        p.close()
        if not enabled:
            p._stream.close()


@contextmanager
def task_progress(
    description: str, total: int | None, enabled: bool = True, unit: str = "items"
) -> Iterator[Callable[[int], None]]:
    """Yield ``tick(n=1)`` for loops that only count (index builds); same display rules as the stages."""
    with stage_progress(description, total, unit=unit, enabled=enabled) as p:
        yield lambda advance=1: p.advance(advance)
