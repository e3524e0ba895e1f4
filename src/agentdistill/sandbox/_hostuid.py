"""Started by root, bubblewrap runs as an unused, unprivileged host uid, so the sandbox uid is that uid outside.

bubblewrap maps the sandbox uid to the uid that starts it. Started as host root, model code would be host uid 0
without capabilities, which the kernel still lets write sysctls, chmod the host's device nodes and spend root's
per-user resources (docs/sandbox.md). So root starts bubblewrap as ``HOST_UID`` instead, a uid no account uses.

That uid cannot reach every bind source (here the interpreter lives under ``/root``, mode 700). Those sources
are bind-mounted by root onto a staging dir the uid can reach, in a private mount namespace of the launched
process only (made in the child between fork and exec), and bubblewrap binds the staged paths where the
originals are. Nothing changes in the host's own mount namespace; the staging dir holds only empty mount
points.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

HOST_UID = HOST_GID = 2_000_000_000  # no account, no file on a normal host has this id
_BIND_OPTIONS = ("--ro-bind", "--bind", "--ro-bind-try", "--bind-try", "--dev-bind")
_CLONE_NEWNS = 0x00020000
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18


def reachable(path: str) -> bool:
    """True when a uid that owns nothing and is in no group can read ``path`` (every parent searchable)."""
    real = os.path.realpath(path)
    parent = os.path.dirname(real)
    while True:
        st = os.stat(parent)
        if not st.st_mode & stat.S_IXOTH:
            return False
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    st = os.stat(real)
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
    return st.st_mode & need == need


@dataclass
class Staging:
    """Bind sources out of ``HOST_UID``'s reach, each with its mount point under ``base``."""

    base: str = ""
    mounts: list[tuple[str, str]] = field(default_factory=list)

    def remove(self) -> None:
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)


def stage(argv: list[str]) -> tuple[list[str], Staging]:
    """``argv`` with every unreachable bind source replaced by its staging mount point."""
    out, staging = list(argv), Staging()
    for i, arg in enumerate(argv[:-2]):
        if arg not in _BIND_OPTIONS or reachable(argv[i + 1]):
            continue
        if not staging.base:
            staging.base = tempfile.mkdtemp(prefix="agentdistill-stage-")
            os.chmod(staging.base, 0o755)
        src = argv[i + 1]
        point = os.path.join(staging.base, str(len(staging.mounts)))
        if os.path.isdir(src):
            os.mkdir(point, 0o755)
        else:
            with open(point, "w"):
                pass
            os.chmod(point, 0o644)
        staging.mounts.append((src, point))
        out[i + 1] = point
    return out, staging


def drop_to_host_uid(staging: Staging) -> Callable[[], None]:
    """A ``preexec_fn``: a private mount namespace with the staged binds, then ``HOST_UID`` for good."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork
    mounts = [(s.encode(), d.encode()) for s, d in staging.mounts]

    def run() -> None:
        if libc.unshare(_CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) for the sandbox's staged binds")
        if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "making the launch mount namespace private")
        for src, dst in mounts:
            if libc.mount(src, dst, None, _MS_BIND | _MS_REC, None) != 0:
                raise OSError(ctypes.get_errno(), f"staging {src.decode()} for the sandbox")
        os.setgroups([])
        os.setresgid(HOST_GID, HOST_GID, HOST_GID)
        os.setresuid(HOST_UID, HOST_UID, HOST_UID)

    return run
