"""Cgroups per episode family when the host runs as root: ``pids`` (required) and ``memory`` (when the kernel has
the controller), on cgroup v2 or v1.

Why pids: the kernel never applies RLIMIT_NPROC to processes whose real uid is host root, and under root the
sandbox's uid maps to root outside. As a normal user RLIMIT_NPROC (counted per user namespace, so per family)
does the job and no cgroup is needed. A root host where no pids controller is writable gets a
``CgroupUnavailable`` (the sandbox fails closed).

Why memory: ``RLIMIT_AS`` is per process, so an episode's processes together (the worker, its SAG forks, what its
code forks within a step) could hold the process cap times ``memory_mb``: tens of GiB, the host's whole memory.
The memory group caps their resident memory and tmpfs pages together at ``episode_memory_mb``; past it the
kernel kills the largest process of the episode (workers make themselves the first choice, ``_worker.py``). On
v1 the group is made inside the host process's own memory group, so the host's own limit still applies.

The family's init is moved into the groups before it forks any worker, so every process of the episode is in
them. Groups left behind by host processes that died are removed when the next group is made.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time

_V2 = "/sys/fs/cgroup"
_V1 = "/sys/fs/cgroup/pids"
_V1_MEMORY = "/sys/fs/cgroup/memory"
_counter = itertools.count(1)
_NAME = re.compile(r"agentdistill-([0-9]+)-[0-9]+")
_cleaned: set[str] = set()


class CgroupUnavailable(RuntimeError):
    pass


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _v2() -> bool:
    return os.path.exists(os.path.join(_V2, "cgroup.controllers"))


def _base() -> str:
    if _v2():
        with open(os.path.join(_V2, "cgroup.controllers")) as fh:
            controllers = fh.read().split()
        if "pids" not in controllers:
            raise CgroupUnavailable("cgroup v2 has no pids controller")
        parent = os.path.join(_V2, "agentdistill")
        os.makedirs(parent, exist_ok=True)
        wanted = ["pids"] + (["memory"] if "memory" in controllers else [])
        for c in wanted:
            with contextlib.suppress(OSError):
                _write(os.path.join(_V2, "cgroup.subtree_control"), f"+{c}")
            with contextlib.suppress(OSError) if c == "memory" else contextlib.nullcontext():
                _write(os.path.join(parent, "cgroup.subtree_control"), f"+{c}")
        return parent
    if os.path.isdir(_V1) and os.access(_V1, os.W_OK):
        return _V1
    raise CgroupUnavailable("no writable pids cgroup (v2 pids controller or v1 /sys/fs/cgroup/pids)")


def _v1_memory_base() -> str | None:
    """The host process's own v1 memory group (a writable dir), or None."""
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, rel = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                path = os.path.join(_V1_MEMORY, rel.lstrip("/"))
                return path if os.access(path, os.W_OK) else None
    return None


def _remove_stale(base: str) -> None:
    """Remove groups of host processes that are gone (once per base and host process; a busy one stays)."""
    if base in _cleaned:
        return
    _cleaned.add(base)
    with contextlib.suppress(OSError):
        for name in os.listdir(base):
            m = _NAME.fullmatch(name)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(base, name))


def _make(base: str) -> str:
    _remove_stale(base)
    path = os.path.join(base, f"agentdistill-{os.getpid()}-{next(_counter)}")
    os.mkdir(path)
    return path


class FamilyCgroups:
    """One family's groups: ``pids.max`` of ``pids_max``; with ``memory_bytes`` > 0 also a memory limit where the
    controller exists (``memory`` says whether it does). ``add(pid)`` before the family forks; ``remove()``
    after it is gone. Raises ``CgroupUnavailable`` when no pids group can be made."""

    def __init__(self, pids_max: int, memory_bytes: int = 0) -> None:
        self.paths: list[str] = []
        try:
            self.path = _make(_base())
            self.paths.append(self.path)
            _write(os.path.join(self.path, "pids.max"), str(pids_max))
        except OSError as exc:
            self.remove()
            raise CgroupUnavailable(f"cannot create a pids cgroup: {exc}") from None
        self.memory = bool(memory_bytes) and self._limit_memory(memory_bytes)

    def _limit_memory(self, limit: int) -> bool:
        try:
            if _v2():
                if not os.path.exists(os.path.join(self.path, "memory.max")):
                    return False
                _write(os.path.join(self.path, "memory.max"), str(limit))
                if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                    _write(os.path.join(self.path, "memory.swap.max"), "0")
                return True
            base = _v1_memory_base()
            if base is None:
                return False
            path = _make(base)
            try:
                _write(os.path.join(path, "memory.limit_in_bytes"), str(limit))
                if os.path.exists(os.path.join(path, "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(limit))
            except OSError:
                os.rmdir(path)
                raise
            self.paths.append(path)
            return True
        except OSError:
            return False

    def add(self, pid: int) -> None:
        for path in self.paths:
            _write(os.path.join(path, "cgroup.procs"), str(pid))

    def remove(self) -> None:
        for path in self.paths:
            for _ in range(50):  # the kernel may still be tearing the family down
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
