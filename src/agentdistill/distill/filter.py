"""Keep the teacher trajectories worth learning from, and say why each other one was dropped.

Kept: correct final answer, every step parsed, not a forced final-answer turn. Execution errors may stay
(the student learns to recover). With K samples per task, up to ``max_per_task`` *distinct* correct
trajectories per task are kept (distinct = different assistant text).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdistill.agent.records import Trajectory, TrajectoryWriter, iter_trajectories
from agentdistill.common.jsonl import JsonlAppender, iter_jsonl

PARSE_ERROR_KINDS = frozenset({"empty", "no_code", "empty_code", "syntax"})
EXEC_ERROR_KINDS = frozenset({"exception", "timeout", "memory", "killed", "import", "output"})


@dataclass
class FilterReport:
    total: int = 0
    kept: int = 0
    tasks: int = 0
    tasks_kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "kept": self.kept, "tasks": self.tasks, "tasks_kept": self.tasks_kept,
                "dropped": dict(self.dropped)}


def drop_reason(
    traj: Trajectory, keep_exec_errors: bool = True, require_correct: bool = True, require_parsed: bool = True
) -> str | None:
    """Why a trajectory is not training data, or None if it is."""
    if require_correct and traj.status != "answered":
        return f"status:{traj.status}"
    if traj.forced_final_answer:
        return "forced_final_answer"
    if require_correct and not traj.correct:
        return "incorrect"
    for step in traj.steps:
        if require_parsed and step.error_kind in PARSE_ERROR_KINDS:
            return "parse_error"
        if not keep_exec_errors and step.error_kind in EXEC_ERROR_KINDS:
            return "exec_error"
    return None


def _fingerprint(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()


class _Selector:
    """Per-task bookkeeping: distinct kept records up to ``max_per_task``, and the report."""

    def __init__(self, max_per_task: int):
        self.max_per_task = max_per_task
        self.report = FilterReport()
        self.seen: dict[str, set[str]] = {}

    def keep(self, task_id: str, reason: str | None, texts: list[str]) -> bool:
        self.report.total += 1
        kept = self.seen.setdefault(task_id, set())
        if reason is None:
            fp = _fingerprint(texts)
            if fp in kept:
                reason = "duplicate"
            elif len(kept) >= self.max_per_task:
                reason = "over_max_per_task"
            else:
                kept.add(fp)
        if reason:
            self.report.dropped[reason] += 1
            return False
        self.report.kept += 1
        return True

    def finish(self) -> FilterReport:
        self.report.tasks = len(self.seen)
        self.report.tasks_kept = sum(1 for v in self.seen.values() if v)
        return self.report


def filter_trajectories(
    src: Path, dst: Path, max_per_task: int = 1, keep_exec_errors: bool = True, require_correct: bool = True,
    require_parsed: bool = True,
) -> FilterReport:
    """Write the kept agent trajectories of ``src`` to ``dst`` (rewritten whole: filtering is cheap)."""
    sel = _Selector(max_per_task)
    tmp = Path(dst).with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with TrajectoryWriter(tmp, fsync=False) as writer:
        for traj in iter_trajectories(src):
            reason = drop_reason(traj, keep_exec_errors, require_correct, require_parsed)
            if sel.keep(traj.task.id, reason, [s.raw for s in traj.steps]):
                writer.write(traj)
    tmp.replace(dst)
    return sel.finish()


def filter_cot(src: Path, dst: Path, max_per_task: int = 1) -> FilterReport:
    """The CoT-baseline counterpart: keep correct, distinct CoT answers."""
    sel = _Selector(max_per_task)
    tmp = Path(dst).with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with JsonlAppender(tmp) as out:
        for _, rec in iter_jsonl(src):
            reason = None if rec.get("correct") else ("incorrect" if rec.get("answer") is not None else "no_answer")
            if sel.keep(rec["task"]["id"], reason, [rec.get("text", "")]):
                out.write(rec)
    tmp.replace(dst)
    return sel.finish()
