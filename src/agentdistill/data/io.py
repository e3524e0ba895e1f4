"""Reading task records from user files (JSON, JSONL, CSV, optionally gzipped) and writing reproducible JSONL.gz."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentdistill.data.errors import DataError
from agentdistill.data.task import Task

_TASK_FIELDS = ("id", "dataset", "kind", "question", "answer", "aliases", "meta")


def _open_text(path: Path) -> io.TextIOBase:
    """UTF-8 text, a byte order mark skipped (Excel's "CSV UTF-8" writes one before the header)."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig")
    return path.open(encoding="utf-8-sig", newline="")


def _base_suffix(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    return suffixes[-1].lower() if suffixes else ""


def iter_raw_records(path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Yield (line number or None, record dict); JSON may be a list or {examples|data|tasks: [...]}.
    Raises DataError naming the file for bad records, bytes that are not UTF-8 and a corrupt, truncated or
    mislabelled gzip file."""
    try:
        yield from _raw_records(path)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start} of a read block)", file=path
        ) from None
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        why = str(exc) or "the compressed data ends early"
        raise DataError(f"corrupt or truncated gzip file ({why})", file=path) from None


def _raw_records(path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    kind = _base_suffix(path)
    with _open_text(path) as fh:
        if kind in (".jsonl", ".ndjson"):
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"invalid JSON ({exc.msg} at column {exc.colno})", file=path, line=lineno
                    ) from None
                if not isinstance(rec, dict):
                    raise DataError(
                        f"expected a JSON object, got {type(rec).__name__}", file=path, line=lineno
                    )
                yield lineno, rec
        elif kind == ".json":
            text = fh.read()
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"invalid JSON ({exc.msg} at column {exc.colno})", file=path, line=exc.lineno
                ) from None
            if isinstance(data, dict):
                for key in ("examples", "data", "tasks", "questions"):
                    if isinstance(data.get(key), list):
                        data = data[key]
                        break
                else:
                    raise DataError("expected a list or an object with an 'examples' list", file=path)
            if not isinstance(data, list):
                raise DataError(f"expected a list of records, got {type(data).__name__}", file=path)
            for i, rec in enumerate(data):
                if not isinstance(rec, dict):
                    raise DataError(f"record {i} is {type(rec).__name__}, expected an object", file=path)
                yield None, rec
        elif kind in (".csv", ".tsv"):
            reader = csv.DictReader(fh, delimiter="\t" if kind == ".tsv" else ",")
            for rec in reader:
                yield reader.line_num, dict(rec)
        else:
            raise DataError(
                f"unsupported file type {kind or '(none)'}; use .json, .jsonl, .csv or .tsv (optionally .gz)",
                file=path,
            )


def record_to_task(
    rec: dict[str, Any],
    *,
    index: int,
    path: Path,
    line: int | None,
    dataset: str,
    kind: str | None = None,
    field_map: dict[str, str] | None = None,
) -> Task:
    """Map a raw record to a Task; `field_map` maps Task field -> source column (e.g. {"question": "Q"})."""
    fmap = dict(field_map or {})
    where = {"file": path, "line": line if line is not None else None}

    def get(field: str) -> Any:
        src = fmap.get(field, field)
        if src in rec:
            return rec[src]
        if field == "question" and "problem" in rec and field not in fmap:
            return rec["problem"]
        return None

    out: dict[str, Any] = {}
    for field in ("question", "answer"):
        val = get(field)
        if val is None or (isinstance(val, str) and not val.strip()):
            rec_where = "" if line is not None else f" (record {index})"
            raise DataError(
                f"missing or empty{rec_where}; columns present: {sorted(rec)}",
                field=fmap.get(field, field),
                **where,
            )
        out[field] = (
            val if isinstance(val, str) else json.dumps(val) if isinstance(val, list | dict) else str(val)
        )
    out["id"] = str(get("id")) if get("id") not in (None, "") else str(index)
    out["dataset"] = str(get("dataset") or dataset)
    k = get("kind") or kind or "qa"
    if k not in ("qa", "math"):
        raise DataError(f"kind must be 'qa' or 'math', got {k!r}", field=fmap.get("kind", "kind"), **where)
    out["kind"] = k
    out["aliases"] = _aliases(get("aliases"), field=fmap.get("aliases", "aliases"), where=where)
    meta = _meta(get("meta"), field=fmap.get("meta", "meta"), where=where)
    used = {fmap.get(f, f) for f in _TASK_FIELDS} | {"problem"}
    meta = {**{k2: v for k2, v in rec.items() if k2 not in used}, **meta}
    out["meta"] = meta
    try:
        return Task(**out)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataError(err["msg"], field=".".join(map(str, err["loc"])), **where) from None


def _aliases(value: Any, *, field: str, where: dict[str, Any]) -> list[str]:
    """Accepted answers: a list of strings (numbers are written as text), a JSON list in a string, or
    ``a|b`` (CSV); absent or empty: none. Anything else raises DataError naming the field."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else [a for a in value.split("|") if a]
        except json.JSONDecodeError:
            raise DataError("must be a JSON list or '|'-separated", field=field, **where) from None
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(a, str | int | float) and not isinstance(a, bool) for a in value
    ):
        raise DataError(
            f"must be a list of strings (or one '|'-separated string), got {json.dumps(value)[:80]}",
            field=field,
            **where,
        )
    return [str(a) for a in value]


def _meta(value: Any, *, field: str, where: dict[str, Any]) -> dict[str, Any]:
    """Free-form task metadata: a JSON object (in CSV, the object's JSON text); absent or empty: none. Anything
    else raises DataError naming the field (it used to be dropped without a word)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):  # plain text: refused below, quoted
            value = json.loads(value)
    if not isinstance(value, dict):
        raise DataError(f"must be a JSON object, got {json.dumps(value)[:80]}", field=field, **where)
    return value


def read_tasks_file(
    path: str | Path, *, field_map: dict[str, str] | None = None, kind: str | None = None
) -> list[Task]:
    """Read a user file into Tasks; a bundled set file (Task records) goes through the same path.

    The set name is the ``dataset`` field, else the file name up to its first dot. Raises DataError naming the
    file and line for a bad record, and for two records with the same (set, id): every record is keyed by it
    (resume, summaries), so the later one would replace the earlier without a word.
    """
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", file=p)
    dataset = p.name.split(".")[0]
    tasks: list[Task] = []
    first_at: dict[tuple[str, str], str] = {}
    for i, (line, rec) in enumerate(iter_raw_records(p)):
        task = record_to_task(
            rec, index=i, path=p, line=line, dataset=dataset, kind=kind, field_map=field_map
        )
        key = (task.dataset, task.id)
        if key in first_at:
            raise DataError(
                ("" if line is not None else f"record {i}: ")
                + f"task id {task.id!r} of set {task.dataset!r} repeats {first_at[key]}; results are keyed by"
                " (set, id), so one question would silently replace the other: give each record its own id"
                " (or drop the id column to number records)",
                file=p,
                line=line,
            )
        first_at[key] = f"line {line}" if line is not None else f"record {i}"
        tasks.append(task)
    return tasks


def write_jsonl_gz(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as gzipped JSONL, byte-reproducible (mtime 0, no file name in the header)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with (
        p.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        for rec in records:
            gz.write((json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
            n += 1
    return n
