"""A pids cgroup per episode family when the host runs as root (cgroup v2, or v1's ``pids`` hierarchy).

Why: the kernel never applies RLIMIT_NPROC to processes whose real uid is host root, and under root the
sandbox's uid maps to root outside. As a normal user RLIMIT_NPROC (counted per user namespace, so per family)
does the job and no cgroup is needed. The family's init is moved into the group before it forks any worker, so
every process of the episode is in it and ``pids.max`` caps them all. A root host where no pids controller is
writable gets a ``CgroupUnavailable`` (the sandbox fails closed).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

_V2 = "/sys/fs/cgroup"
_V1 = "/sys/fs/cgroup/pids"
_counter = itertools.count(1)


class CgroupUnavailable(RuntimeError):
    pass


def _base() -> str:
    if os.path.exists(os.path.join(_V2, "cgroup.controllers")):
        with open(os.path.join(_V2, "cgroup.controllers")) as fh:
            if "pids" not in fh.read().split():
                raise CgroupUnavailable("cgroup v2 has no pids controller")
        parent = os.path.join(_V2, "agentdistill")
        os.makedirs(parent, exist_ok=True)
        with contextlib.suppress(OSError), open(os.path.join(_V2, "cgroup.subtree_control"), "w") as fh:
            fh.write("+pids")
        with open(os.path.join(parent, "cgroup.subtree_control"), "w") as fh:
            fh.write("+pids")
        return parent
    if os.path.isdir(_V1) and os.access(_V1, os.W_OK):
        return _V1
    raise CgroupUnavailable("no writable pids cgroup (v2 pids controller or v1 /sys/fs/cgroup/pids)")


class PidsCgroup:
    """``pids.max`` for one family; ``add(pid)`` before the family forks; ``remove()`` after it is gone."""

    def __init__(self, pids_max: int) -> None:
        try:
            self.path = os.path.join(_base(), f"agentdistill-{os.getpid()}-{next(_counter)}")
            os.mkdir(self.path)
            with open(os.path.join(self.path, "pids.max"), "w") as fh:
                fh.write(str(pids_max))
        except OSError as exc:
            raise CgroupUnavailable(f"cannot create a pids cgroup: {exc}") from None

    def add(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as fh:
            fh.write(str(pid))

    def remove(self) -> None:
        for _ in range(50):  # the kernel may still be tearing the family down
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)
