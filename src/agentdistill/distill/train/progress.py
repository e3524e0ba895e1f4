"""Trainer callbacks: a rich progress bar with the running loss, and a log of losses for the metrics file."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback


class LossLog(TrainerCallback):
    """Collects every logged training loss (one per optimizer step with ``logging_steps=1``)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


class RichProgress(TrainerCallback):
    """One bar over optimizer steps showing loss, learning rate and tokens/s (main process only)."""

    def __init__(self) -> None:
        self._progress = None
        self._task = None
        self._loss = float("nan")

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=state.max_steps, completed=state.global_step, loss=self._loss, lr=0.0)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if self._progress is not None and logs:
            fields = {}
            if "loss" in logs:
                fields["loss"] = float(logs["loss"])
            if "learning_rate" in logs:
                fields["lr"] = float(logs["learning_rate"])
            self._progress.update(self._task, **fields)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
