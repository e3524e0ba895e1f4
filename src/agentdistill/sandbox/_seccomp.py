"""The episode worker's seccomp filter, compiled on the host with libseccomp (the ``pyseccomp`` binding).

The filter allows by default and refuses (EPERM) the system calls a Python episode never needs: running programs,
debugging, reading or changing other processes (calls that take a pid: only 0, the caller), mounting and
namespace changes, kernel-facing interfaces (BPF, perf, io_uring, keyrings, modules, reboot, clocks), memory no
rlimit counts (memfd, System V IPC, large pipe buffers) and sockets other than AF_UNIX. ``clone`` with any
namespace flag is refused; ``clone3`` answers ENOSYS so glibc falls back to plain ``clone`` (whose flags the
filter can see).
The host compiles it once to a BPF program (bytes); the worker loads it with ``prctl`` right before model code
runs, after ``PR_SET_NO_NEW_PRIVS``, so it cannot be removed or widened afterwards.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

DENIED = (
    # programs, other processes
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    "process_madvise",
    "process_mrelease",
    # filesystems and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "mknod",
    "mknodat",
    "open_by_handle_at",
    "name_to_handle_at",
    "quotactl",
    "acct",
    "swapon",
    "swapoff",
    # kernel-facing interfaces
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "syslog",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "vhangup",
    "personality",
    "uselib",
    "lookup_dcookie",
    "fanotify_init",
    "seccomp",
    # per-user kernel resources: started by root they are host root's (128 inotify instances, 800 KiB of
    # message queues), and memfd memory no rlimit counts
    "inotify_init",
    "inotify_init1",
    "mq_open",
    # memory no rlimit counts: a memfd's pages (and memfd_secret's, which stay with the fd after munmap:
    # 800 MiB held under memory_mb=256, docs/reviews/sandbox-2026-12-02.md fault 4) are charged to no
    # RLIMIT_AS; only a memory cgroup (host root) would bound them
    "memfd_create",
    "memfd_secret",
    # System V IPC: its memory is charged to no process limit (shmget 64 MiB x 6 held 384 MiB under a 300 MiB
    # cap); POSIX semaphores (multiprocessing) live in /dev/shm, a small tmpfs
    "shmget",
    "shmat",
    "msgget",
    "semget",
)
NAMESPACE_FLAGS = (
    0x00020000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x08000000,
    0x04000000,
    0x02000000,
    0x00000080,
)  # NEWNS NEWUSER NEWPID NEWNET NEWIPC NEWUTS NEWCGROUP NEWTIME
AF_UNIX = 1
F_SETLEASE = 1024
F_SETPIPE_SZ = 1031  # a pipe's buffer is memory no rlimit counts: up to 1 MiB per pipe instead of 64 KiB
# Calls that change (or read the memory layout of) another process are allowed only on the caller itself: the
# argument at the index is 0 ("self"), else EPERM. A SAG candidate could otherwise lower the hard rlimits of its
# parent, its siblings and the family init for good, pin them to one CPU or renice them: they share its uid
# (docs/reviews/sandbox-2026-12-02.md fault 3; DESIGN.md: losers leave no side effects). glibc's
# getrlimit/setrlimit, nice and os.sched_setaffinity(0, ...) pass 0. Signals are kept inside a process's own Landlock domain (ABI 6).
SELF_ONLY = (
    ("prlimit64", 0),
    ("sched_setaffinity", 0),
    ("sched_setparam", 0),
    ("sched_setscheduler", 0),
    ("sched_setattr", 0),
    ("migrate_pages", 0),
    ("move_pages", 0),
    ("get_robust_list", 0),
    ("setpriority", 0),  # which: PRIO_PROCESS (0), not a process group or a user ...
    ("setpriority", 1),  # ... and who: the caller (0)
    ("ioprio_set", 1),  # who: the caller (0); which must be IOPRIO_WHO_PROCESS (below)
)
IOPRIO_WHO_PROCESS = 1
# syscalls refused by number where libseccomp is too old to know the name (the same number on x86_64 and aarch64:
# memfd_secret is in the generic table, Linux 5.14)
BY_NUMBER = {"memfd_secret": 447}
# Calls that change a file's mode, owner, times or extended attributes (POSIX ACLs are modes too) return success
# and do nothing: started by root, the sandbox uid is host uid 0, which owns the host's device nodes bound into
# /dev (chmod 000 /dev/null would break the host); code that copies files (shutil.copy2) keeps working.
NO_OP = (
    *("chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat"),
    *("utime", "utimes", "futimesat", "utimensat"),
    *("setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr", "lremovexattr", "fremovexattr"),
    "removexattrat",
)


class SeccompUnavailable(RuntimeError):
    """libseccomp (Debian ``libseccomp2``) or its ``pyseccomp`` binding is missing."""


@functools.lru_cache(maxsize=1)
def compile_filter() -> bytes:
    """The filter as raw BPF (``struct sock_filter`` array, 8 bytes per instruction) for this machine's arch."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # pyseccomp raises when libseccomp.so.2 cannot be found
        raise SeccompUnavailable(
            f"seccomp layer unavailable: {exc} (install Debian libseccomp2 and the pinned "
            "pyseccomp; or set SandboxConfig(unsafe_no_sandbox=True), CLI --unsafe-no-sandbox)"
        ) from None
    f = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in DENIED:
        try:
            f.add_rule(deny, name)
        except (OSError, ValueError):  # a syscall this arch does not have (or this libseccomp does not know)
            if name in BY_NUMBER and os.uname().machine in ("x86_64", "aarch64"):
                f.add_rule(deny, BY_NUMBER[name])
    for name in NO_OP:
        try:
            f.add_rule(sc.ERRNO(0), name)
        except (OSError, ValueError):  # a syscall this arch (or libseccomp) does not know
            continue
    f.add_rule(deny, "fcntl", sc.Arg(1, sc.EQ, F_SETLEASE))  # a lease on a host file blocks host writers
    f.add_rule(deny, "fcntl", sc.Arg(1, sc.EQ, F_SETPIPE_SZ))
    for name, index in SELF_ONLY:
        f.add_rule(deny, name, sc.Arg(index, sc.NE, 0))
    f.add_rule(deny, "ioprio_set", sc.Arg(0, sc.NE, IOPRIO_WHO_PROCESS))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in NAMESPACE_FLAGS:
        f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socketpair", sc.Arg(0, sc.NE, AF_UNIX))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.flush()
        os.lseek(tmp.fileno(), 0, os.SEEK_SET)
        data = tmp.read()
    if not data or len(data) % 8:
        raise SeccompUnavailable(f"seccomp layer unavailable: libseccomp produced {len(data)} bytes of BPF")
    return data
