"""Worker-side Python guards: an audit hook and an import allow-list.

These are the *second* layer: the boundary is the kernel's (bubblewrap namespaces, seccomp, rlimits; see
docs/sandbox.md). They are installed in each episode worker after its kernel confinement, before model code. Audit hooks cannot be removed
from Python code. The hook's policy is stateless except for one flag, ``trusted[0]``, that the worker raises
only around its own fork/chdir/traceback walk (:func:`trusting`: for its own thread only, with signals held so
no handler of model code runs meanwhile); the flag lives in the hook's closure, in a local of the worker's
main loop and in the frame of ``final_answer``'s generator, never in a module global or a closure model code
can reach, and frame/gc introspection (the way to reach it) is denied while it is down. Residual: a signal
delivered to a model thread just before a window may have its Python handler run inside it; at-fork hooks of
model code run inside a SAG fork's window; and model code can replace a worker function that is handed the
flag or runs inside a window (module globals are writable; a ``str`` subclass as a code object's filename runs
its ``__eq__`` in the traceback walk), so this layer gives readable errors, never the boundary.
Stdlib only: the worker imports this as a top-level module.
"""

from __future__ import annotations

import _thread
import builtins
import contextlib
import os
import signal
import socket
from collections.abc import Iterator

MODEL_MODULE = "__sandbox__"  # __name__ of the namespace model code runs in


class SandboxViolation(PermissionError, ValueError):
    """Raised by the audit hook. A ValueError too, so stdlib code that probes frames degrades gracefully."""


class ImportBlocked(ImportError):
    pass


_DENY_PREFIXES = (
    "ctypes.",
    "subprocess.",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "pty.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "imaplib.",
    "poplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.",
    "sqlite3.",
    "syslog.",
    "socket.",
)
_DENY = {
    "os.system",
    "os.kill",
    "os.killpg",
    "os.link",
    "os.chroot",
    "signal.pthread_kill",
    "os.forkpty",
    "sys.setprofile",
    "sys._current_frames",
    "sys._current_exceptions",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "os.setxattr",
    "os.removexattr",
}
_TRUSTED_ONLY = {
    "os.fork",
    "os.chdir",
    "os.fchdir",
    "sys._getframe",
    "resource.setrlimit",
    "resource.prlimit",
    "os.symlink",
    "sys.settrace",
}  # symlink: the fork's scratch copy; settrace: final_answer
_FRAME_ATTRS = {
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
}
_WRITE_PATH_EVENTS = {
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.utime",
    "os.mkfifo",
    "os.mknod",
    "shutil.copyfile",
    "shutil.copymode",
    "shutil.copystat",
    "shutil.copytree",
    "shutil.rmtree",
    "shutil.move",
    "shutil.make_archive",
    "shutil.unpack_archive",
    "os.setxattr",
}
_READ_PATH_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "os.listxattr", "os.getxattr"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


_CATCHABLE = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}


def _pending_handlers() -> None:
    """Calling a Python function runs the signal handlers already pending (the eval loop checks on entry)."""


@contextlib.contextmanager
def trusting(trusted: list) -> Iterator[None]:
    """Raise the flag for the worker's own code, in this thread only: signals are blocked and pending handlers run
    first, so no handler of model code runs trusted, and a thread of model code never counts as trusted."""
    held = trusted[0]
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _CATCHABLE)
    try:
        _pending_handlers()
        trusted[0] = _thread.get_ident()
        yield
    finally:
        trusted[0] = held
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def install_audit_hook(scratch_base: str, read_roots: list[str]) -> list[bool]:
    """Install the hook; return the ``trusted`` flag holder (keep it in a local, never a global, and out of every
    object model code can reach: a closure's cells are readable). Raise it only with :func:`trusting`."""
    trusted: list = [0]  # the ident of the thread the worker trusts now; 0: none
    get_ident = _thread.get_ident
    base = os.path.realpath(scratch_base)
    roots = tuple(os.path.realpath(r) for r in read_roots)
    realpath, fsdecode, AF_UNIX = os.path.realpath, os.fsdecode, socket.AF_UNIX  # noqa: N806

    def path_ok(path: object, write: bool) -> bool:
        if path is None or trusted[0] == get_ident():
            return True
        if not isinstance(path, str | bytes):
            return False  # file descriptors and odd objects: no
        full = realpath(fsdecode(path))
        if _under(full, base):
            return True
        return not write and any(_under(full, r) for r in roots)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                (flags or 0) & _WRITE_FLAGS
            )
            if not path_ok(path, write):
                raise SandboxViolation(
                    f"access to {path!r} is not allowed in the sandbox (outside the scratch dir)"
                )
            return
        if event == "object.__getattr__":
            if len(args) > 1 and args[1] in _FRAME_ATTRS and trusted[0] != get_ident():
                raise SandboxViolation(f"introspection of {args[1]!r} is not allowed in the sandbox")
            return
        if event in _TRUSTED_ONLY:
            if trusted[0] != get_ident():
                raise SandboxViolation(f"{event} is not allowed in the sandbox")
            return
        if event == "socket.__new__":
            if len(args) > 1 and args[1] == AF_UNIX:
                return
            raise SandboxViolation("network access is not allowed in the sandbox")
        if event in _DENY or event.startswith(_DENY_PREFIXES):
            if event.startswith(("socket.", "urllib.", "http.")):
                raise SandboxViolation(f"network access is not allowed in the sandbox ({event})")
            raise SandboxViolation(f"{event} is not allowed in the sandbox")
        if event in _WRITE_PATH_EVENTS or event in _READ_PATH_EVENTS:
            write = event in _WRITE_PATH_EVENTS
            for p in (
                args[:2]
                if event in {"os.rename", "shutil.copyfile", "shutil.copytree", "shutil.move"}
                else args[:1]
            ):
                if not path_ok(p, write):
                    raise SandboxViolation(f"{event} on {p!r} is not allowed (outside the scratch dir)")

    import sys

    sys.addaudithook(hook)
    return trusted


def refuse_fork_exec() -> None:
    """``_posixsubprocess.fork_exec`` forks (and runs a ``preexec_fn``) without any audit event: replace it with a
    refusal, like ``os.fork``. (A process it starts anyway ends with its step: the host's sweep.)"""
    import _posixsubprocess

    def fork_exec(*args: object, **kwargs: object) -> None:
        raise SandboxViolation("_posixsubprocess.fork_exec is not allowed in the sandbox")

    _posixsubprocess.fork_exec = fork_exec  # type: ignore[attr-defined]


def install_import_guard(allowed: tuple[str, ...]) -> None:
    """Model code (globals named ``MODEL_MODULE``, or no globals) may import only ``allowed`` top-level names.

    Imports made by library code (other globals) pass, so allowed modules can import their internals.
    """
    real_import = builtins.__import__
    allowed_set = frozenset(allowed)
    shown = ", ".join(sorted(allowed_set))

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        caller = globals.get("__name__") if isinstance(globals, dict) else None
        if caller is None or caller == MODEL_MODULE:
            if level:
                raise ImportBlocked("relative imports are not allowed in sandboxed code")
            top = str(name).partition(".")[0]
            if top not in allowed_set:
                raise ImportBlocked(f"import of {top!r} is not allowed; allowed modules: {shown}")
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
