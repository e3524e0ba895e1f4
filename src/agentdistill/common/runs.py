"""Resumable batch work: one runner for teacher rollouts (`generate`) and evaluation (`eval`).

An output JSONL is keyed by (set, task id, sample): bundled sets reuse ids (``gsm8k-train`` and
``math-medium-train`` both start at ``0``), so the set is part of the key. A settings stamp beside the output
records what made it; resuming with other settings (another model, temperature, prompt...) is refused with a
message naming the changed fields, or the old output is moved to ``.stale-N`` when the caller asks. Records
whose ``failed`` predicate holds (backend unreachable, sandbox crash) do not count as done: the next run
retries them, and readers keep the last record per key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agentdistill.common.files import atomic_write_json, move_stale
from agentdistill.common.jsonl import JsonlAppender, check_record, iter_jsonl
from agentdistill.common.progress import announce_resume, stage_progress

T = TypeVar("T")
R = TypeVar("R")


def record_key(dataset: str, task_id: str, sample: int = 0) -> str:
    """The resume key of one attempt: ``<set>/<task id>#<sample>``."""
    return f"{dataset}/{task_id}#{int(sample or 0)}"


class StaleOutputError(RuntimeError):
    """Output was made with other settings; resuming into it would mix records. Message names the fields."""


def stamp_path(output: Path) -> Path:
    """Where the settings stamp of ``output`` lives: ``<dir>/stamp.json`` or ``<file>.stamp.json``."""
    output = Path(output)
    return (
        output / "stamp.json"
        if output.is_dir() or not output.suffix
        else output.with_name(output.name + ".stamp.json")
    )


def check_stamp(
    stamp: Path,
    settings: dict[str, Any],
    *,
    has_output: bool,
    archive: Path | None = None,
    what: str = "output",
    adopt_unstamped: bool = False,
) -> Path | None:
    """Write ``settings`` to ``stamp``, or refuse when existing output was made with other settings.

    ``has_output`` says whether there is anything to resume (no output: the stamp is simply (re)written).
    With ``archive`` (a file or dir holding the output) a mismatch moves it to ``<archive>.stale-N`` and
    starts afresh instead of raising; the new path is returned. Raises :class:`StaleOutputError` otherwise.
    Output without a stamp is refused too (its settings are unknown), unless ``adopt_unstamped``: a caller that
    has checked the settings by other means (the pipeline's own stage stamp) adopts it. A stamp that cannot be
    read (not JSON, not a JSON object) counts as settings unknown; the error names it and says why.
    """
    stamp = Path(stamp)
    current = json.loads(json.dumps(settings, sort_keys=True, default=str))
    before, unknown = None, ""
    if stamp.exists():
        before, unknown = _read_stamp(stamp)
    elif has_output and not adopt_unstamped:
        unknown = f"it has no settings stamp ({stamp} does not exist)"
    moved = None
    if has_output and (unknown or (before is not None and before != current)):
        if archive is None:
            advice = "Delete it, move it aside, or choose another output path"
            if unknown:
                raise StaleOutputError(
                    f"{what}: the settings it was made with are unknown: {unknown}; refusing to resume "
                    f"into it. {advice}"
                )
            before = before or {}
            changed = sorted(k for k in set(before) | set(current) if before.get(k) != current.get(k))
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {current.get(k)!r}" for k in changed[:6])
            raise StaleOutputError(
                f"{what} was made with other settings ({detail}); refusing to resume into it. "
                f"{advice} ({stamp} holds the old settings)"
            )
        moved = move_stale(archive)
        if archive != stamp.parent and stamp.exists():
            move_stale(stamp)
    atomic_write_json(stamp, current)
    return moved


def _read_stamp(stamp: Path) -> tuple[dict[str, Any] | None, str]:
    """``(settings, "")`` from a stamp file, or ``(None, why)`` when it cannot be read as a JSON object."""
    try:
        before = json.loads(stamp.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"{stamp}: cannot be read ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return None, f"{stamp}: not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"{stamp}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(before, dict):
        return None, f"{stamp}: not a JSON object (a {type(before).__name__})"
    return before, ""


@dataclass
class BatchResult:
    """What one :func:`run_batch` call did: items written now, skipped as done, and written as failed."""

    new: int = 0
    skipped: int = 0
    failed: int = 0


def run_ordered(
    items: Iterable[T], fn: Callable[[T], R], finish: Callable[[R], None], workers: int = 1
) -> None:
    """``finish(fn(item))`` for each item, in input order; ``workers > 1`` keeps that many calls in flight.

    Results are finished in order so a resumed run's file reads the same as an uninterrupted one. An exception
    from ``fn`` or ``finish`` stops the run: calls in flight end (their results are dropped), queued ones never
    start, and the exception propagates.
    """
    if workers <= 1:
        for item in items:
            finish(fn(item))
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for result in pool.map(fn, items):
            finish(result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batch(
    items: Sequence[T],
    key: Callable[[T], str],
    work: Callable[[T], R],
    out: Path,
    *,
    record_key_of: Callable[[dict[str, Any]], str],
    to_json: Callable[[R], dict[str, Any]],
    failed: Callable[[dict[str, Any]], bool] = lambda r: False,
    tokens: Callable[[R], int] = lambda r: 0,
    workers: int | Callable[[], int] = 1,
    description: str = "batch",
    on_record: Callable[[R], None] | None = None,
    before_work: Callable[[int], None] | None = None,
    record_model: type | None = None,
    after_write: Callable[[dict[str, Any]], None] | None = None,
) -> BatchResult:
    """Run ``work`` on every item whose key is not yet done in ``out``, appending each result as one line.

    A key is done when ``out`` holds a record with that key that is not ``failed``. Writes are whole lines,
    flushed and fsynced, in input order. ``before_work(n_todo)`` is called once before the first item (e.g. to
    load a model only when something is left); ``workers`` may be a callable read after it. ``after_write(line)``
    sees each record's JSON once it is written; an exception from it stops the batch (the lines written stay;
    see `run_ordered`) and propagates, e.g. `agentdistill.llm.reachability.UnreachableBreaker`. Progress and the
    resume announcement go to stderr.

    ``record_model`` (a pydantic model of the records): every record already in ``out`` is validated before
    any work, so a record without its ``task`` raises ``JsonlError`` naming file, line and field (the file is
    left as it was, a torn last line aside) instead of a ``KeyError`` from ``record_key_of``.
    """
    out = Path(out)
    lock = threading.Lock()
    writer = JsonlAppender(out)  # repairs a torn tail first
    try:
        done = _done_keys(out, record_key_of, failed, record_model)
        todo = [it for it in items if key(it) not in done]
        result = BatchResult(skipped=len(items) - len(todo))
        announce_resume(description, result.skipped, len(items), out)
        if todo and before_work is not None:
            before_work(len(todo))
        with stage_progress(description, total=len(items), done=result.skipped) as bar:

            def finish(rec: R) -> None:
                with lock:
                    d = to_json(rec)
                    writer.write(d)
                    result.new += 1
                    result.failed += bool(failed(d))
                    bar.advance(1, tokens(rec))
                    if on_record is not None:
                        on_record(rec)
                    if after_write is not None:
                        after_write(d)

            run_ordered(todo, work, finish, workers() if callable(workers) else workers)
    finally:
        writer.close()
    return result


def _done_keys(
    out: Path,
    record_key_of: Callable[[dict[str, Any]], str],
    failed: Callable[[dict[str, Any]], bool],
    record_model: type | None,
) -> set[str]:
    """The keys of the records in ``out`` that are not ``failed``; each record validated as ``record_model``
    first when given (raises ``JsonlError`` naming file, line and field)."""
    done: set[str] = set()
    for lineno, r in iter_jsonl(out):
        if record_model is not None:
            check_record(out, lineno, r, record_model)
        if not failed(r):
            done.add(record_key_of(r))
    return done


def latest_by_key(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """Keep the last record per key (a retried failure replaces the failed attempt), in first-seen order."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out[key(r)] = r
    return list(out.values())
