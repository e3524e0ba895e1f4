"""Host side: processes that model code started do not outlive its step.

Without this, code could ``fork`` (or ``_posixsubprocess.fork_exec`` with a ``preexec_fn``, past the Python
guards) children that spin in the background for the rest of the episode, up to the process cap times the hard
``RLIMIT_CPU`` of each, and leave helpers behind for later steps and SAG candidates. When a step ends (and when a
worker is killed) the host kills, with SIGKILL through a pidfd, every process below that step's worker and every
orphan of the family (a child of the family's init, reparented there when its parent died), except the live
episode workers the host knows and what runs below *them*. A process is killed only when the kernel shows it in
the family's own pid namespace (checked while its pidfd is held), so a reused pid never names a host process.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal

PASSES = 10  # a process may fork while we look; each pass catches what the last one missed
WAIT_SECONDS = 2.0


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s children (of every thread), from /proc; [] when it is gone."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/task/{tid}/children") as fh:
            out += [int(c) for c in fh.read().split()]
    return out


def pid_namespace(pid: int) -> str:
    """The pid namespace of ``pid`` as the kernel names it (``pid:[4026532...]``); raises ``OSError``."""
    return os.readlink(f"/proc/{pid}/ns/pid")


def _pidfd_in(pid: int, ns: str) -> int | None:
    """A pidfd for ``pid`` if that process is alive and in pid namespace ``ns``, else None."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    try:
        ok = pid_namespace(pid) == ns and not select.select([fd], [], [], 0)[0]  # still the same process
    except OSError:
        ok = False
    if not ok:
        os.close(fd)
        return None
    return fd


def sweep(init: int, ns: str, worker: int, keep: frozenset[int] | set[int]) -> int:
    """Kill the processes below ``worker`` and the orphans of the family init ``init`` (host pids), never the
    pids in ``keep`` (live workers) or their descendants, and wait up to 2 s for them to die. ``worker`` itself
    is killed too when it is not in ``keep``. Returns how many processes were killed."""
    killed = 0
    for _ in range(PASSES):
        strays: dict[int, int] = {}
        roots = [c for c in _children(init) if c not in keep]
        roots.append(worker)
        todo: list[tuple[int, bool]] = [(p, p != worker or worker not in keep) for p in roots]
        while todo:
            pid, stray = todo.pop()
            if pid in strays:
                continue
            fd = _pidfd_in(pid, ns)
            if fd is None:
                continue
            if stray:
                strays[pid] = fd
            else:
                os.close(fd)
            todo += [(c, True) for c in _children(pid) if c not in keep and c != init]
        if not strays:
            break
        for fd in strays.values():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        with contextlib.suppress(OSError):  # dead (not yet reaped) before the next pass lists the tree
            pending = list(strays.values())
            while pending:
                done, _, _ = select.select(pending, [], [], WAIT_SECONDS)
                if not done:
                    break
                pending = [fd for fd in pending if fd not in done]
        for fd in strays.values():
            os.close(fd)
        killed += len(strays)
    return killed
