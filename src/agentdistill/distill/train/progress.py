"""Trainer callbacks: progress (bar or plain lines) with the running loss, and the run's wall clock over every
attempt (a run killed and resumed from a checkpoint keeps counting), for the metrics file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from agentdistill.common.files import atomic_write_json


class TrainClock(TrainerCallback):
    """Wall seconds spent on one training run, summed over its attempts, kept in ``path`` (JSON).

    HF's ``train_runtime`` covers only the last attempt: a run resumed from a checkpoint would report the
    steps after the checkpoint and lose the CPU time of the attempts before it (the steps a kill undid
    included). The clock is written at every optimizer step's end (``{"seconds", "attempts", "finished"}``),
    so a kill loses at most the step in flight; a finished run's clock is not continued: a later training in
    the same dir (a rebuild) starts at 0. The caller deletes the file when the run is another one (stale
    checkpoints moved aside). Main process only.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.prior, self.attempts = 0.0, 1
        self._t0: float | None = None
        self._t1: float | None = None

    @property
    def seconds(self) -> float:
        """Every attempt's wall seconds so far (to the training loop's end), this one's included."""
        if self._t0 is None:
            return self.prior
        return self.prior + ((self._t1 or time.monotonic()) - self._t0)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t0 = time.monotonic()
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(saved, dict) and not saved.get("finished"):
            self.prior = float(saved.get("seconds") or 0.0)
            self.attempts = int(saved.get("attempts") or 0) + 1

    def _write(self, state: Any, finished: bool) -> None:
        if state.is_world_process_zero:
            record = {"seconds": round(self.seconds, 1), "attempts": self.attempts, "finished": finished}
            atomic_write_json(self.path, record)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._write(state, finished=False)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t1 = time.monotonic()
        self._write(state, finished=True)


def logged_losses(log_history: list[dict[str, Any]]) -> list[float]:
    """Every step's logged training loss from the Trainer's ``state.log_history`` (one per optimizer step
    with ``logging_steps=1``): a resumed run's history starts with its checkpoint's, so the curve is whole."""
    return [float(e["loss"]) for e in log_history if "loss" in e]


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
