"""`grade(task, prediction)`: the one entry point, dispatching on the task kind."""

from __future__ import annotations

from agentdistill.data.task import Task
from agentdistill.grading.math import NUMERIC_TOLERANCE, grade_math
from agentdistill.grading.qa import grade_qa
from agentdistill.grading.types import Grade


def grade(task: Task, prediction: object, *, numeric_tolerance: float = NUMERIC_TOLERANCE) -> Grade:
    """Grade one prediction: QA -> EM/F1/cover-EM over answer + aliases; math -> equivalence."""
    if task.kind == "qa":
        return grade_qa(prediction, [task.answer, *task.aliases])
    if task.kind == "math":
        best = grade_math(prediction, task.answer, numeric_tolerance)
        for alias in task.aliases:
            if best.correct:
                break
            best = grade_math(prediction, alias, numeric_tolerance)
        return best
    raise ValueError(f"task {task.id!r}: unknown kind {task.kind!r}")
