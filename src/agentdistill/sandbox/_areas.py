"""Scratch areas of a family (worker side; stdlib only, runs inside the sandbox before model code).

Layout under the family root: an *area* is a dir holding ``work`` (model code's cwd, HOME and TMPDIR) and the
areas of its SAG forks — ``w0/work``, ``w0/f12-0/work``, ``w0/f12-0/f31-0/work``. Each worker's Landlock domain
(``_oslayer.restrict_writes``) is its area, so a fork, nested inside its parent's area, can be confined to its
own. Paths are walked one component at a time with ``O_NOFOLLOW``: a symlink planted by model code in place of
an area never redirects where a worker may write.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat

COPY_DEPTH = 32
_COMPONENT = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_FORK_NAME = re.compile(r"f[0-9]+-[0-9a-f]+", re.ASCII)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class AreaError(OSError):
    """A scratch path that is not an area's (a '..', a symlink, an odd name), or an area that cannot be made."""


def open_beneath(root: str, rel: str, create: bool) -> int:
    """A dir fd for ``root/rel``, walked component by component without following symlinks (``mkdir`` of
    missing ones when ``create``). Raises ``AreaError`` for a component that is not a plain name or a dir."""
    parts = rel.split("/") if rel else []
    if any(not _COMPONENT.fullmatch(p) for p in parts):
        raise AreaError(f"not a scratch path: {rel!r}")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fd)
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:  # ELOOP / ENOTDIR: a symlink or a file where a dir should be
                raise AreaError(
                    f"scratch path {rel!r}: {part!r} is not a directory ({exc.strerror})"
                ) from None
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def area_of(work: str) -> str:
    """The area of working dir ``work`` (``w0/f12-0/work`` -> ``w0/f12-0``)."""
    return os.path.dirname(work)


def make_fork_area(root: str, old: str, name: str | None = None) -> tuple[str, int]:
    """A new area ``name`` (the host chooses it; tests let it default) inside the area of working dir ``old``,
    with an empty ``work``: ``(new work dir, area fd)``. Raises ``AreaError`` if ``name`` exists already (a dir
    made in advance, maybe full of links, is never taken over)."""
    if name is not None and not _FORK_NAME.fullmatch(name):
        raise AreaError(f"not a fork area name: {name!r}")
    parent = open_beneath(root, area_of(old), create=False)
    try:
        if name is None:
            name = f"f{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            raise AreaError(f"fork area {name!r} exists already") from None
        area = os.open(name, _DIR_FLAGS, dir_fd=parent)
    finally:
        os.close(parent)
    os.mkdir("work", 0o700, dir_fd=area)
    return f"{area_of(old)}/{name}/work" if area_of(old) else f"{name}/work", area


def copy_work(root: str, old: str, new: str) -> None:
    """Copy working dir ``old`` into the (empty) working dir ``new`` (both relative to ``root``)."""
    src, dst = open_beneath(root, old, create=False), open_beneath(root, new, create=False)
    try:
        _copy_dir(src, dst, 0)
    finally:
        os.close(src)
        os.close(dst)


def redirect_writable_fds(old_work: str, new_work: str) -> int:
    """In a fork: every fd open for writing on a regular file (a log the parent's code left open) now writes the
    fork's copy of that file when it lies in the parent's working dir, else /dev/null; offsets are kept. Shared
    memory mappings are not covered. Returns how many fds were moved."""
    moved = 0
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            st, flags = os.fstat(fd), fcntl.fcntl(fd, fcntl.F_GETFL)
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the listing's own fd, closed since
        if not stat.S_ISREG(st.st_mode) or flags & os.O_ACCMODE == os.O_RDONLY:
            continue
        new = -1
        if target.startswith(old_work.rstrip("/") + "/"):
            try:
                new = os.open(
                    new_work + target[len(old_work.rstrip("/")) :],
                    flags & (os.O_ACCMODE | os.O_APPEND) | os.O_NOFOLLOW,
                )
            except OSError:
                new = -1
        if new < 0:
            new = os.open("/dev/null", os.O_WRONLY)
        try:
            pos = os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:
            pos = 0
        os.dup2(new, fd, inheritable=os.get_inheritable(fd))
        os.close(new)
        with contextlib.suppress(OSError):
            os.lseek(fd, pos, os.SEEK_SET)
        moved += 1
    return moved


def cut_inherited_channels(keep: int) -> int:
    """In a SAG fork, before any code of the parent's episode runs in it: every inherited fd that can carry data
    between processes (a socket, a pipe or FIFO, an anonymous inode such as an eventfd) except ``keep`` (the
    fork's own channel) now points at /dev/null. The parent's channel, and socketpairs or pipes its code made
    to reach later candidates, are cut. Returns how many fds were cut."""
    null, cut = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC), 0
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in (keep, null):
                continue
            try:
                kind = stat.S_IFMT(os.fstat(fd).st_mode)
            except OSError:
                continue  # the listing's own fd, closed since
            if kind in (stat.S_IFSOCK, stat.S_IFIFO, 0):
                os.dup2(null, fd, inheritable=os.get_inheritable(fd))
                cut += 1
    finally:
        os.close(null)
    return cut


def _copy_file(name: str, src_dir: int, dst_dir: int) -> None:
    """Copy one regular file (never follows a symlink, never blocks on a FIFO; holes stay holes)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=src_dir)
    except OSError:
        return  # swapped for a symlink or removed since the scan: skip
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        out = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, st.st_mode & 0o700, dir_fd=dst_dir
        )
        try:
            pos = 0
            while pos < st.st_size:
                try:
                    start = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError:
                    break  # only a hole remains
                end = os.lseek(fd, start, os.SEEK_HOLE)
                os.lseek(fd, start, os.SEEK_SET)
                os.lseek(out, start, os.SEEK_SET)
                left = end - start
                while left > 0:
                    chunk = os.read(fd, min(left, 1 << 20))
                    if not chunk:
                        break
                    os.write(out, chunk)
                    left -= len(chunk)
                pos = end
            os.ftruncate(out, st.st_size)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _copy_dir(src_dir: int, dst_dir: int, depth: int) -> None:
    if depth > COPY_DEPTH:
        return
    for entry in os.scandir(src_dir):
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(entry.name, 0o700, dir_fd=dst_dir)
            try:
                sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_dir)
            except OSError:
                continue
            dsub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dst_dir)
            try:
                _copy_dir(sub, dsub, depth + 1)
            finally:
                os.close(sub)
                os.close(dsub)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.name, dir_fd=src_dir), entry.name, dir_fd=dst_dir)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(entry.name, src_dir, dst_dir)
        # FIFOs, sockets and devices are not copied
