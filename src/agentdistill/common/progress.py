"""Rich progress for long stages: items/min and generated tokens/s beside the bar, with ETA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

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


class _RateColumn(ProgressColumn):
    """Tasks per minute and tokens per second since the bar started."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("-- tasks/min  -- tok/s", style="progress.data.speed")
        per_min = task.fields.get("new", 0) / elapsed * 60  # items finished in this run (not resumed ones)
        tokens = task.fields.get("tokens", 0)
        return Text(f"{per_min:5.1f} tasks/min {tokens / elapsed:6.1f} tok/s", style="progress.data.speed")


class StageProgress:
    """A handle that stages advance with the tokens each finished item generated."""

    def __init__(self, progress: Progress, task_id: int):
        self._p, self._id = progress, task_id
        self.tokens = 0
        self.new = 0
        self.started = time.perf_counter()

    def advance(self, tokens: int = 0, note: str | None = None) -> None:
        self.tokens += tokens
        self.new += 1
        fields = {"tokens": self.tokens, "new": self.new}
        if note is not None:
            self._p.update(self._id, advance=1, description=note, **fields)
        else:
            self._p.update(self._id, advance=1, **fields)


@contextmanager
def stage_progress(description: str, total: int, done: int = 0) -> Iterator[StageProgress]:
    columns = [
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task_id = progress.add_task(description, total=total, completed=done, tokens=0, new=0)
        yield StageProgress(progress, task_id)
