"""Rich progress for long index builds; a no-op when disabled (tests, library use without a terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Tick(Protocol):
    def __call__(self, advance: int = 1) -> None: ...


@contextmanager
def task_progress(description: str, total: int | None, enabled: bool = True) -> Iterator[Tick]:
    """Yield `tick(n)`; renders a bar (or a spinner and a count when the total is unknown)."""
    if not enabled:
        yield lambda advance=1: None
        return
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()] if total else [TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total)

        def tick(advance: int = 1) -> None:
            progress.advance(task, advance)

        yield tick
