"""Every bundled task set loads whole: no empty answer, no bad record, counts as in the index."""

from __future__ import annotations

import pytest

from agentdistill.data import list_task_sets, load_tasks
from agentdistill.data.catalog import SPECS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bundled_set_loads(name: str) -> None:
    tasks = load_tasks(name)  # raises DataError naming file/line/field on any bad record
    info = {i.name: i for i in list_task_sets()}[name]
    assert len(tasks) == info.count > 0
    assert all(t.answer.strip() for t in tasks)
    assert len({t.id for t in tasks}) == len(tasks)


def test_math_train_zero_answers_are_kept() -> None:
    """Two MATH problems whose answer is 0 had lost it to a falsy test upstream (line 175 was empty)."""
    tasks = {t.id: t for t in load_tasks("math-train")}
    assert tasks["174"].answer == "0" and tasks["499"].answer == "0"
