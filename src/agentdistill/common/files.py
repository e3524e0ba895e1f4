"""Files that are either whole or absent: atomic writes (temp + rename), ``.stale-N`` renames, hashing, cache dir.

A kill at any point leaves either the old file/directory or the new one under the final name, never a
truncated one: content goes to a temporary sibling (same filesystem), is fsynced, and is renamed over the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$AGENTDISTILL_CACHE`` or the platform user cache dir (``~/.cache/agentdistill`` on Linux)."""
    env = os.environ.get("AGENTDISTILL_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("agentdistill"))


def sha256_file(path: Path, progress: Callable[[int], None] | None = None, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte pieces; ``progress(n)`` is called per piece."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
            if progress is not None:
                progress(len(block))
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _new_sibling(path: Path) -> tuple[int, Path]:
    """A new, empty, uniquely named hidden file beside ``path`` (``.<name>.<random>.tmp``), opened for writing,
    with the mode a plain ``open`` would give (0666 less the umask; ``mkstemp``'s 0600 would be kept by
    ``os.replace``)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary sibling and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_sibling(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text written atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, indent: int | None = 2) -> None:
    """``obj`` as JSON (``default=str``, trailing newline) written atomically."""
    atomic_write_text(
        path, json.dumps(obj, indent=indent, sort_keys=False, default=str, ensure_ascii=False) + "\n"
    )


@contextmanager
def atomic_file(path: Path, *inputs: Path) -> Iterator[Path]:
    """Yield a fresh temporary sibling file (unique name, never an existing file, never an input); on success
    it replaces ``path``, on an exception it is removed and ``path`` is untouched.

    A fixed scratch name (``out.with_suffix(".tmp")``) deleted before writing would delete an input that has that
    name (``filter X.tmp --out X.jsonl`` lost its input). Raises :class:`SamePathError` when ``path`` is an input.
    Shape: ``with atomic_file(out, src) as tmp: write(tmp)``."""
    path = Path(path)
    refuse_same_path(path, *inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_sibling(path)
    os.close(fd)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary sibling directory; on success it replaces ``path`` (old content removed).

    On an exception (or a kill) ``path`` is untouched and the temporary ``.<name>.tmp-*`` dir is removed (or
    left beside it, never under the final name). Shape: ``with atomic_dir(out / "merged") as tmp: save(tmp)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def stale_path(path: Path) -> Path:
    """The first free ``<path>.stale-N`` (N = 1, 2, ...)."""
    path = Path(path)
    n = 1
    while path.with_name(f"{path.name}.stale-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}.stale-{n}")


def move_stale(path: Path) -> Path:
    """Rename ``path`` (file or dir) to the first free ``.stale-N`` beside it; return the new path."""
    target = stale_path(path)
    Path(path).rename(target)
    return target


class SamePathError(ValueError):
    """An output path names one of the inputs; writing it would destroy the input."""


def refuse_same_path(output: Path, *inputs: Path) -> None:
    """Raise :class:`SamePathError` when ``output`` is the same file as any input (checked before writing)."""
    for src in inputs:
        if same_file(output, src):
            raise SamePathError(f"{output}: output path is the input {src}; choose another output path")


def same_file(a: Path, b: Path) -> bool:
    """True when two paths name the same file (resolved; hard links included when both exist)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()
