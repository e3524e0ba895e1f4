"""Crash-safe JSONL: whole lines only, flushed and fsynced per record, so a killed run resumes cleanly.

A record is either fully on disk (ending in a newline) or not there at all; a torn last line left by
a kill is cut off on open, never parsed as data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

M = TypeVar("M")


class JsonlError(ValueError):
    """A malformed line in a JSONL file; the message names the file and line."""


def repair_tail(path: Path) -> int:
    """Drop a torn final line (no trailing newline) left by a killed writer; return bytes removed."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        # walk back to the last newline
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            idx = buf.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                f.truncate(keep)
                return size - keep
            pos = start
        f.truncate(0)
        return size


def iter_jsonl(
    path: Path, *, on_torn_tail: Callable[[str], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record); a bad line (not UTF-8, not JSON, not an object) raises JsonlError naming
    file and line. Lines end at ``\n`` only; a UTF-8 byte order mark before the first line is skipped.

    A last line without its newline (a killed writer) raises too, unless ``on_torn_tail`` is given: then it is
    called with a message naming the file, line and size, and the line is skipped (readers that may run beside
    a writer, or after a kill, use this; writers repair the tail with ``repair_tail``).
    """
    with Path(path).open("rb") as f:  # split on "\n" only: U+2028 and U+0085 may sit inside a JSON string
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise JsonlError(
                    f"{path}:{lineno}: not UTF-8 ({e.reason} at byte {e.start} of the line)"
                ) from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a byte order mark (editors on Windows write one)
            if not line.strip():
                continue
            if not line.endswith("\n"):
                msg = f"{path}:{lineno}: truncated last line ({len(line)} characters; a killed writer?)"
                if on_torn_tail is None:
                    raise JsonlError(msg + "; re-run to repair")
                on_torn_tail(msg + ", skipped")
                return
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise JsonlError(f"{path}:{lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise JsonlError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield lineno, record


def read_jsonl(
    path: Path, model: type[M], *, on_torn_tail: Callable[[str], None] | None = None
) -> Iterator[tuple[int, M]]:
    """Yield (line number, validated ``model``); errors read ``FILE:LINE: field 'a.b': message``."""
    for lineno, record in iter_jsonl(path, on_torn_tail=on_torn_tail):
        yield lineno, check_record(path, lineno, record, model)


def check_record(path: Path, lineno: int, record: dict[str, Any], model: type[M]) -> M:
    """``record`` (line ``lineno`` of ``path``) validated as ``model``; raises JsonlError
    ``FILE:LINE: field 'a.b': message`` (for readers that keep the record as it is, e.g. to write it back)."""
    from pydantic import ValidationError

    try:
        return model.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "<record>"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise JsonlError(f"{path}:{lineno}: field '{loc}': {first['msg']}{more}") from None


class JsonlAppender:
    """Append records one whole line at a time; ``done`` holds the keys already on disk (for resume)."""

    def __init__(self, path: Path, key: Callable[[dict[str, Any]], str] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self.key = key
        self.done: set[str] = set()
        if key is not None and self.path.exists():
            for _, rec in iter_jsonl(self.path):
                self.done.add(key(rec))
        self._f = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        self._f.write(line + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        if self.key is not None:
            self.done.add(self.key(record))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
