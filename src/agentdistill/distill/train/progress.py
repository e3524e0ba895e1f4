"""Trainer callbacks: progress (bar or plain lines) with the running loss, and a log of losses for the metrics file."""

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
    """Optimizer steps with loss and learning rate (main process only), through the shared stage progress:
    a rich bar on a terminal, a plain line every few seconds in a log (common/progress.py)."""

    def __init__(self) -> None:
        self._progress = None
        self._loss = float("nan")
        self._lr = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        from agentdistill.common.progress import StageProgress

        self._progress = StageProgress("train", total=state.max_steps, done=state.global_step, unit="steps")

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.update(state.global_step, extra=f"loss {self._loss:.4f}  lr {self._lr:.2e}")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if self._progress is not None and logs:
            self._loss = float(logs.get("loss", self._loss))
            self._lr = float(logs.get("learning_rate", self._lr))

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
