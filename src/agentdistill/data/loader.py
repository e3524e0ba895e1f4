"""`load_tasks`: a bundled set by name, or a user's JSON/JSONL/CSV file with an optional field mapping."""

from __future__ import annotations

import difflib
from pathlib import Path

from agentdistill.data.catalog import SPECS, set_path
from agentdistill.data.errors import DataError
from agentdistill.data.io import read_tasks_file
from agentdistill.data.task import Task

_PATH_HINTS = (".json", ".jsonl", ".csv", ".tsv", ".gz", ".ndjson")


def load_tasks(
    name_or_path: str | Path, limit: int | None = None, field_map: dict | None = None, kind: str | None = None
) -> list[Task]:
    """Load tasks; `limit` keeps the first n (sets are stored in a fixed order, so this is reproducible)."""
    if limit is not None and limit < 0:
        raise DataError(f"limit must be >= 0, got {limit}")
    name = str(name_or_path)
    if name in SPECS:
        p = set_path(name)
        if not p.exists():
            raise DataError(f"bundled set '{name}' is not built; run scripts/build_task_sets.py", file=p)
        tasks = read_tasks_file(p)
    elif Path(name).exists() or name.lower().endswith(_PATH_HINTS) or "/" in name:
        tasks = read_tasks_file(name, field_map=field_map, kind=kind)
    else:
        close = difflib.get_close_matches(name, list(SPECS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known sets: {', '.join(sorted(SPECS))}"
        raise DataError(f"unknown task set '{name}' (and no such file){hint}")
    return tasks[:limit] if limit is not None else tasks


def parse_task_spec(spec: str) -> tuple[str, int | None]:
    """``name`` or ``name:LIMIT`` (a bundled set or a file) → (name, limit); a bad limit raises DataError."""
    spec = str(spec).strip()
    if spec in SPECS or Path(spec).exists():
        return spec, None
    name, sep, limit = spec.rpartition(":")
    if not sep:
        return spec, None
    if not limit.isdigit():
        raise DataError(f"task spec '{spec}': limit '{limit}' is not a whole number (use NAME or NAME:LIMIT)")
    return name, int(limit)


def load_task_specs(specs: list[str]) -> list[Task]:
    """Tasks of several ``name[:LIMIT]`` specs, in order. A spec giving no task (empty file) raises DataError.

    Every spec is read before returning, so a bad one fails before any work starts.
    """
    if not specs:
        raise DataError("no task set given")
    groups: list[tuple[str, list[Task]]] = []
    for spec in specs:
        name, limit = parse_task_spec(spec)
        got = load_tasks(name, limit=limit)
        if not got and limit != 0:
            raise DataError("no tasks in this set (empty file?)", file=name)
        groups.append((spec, got))
    return join_task_sets(groups)


def join_task_sets(groups: list[tuple[str, list[Task]]]) -> list[Task]:
    """The tasks of several sets, in order, given as (spec, tasks) pairs.

    Raises DataError when two specs give a task with the same (set, id): records are keyed by it, so one of the
    two would be dropped from every summary. Two files with the same name (``a/test.jsonl``, ``b/test.jsonl``)
    get the same set name (``test``); the message says to rename one or give its records a ``dataset`` field.
    """
    tasks: list[Task] = []
    given_by: dict[tuple[str, str], int] = {}
    for i, (spec, got) in enumerate(groups):
        for task in got:
            first = given_by.setdefault((task.dataset, task.id), i)
            if first != i:
                raise DataError(
                    f"'{groups[first][0]}' and '{spec}' both give task {task.id!r} of set {task.dataset!r}"
                    + _collision_hint(groups[first][0], spec)
                )
        tasks.extend(got)
    return tasks


def task_spec_files(specs: list[str]) -> list[Path]:
    """The user files among ``name[:LIMIT]`` specs (bundled set names excluded): inputs an output must not be."""
    files = []
    for spec in specs:
        name, _ = parse_task_spec(spec)
        if name not in SPECS and Path(name).exists():
            files.append(Path(name))
    return files


def _collision_hint(first: str, second: str) -> str:
    stems = {Path(parse_task_spec(spec)[0]).name.split(".")[0] for spec in (first, second)}
    files = all(parse_task_spec(spec)[0] not in SPECS for spec in (first, second))
    if files and len(stems) == 1 and first != second:
        return (
            f"; both files are named '{stems.pop()}', which names their set: rename one,"
            " or give its records a 'dataset' field"
        )
    return "; a task may be given once (the same set twice, or overlapping slices of one set?)"
