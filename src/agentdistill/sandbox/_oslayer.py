"""Kernel calls the worker makes for itself (stdlib + ctypes; runs inside the sandbox before model code).

- :func:`enter_family` — a new user, mount, pid, ipc and uts namespace for one episode family (the zygote runs
  unprivileged inside bubblewrap, so this needs no host privilege); the sandbox uid maps to itself.
- :func:`mount_scratch` — a private, size- and inode-limited tmpfs for the family's scratch dirs.
- :func:`drop_privileges` — every capability gone (bounding, ambient, permitted, effective) and no_new_privs.
- :func:`load_seccomp` — the host-compiled BPF filter (``_seccomp.py``), irrevocable once loaded.
- :func:`restrict_writes` — a Landlock domain (Linux 5.13+): writes only beneath the worker's own scratch area.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x1, 0x2, 0x4, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 24, 38, 22
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 1 << 2
_SYSCALLS = {"x86_64": (126, 317), "aarch64": (91, 277)}  # (capset, seccomp) numbers per architecture
SYS_CAPSET, SYS_SECCOMP = _SYSCALLS.get(os.uname().machine, (-1, -1))  # -1: ENOSYS, so capset fails closed
# Landlock's three calls have the same numbers on every architecture (the generic syscall table, Linux 5.13)
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION, LANDLOCK_RULE_PATH_BENEATH = 1, 1
# LANDLOCK_ACCESS_FS_*: write file, remove dir/file, make char/dir/reg/sock/fifo/block/sym (ABI 1), refer (2),
# truncate (3). Reading and executing are not handled: the bubblewrap view already decides what can be read.
_FS_WRITE_BY_ABI = ((1, 0b1_1111_1111_0010), (2, 1 << 13), (3, 1 << 14))
_FS_FILE_WRITE = (1 << 1) | (1 << 14)  # the rights a rule on a single file (a /dev node) may carry
_SCOPES = (1 << 0) | (1 << 1)  # ABI 6: abstract unix sockets and signals stay inside the domain
_WRITABLE_NODES = ("/dev/null", "/dev/zero", "/dev/full")
O_PATH = getattr(os, "O_PATH", 0o10000000)


class OsLayerError(OSError):
    """A kernel layer was refused; the message names the layer and the errno."""


_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OsLayerError(err, f"{what}: {os.strerror(err)}")


def set_pdeathsig(sig: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def enter_family(uid: int, gid: int) -> None:
    """unshare user+mount+pid+ipc+uts+net; map ``uid``/``gid`` to themselves. The next fork is pid 1 of the family.

    A network namespace per family too: abstract unix sockets are per network namespace, so episodes cannot talk
    to each other either."""
    _check(
        _libc.unshare(
            CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
        ),
        "unshare(user, mount, pid, ipc, uts, net namespaces)",
    )
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as fh:
            fh.write(text)


def mount_scratch(path: str, size_bytes: int, inodes: int) -> None:
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount(/, private)")
    mount_tmpfs(path, size_bytes, inodes, 0o700)


def mount_tmpfs(path: str, size_bytes: int, inodes: int, mode: int, readonly: bool = False) -> None:
    """A fresh size- and inode-limited tmpfs on ``path`` in this mount namespace (nosuid, nodev; read-only on
    request: an empty one hides what was there, e.g. /dev/pts, so /dev/ptmx allocates no host pty)."""
    opts = f"size={size_bytes},nr_inodes={inodes},mode={mode:o}".encode()
    flags = MS_NOSUID | MS_NODEV | (MS_RDONLY if readonly else 0)
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, opts), f"mount(tmpfs on {path})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_privileges() -> None:
    for cap in range(64):
        if (
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22
        ):  # EINVAL: no such cap
            _check(-1, f"prctl(PR_CAPBSET_DROP, {cap})")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL on kernels without ambient caps
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), data), "capset(0)")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_seccomp(bpf: bytes) -> None:
    """Load the filter with SECCOMP_FILTER_FLAG_SPEC_ALLOW: the kernel otherwise forces the speculative-store-bypass
    mitigation on seccomp'd processes, which slows plain Python; side channels are out of scope (docs/sandbox.md).
    Falls back to ``prctl(PR_SET_SECCOMP)`` on kernels without the flag."""
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if (
        _libc.syscall(
            SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, ctypes.byref(prog)
        )
        == 0
    ):
        return
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "prctl(PR_SET_SECCOMP)"
    )


def capabilities() -> str:
    """CapEff of this process as hex (``0000000000000000`` once dropped)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return line.split()[1]
    return "?"


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_fs", ctypes.c_uint64),
        ("handled_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _add_rule(ruleset: int, fd: int, allowed: int, what: str) -> None:
    rule = _PathBeneath(allowed, fd)
    _check(
        _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0),
        f"landlock_add_rule({what})",
    )


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is missing or switched off (ENOSYS, EOPNOTSUPP)."""
    ret = _libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(ret), 0)


def restrict_writes(area_fd: int, abi: int) -> None:
    """Confine this process and its future children (Landlock, irrevocable): creating, writing, truncating,
    renaming, linking and removing files only beneath the dir ``area_fd``, plus writes to /dev/null, /dev/zero and
    /dev/full; from ABI 6 on, signals and abstract unix sockets only inside the domain. A fork that calls this
    again with its own ``area`` gets the intersection: it can no longer write where its parent could.

    Needs no_new_privs (:func:`drop_privileges`). Raises ``OsLayerError`` when the kernel refuses a step (E2BIG:
    Landlock stacks at most 16 domains, so a chain of forks can narrow itself 15 times)."""
    handled = 0
    for since, bits in _FS_WRITE_BY_ABI:
        if abi >= since:
            handled |= bits
    attr = _RulesetAttr(handled, 0, _SCOPES if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else 8  # older kernels know only the first field
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        _check(-1, "landlock_create_ruleset")
    try:
        _add_rule(ruleset, area_fd, handled, "the scratch area")
        for path in _WRITABLE_NODES:
            try:
                fd = os.open(path, O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # a /dev node the view does not have
            try:
                _add_rule(ruleset, fd, handled & _FS_FILE_WRITE, path)
            finally:
                os.close(fd)
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
