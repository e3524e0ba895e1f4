"""Keep the teacher trajectories worth learning from, and say why each other one was dropped.

Kept: correct final answer, every step parsed, not answered by the forced final-answer turn (those are
never training data). Execution errors may stay (the student learns to recover). With K samples per task, up
to ``max_per_task`` *distinct* correct trajectories per task are kept (distinct = different assistant text).

With a ``judge`` (``grading.judge.LLMJudge``), QA answers are graded by the judge instead of exact match (the
paper filters with its judge): a correct paraphrase is kept. A malformed judge reply falls back to the
recorded EM verdict; the report counts judge rescues, rejections and unparsed verdicts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentdistill.agent.records import Trajectory, TrajectoryWriter, iter_trajectories
from agentdistill.common.files import atomic_file
from agentdistill.common.jsonl import JsonlAppender, JsonlError, check_record, iter_jsonl
from agentdistill.common.progress import stage_progress
from agentdistill.data.task import Task
from agentdistill.distill.sft import is_forced

PARSE_ERROR_KINDS = frozenset({"empty", "no_code", "empty_code", "syntax"})
EXEC_ERROR_KINDS = frozenset({"exception", "timeout", "memory", "killed", "import", "output"})


@dataclass
class FilterReport:
    total: int = 0
    kept: int = 0
    tasks: int = 0
    tasks_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    judge: Counter = field(default_factory=Counter)  # rescued (EM no, judge yes), rejected, unparsed, agree

    def as_dict(self) -> dict[str, Any]:
        out = {
            "total": self.total,
            "kept": self.kept,
            "tasks": self.tasks,
            "tasks_kept": self.tasks_kept,
            "dropped": dict(self.dropped),
        }
        if self.judge:
            out["judge"] = dict(self.judge)
        return out


def drop_reason(
    traj: Trajectory, keep_exec_errors: bool = True, require_correct: bool = True, require_parsed: bool = True
) -> str | None:
    """Why a trajectory is not training data, or None if it is."""
    if is_forced(traj):
        return "forced_final_answer"
    if require_correct and traj.status != "answered":
        return f"status:{traj.status}"
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


def rejudge(task: Any, prediction: Any, em_correct: bool, judge: Any, report: FilterReport) -> bool:
    """A QA answer's correctness by the judge (math keeps its equivalence grade); counted in ``report``."""
    if judge is None or task.kind != "qa" or prediction is None:
        return em_correct
    g = judge.grade(task, prediction)
    if g.method == "judge-empty":  # nothing to judge: wrong, not a verdict
        return False
    if g.method == "judge-unparsed":
        report.judge["unparsed"] += 1
        return em_correct
    report.judge["agree"] += g.correct == em_correct
    if g.correct and not em_correct:
        report.judge["rescued"] += 1
    elif em_correct and not g.correct:
        report.judge["rejected"] += 1
    return bool(g.correct)


def _judge_progress(src: Path, judge: Any) -> Any:
    """Progress over ``src``'s records while a judge re-grades them (minutes of model calls); silent without
    one (filtering alone takes a second)."""
    if judge is None:  # no read of the file just to count it
        return stage_progress("filter", None, enabled=False)
    with open(src, "rb") as f:
        total = sum(1 for _ in f)
    return stage_progress("filter (judge)", total, unit="records")


class _CotFields(BaseModel):
    """What ``filter_cot`` reads of a CoT record (``distill.generate.CotRecord``) beyond ``.get`` lookups."""

    task: Task
    text: str | None = None


def _refuse_empty(src: Path, sel: _Selector) -> None:
    """Raise ``JsonlError`` when ``src`` held no record (inside the output's ``atomic_file``: nothing written)."""
    if sel.report.total == 0:
        raise JsonlError(f"{src}: no records (an empty file?); nothing to filter")


def filter_trajectories(
    src: Path,
    dst: Path,
    max_per_task: int = 1,
    keep_exec_errors: bool = True,
    require_correct: bool = True,
    require_parsed: bool = True,
    judge: Any = None,
    refuse_empty: bool = False,
) -> FilterReport:
    """Write the kept agent trajectories of ``src`` to ``dst`` (rewritten whole: filtering is cheap).
    ``judge``: an ``LLMJudge`` that re-grades QA answers (see the module docstring). Raises
    ``TrajectoryFormatError`` naming file, line and field of a bad record, and with ``refuse_empty`` a
    ``JsonlError`` for a ``src`` without records; ``dst`` is then left as it was."""
    sel = _Selector(max_per_task)
    with (
        atomic_file(dst, src) as tmp,
        TrajectoryWriter(tmp, fsync=False) as writer,
        _judge_progress(src, judge) as progress,
    ):
        for traj in iter_trajectories(src):
            if judge is not None and traj.status == "answered" and not is_forced(traj):
                traj.correct = rejudge(traj.task, traj.final_answer, bool(traj.correct), judge, sel.report)
            reason = drop_reason(traj, keep_exec_errors, require_correct, require_parsed)
            if sel.keep(f"{traj.task.dataset}/{traj.task.id}", reason, [s.raw for s in traj.steps]):
                writer.write(traj)
            progress.advance()
        if refuse_empty:
            _refuse_empty(src, sel)
    return sel.finish()


def filter_cot(
    src: Path,
    dst: Path,
    max_per_task: int = 1,
    judge: Any = None,
    require_correct: bool = True,
    refuse_empty: bool = False,
) -> FilterReport:
    """The CoT-distillation counterpart: keep correct, distinct CoT answers (QA re-graded by ``judge``).
    ``require_correct=False`` (smoke tests) keeps every answered attempt; failed attempts are never kept.
    Records are written back as they were; one whose ``task`` or ``text`` is missing or of the wrong type
    raises ``JsonlError`` naming file, line and field (``refuse_empty``: so does a ``src`` without records);
    ``dst`` is then left as it was."""
    sel = _Selector(max_per_task)
    with atomic_file(dst, src) as tmp, JsonlAppender(tmp) as out, _judge_progress(src, judge) as progress:
        for lineno, rec in iter_jsonl(src):
            task = check_record(src, lineno, rec, _CotFields).task
            if judge is not None and rec.get("answer") is not None and not rec.get("error"):
                rec["correct"] = rejudge(task, rec["answer"], bool(rec.get("correct")), judge, sel.report)
            if rec.get("error"):
                reason: str | None = "error"
            elif rec.get("correct") or (not require_correct and rec.get("text")):
                reason = None
            else:
                reason = "incorrect" if rec.get("answer") is not None else "no_answer"
            if sel.keep(f"{task.dataset}/{task.id}", reason, [rec.get("text") or ""]):
                out.write(rec)
            progress.advance()
        if refuse_empty:
            _refuse_empty(src, sel)
    return sel.finish()


def run_filter(
    src: Path, dst: Path, mode: str = "agent", max_per_task: int = 1, judge: Any = None, **agent_options: bool
) -> FilterReport:
    """Filter ``src`` by its mode: agent trajectories (``agent_options``: keep_exec_errors, require_correct,
    require_parsed) or CoT records (no options); ``judge`` re-grades QA answers in both. A ``src`` without
    records is refused (``JsonlError``; nothing written), as ``generate`` refuses a task file without tasks.
    Raises ``ValueError`` for another mode or ``max_per_task`` < 1."""
    if max_per_task < 1:
        raise ValueError(f"max_per_task must be >= 1, got {max_per_task}")
    if mode == "agent":
        return filter_trajectories(src, dst, max_per_task, judge=judge, refuse_empty=True, **agent_options)
    if mode == "cot":
        return filter_cot(src, dst, max_per_task, judge=judge, refuse_empty=True)
    raise ValueError(f"filter mode must be agent or cot, got {mode!r}")
