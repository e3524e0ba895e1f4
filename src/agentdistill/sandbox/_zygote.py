"""Host side of the worker processes: the bubblewrap-confined zygote, episode families and episode workers.

One zygote per host process and mode (CPython + numpy + sympy imported once, ~0.4 s) runs inside bubblewrap with
every namespace unshared and a read-only view of only the interpreter, its stdlib, the shared libraries and the
allowed packages (``_bwrap.py``). Each new ``Sandbox`` is a *family*: its own user/mount/pid namespace and its
own scratch, /tmp and /dev/shm tmpfs (see ``_worker.py``); a fork of a sandbox is another worker in the same
family, confined by Landlock to a scratch area of its own. Workers' host pids come from
SCM_CREDENTIALS (kernel-filled), so the host signals them through pidfds, never by a pid the worker chose.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from . import _bwrap, _hostuid, _oslayer, _strays, _wire
from ._cgroup import CgroupUnavailable, FamilyCgroups
from ._seccomp import SeccompUnavailable, compile_filter

HANDSHAKE_SECONDS = 30.0


class SandboxStartError(RuntimeError):
    """A sandbox layer could not be set up; the message says which and how to fix it (never runs unconfined)."""


def _pair() -> tuple[socket.socket, socket.socket]:
    host, child = socket.socketpair()
    host.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    return host, child


def _hello(sock: socket.socket, what: str, timeout: float = HANDSHAKE_SECONDS) -> tuple[dict, int]:
    """The first message on a new channel and its sender's host pid; ``timeout`` seconds at most."""
    try:
        hello, pid = _wire.recv_hello(sock, deadline=time.monotonic() + timeout)
    finally:
        sock.settimeout(None)
    if hello.get("error"):
        raise SandboxStartError(f"sandbox {what} failed to start: {hello['error']}")
    if hello.get("op") != "hello" or pid is None or pid <= 0:
        raise SandboxStartError(f"sandbox {what} failed to start: unexpected reply {hello!r}")
    return hello, pid


@dataclass
class Worker:
    """One episode worker process as the host sees it (``pid`` is in the host's pid namespace)."""

    pid: int
    pidfd: int
    sock: socket.socket
    dir: str

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.pidfd = -1


@dataclass
class Family:
    """An episode family: the init process of its namespaces and the scratch root inside them."""

    zygote: Zygote
    sock: socket.socket
    pid: int
    pidfd: int
    root: str
    cgroup: FamilyCgroups | None = None
    refs: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False
    ns: str = ""  # the family's pid namespace ("" in unsafe mode: no sweeps)
    workers: set[int] = field(default_factory=set)  # host pids of the live episode workers (and SAG forks)
    # held from asking for a worker until it is registered, and by sweeps: a new worker is never a stray
    proc_lock: threading.RLock = field(default_factory=threading.RLock)

    def register(self, pid: int) -> None:
        with self.proc_lock:
            self.workers.add(pid)

    def forget(self, pid: int) -> None:
        with self.proc_lock:
            self.workers.discard(pid)

    def sweep(self, worker: int) -> int:
        """Kill what model code left running below ``worker`` and the family's orphans (``_strays.py``)."""
        if not self.ns or self.closed:
            return 0
        with self.proc_lock:
            return _strays.sweep(self.pid, self.ns, worker, frozenset(self.workers))

    def spawn(
        self, dir_name: str, imports: tuple[str, ...], tools: list[str], limits: list, caps: dict
    ) -> Worker:
        with self.proc_lock:
            worker = self._spawn(dir_name, imports, tools, limits, caps)
            self.workers.add(worker.pid)
            return worker

    def _spawn(
        self, dir_name: str, imports: tuple[str, ...], tools: list[str], limits: list, caps: dict
    ) -> Worker:
        host, child = _pair()
        try:
            with self.lock:
                if self.closed:
                    raise SandboxStartError("sandbox family is closed")
                _wire.send_msg(
                    self.sock,
                    {
                        "op": "spawn",
                        "dir": dir_name,
                        "imports": list(imports),
                        "tools": tools,
                        "limits": limits,
                        **caps,
                    },
                )
                _wire.send_fd(self.sock, child.fileno())
            child.close()  # a failed fork closes the worker's end: our hello read sees the channel close
            hello, pid = _hello(host, "episode")
        except (OSError, _wire.WireError) as exc:
            host.close()
            child.close()
            raise SandboxStartError(f"sandbox episode failed to start: {exc}") from None
        except SandboxStartError:
            host.close()
            raise
        return Worker(pid, os.pidfd_open(pid), host, str(hello.get("dir", dir_name)))

    def host_path(self, dir_name: str) -> str:
        """Where the host can see a scratch dir (through the family's /proc root when it lives in a namespace)."""
        if self.zygote.namespaces:
            return f"/proc/{self.pid}/root{self.root}/{dir_name}"
        return os.path.join(self.root, dir_name)

    def release(self) -> None:
        with self.lock:
            self.refs -= 1
            last = self.refs <= 0 and not self.closed
            if last:
                self.closed = True
        if last:
            self._end()

    def _end(self, wait: float = 5.0) -> None:
        """Close the family's channel: its init exits, and with it (pid namespace) every process of the family."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.zygote.namespaces:
            with contextlib.suppress(OSError):
                select.select([self.pidfd], [], [], wait)
        else:
            import shutil

            shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        if self.cgroup is not None:
            self.cgroup.remove()


class Zygote:
    def __init__(self, guards: bool = True, unsafe: bool = False) -> None:
        self.guards, self.namespaces = guards, not unsafe
        # the kernel's Landlock ABI (0: none): workers then write only beneath their own scratch area
        self.landlock = _oslayer.landlock_abi() if not unsafe else 0
        self.lock = threading.Lock()
        self.base = tempfile.mkdtemp(prefix="agentdistill-sbx-")  # unsafe mode's scratch; bwrap's stderr log
        self._count = 0
        seccomp = None
        if not unsafe:
            try:
                seccomp = compile_filter().hex()
            except SeccompUnavailable as exc:
                raise SandboxStartError(str(exc)) from None
            try:
                view = _bwrap.view()
            except _bwrap.BwrapMissing as exc:
                raise SandboxStartError(str(exc)) from None
        host, child = _pair()
        env = dict(_bwrap.ENV, HOME=self.base, TMPDIR=self.base)
        if "PATH" in os.environ:
            env["PATH"] = os.environ["PATH"]
        self._log = open(os.path.join(self.base, "stderr.log"), "w+b")  # noqa: SIM115 - kept open for the zygote
        if unsafe:
            os.chmod(self.base, 0o711)  # as root, workers run as their family's own uid: traverse, not list
            argv = [
                sys.executable,
                "-I",
                "-S",
                "-B",
                str(_bwrap.WORKER_DIR / "_worker.py"),
                str(child.fileno()),
            ]
            init_path, read_roots = (
                [p for p in sys.path if p],
                sorted({p for p in sys.path if p and os.path.isabs(p)}),
            )
        else:
            argv = [
                *view.argv,
                view.python,
                "-I",
                "-S",
                "-B",
                f"{_bwrap.LIB}/_worker.py",
                str(child.fileno()),
            ]
            init_path, read_roots = view.sys_path, view.read_roots
        self._staging = _hostuid.Staging()
        preexec = None
        if not unsafe and os.geteuid() == 0:  # never host uid 0 inside (_hostuid.py)
            argv, self._staging = _hostuid.stage(argv)
            preexec = _hostuid.drop_to_host_uid(self._staging)
        try:
            self.proc = subprocess.Popen(
                argv,
                pass_fds=[child.fileno()],
                env=env,
                cwd=self.base if preexec is None else "/",
                preexec_fn=preexec,  # noqa: PLW1509 - the mount namespace and uid must be set before exec
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self._staging.remove()
            why = (
                f" as host uid {_hostuid.HOST_UID} (the kernel refused a private mount namespace, a bind of"
                " the interpreter or the uid switch)"
                if isinstance(exc, subprocess.SubprocessError)
                else f": {exc}"
            )
            raise SandboxStartError(
                f"sandbox could not start {argv[0]}{why}; or set SandboxConfig(unsafe_no_sandbox=True), "
                "CLI --unsafe-no-sandbox"
            ) from None
        child.close()
        self.sock = host
        try:
            _wire.send_msg(
                host,
                {
                    "op": "init",
                    "sys_path": init_path,
                    "guards": guards,
                    "namespaces": not unsafe,
                    "seccomp": seccomp,
                    "landlock": self.landlock,
                    "read_roots": read_roots,
                },
            )
            host.settimeout(120)
            ready, pid = _wire.recv_hello(host)
            host.settimeout(None)
            if ready.get("op") != "ready" or pid is None:
                raise _wire.WireError(f"unexpected reply {ready!r}")
        except (OSError, _wire.WireError) as exc:
            detail = self._stderr()
            self.close()
            raise SandboxStartError(
                f"sandbox zygote failed to start ({exc}){detail}; the sandbox needs bubblewrap "
                "and unprivileged user namespaces (or SandboxConfig(unsafe_no_sandbox=True), CLI --unsafe-no-sandbox)"
            ) from None
        self.host_pid: int = pid  # the zygote's pid on the host (bwrap's init and bwrap are above it)
        self.uid: int = int(ready.get("uid", -1))
        self.caps: str = str(ready.get("caps", "?"))
        self.preload_failed: list[str] = list(ready.get("preload_failed", []))

    def _stderr(self) -> str:
        with contextlib.suppress(OSError):
            self._log.seek(0)
            text = self._log.read(2000).decode("utf-8", "replace").strip()
            return f": {text}" if text else ""
        return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def family(self, scratch_mb: int, pids_max: int, memory_bytes: int = 0) -> Family:
        """A new episode family; as host root its processes also go into a pids cgroup of ``pids_max`` and,
        where the kernel has one, a memory cgroup of ``memory_bytes`` (``_cgroup.py``)."""
        cgroup = None
        if self.namespaces and os.geteuid() == 0:
            try:
                cgroup = FamilyCgroups(pids_max, memory_bytes)
            except CgroupUnavailable as exc:
                raise SandboxStartError(
                    f"sandbox process limit unavailable: {exc} (RLIMIT_NPROC does not apply "
                    "to host root; run as a normal user or set unsafe_no_sandbox)"
                ) from None
        try:
            return self._family(scratch_mb, cgroup)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

    def _family(self, scratch_mb: int, cgroup: FamilyCgroups | None) -> Family:
        host, child = _pair()
        with self.lock:
            self._count += 1
            root = "/scratch" if self.namespaces else os.path.join(self.base, f"fam-{self._count}")
            try:
                _wire.send_msg(
                    self.sock,
                    {
                        "op": "family",
                        "root": root,
                        "scratch_bytes": scratch_mb * 1024 * 1024,
                        "scratch_inodes": 4096,
                        "tmp_bytes": _bwrap.TMP_BYTES,  # /tmp and /dev/shm of the family's own
                        "shm_bytes": _bwrap.SHM_BYTES,
                    },
                )
                _wire.send_fd(self.sock, child.fileno())
            except (OSError, _wire.WireError) as exc:
                host.close()
                child.close()
                raise SandboxStartError(f"sandbox family failed to start: {exc}{self._stderr()}") from None
        child.close()
        try:
            _, pid = _hello(host, "family")
            pidfd = os.pidfd_open(pid)
            ns = _strays.pid_namespace(pid) if self.namespaces else ""
            if cgroup is not None:
                cgroup.add(pid)  # before the family init forks any worker
        except (OSError, _wire.WireError) as exc:
            host.close()
            raise SandboxStartError(f"sandbox family failed to start: {exc}") from None
        except SandboxStartError:
            host.close()
            raise
        return Family(self, host, pid, pidfd, root, cgroup, ns=ns)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self._log.close()
        import shutil

        shutil.rmtree(self.base, ignore_errors=True)
        if getattr(self, "_staging", None) is not None:
            self._staging.remove()


_ZYGOTES: dict[tuple[bool, bool], Zygote] = {}
_ZLOCK = threading.Lock()


def get_zygote(guards: bool = True, unsafe: bool = False) -> Zygote:
    with _ZLOCK:
        z = _ZYGOTES.get((guards, unsafe))
        if z is None or not z.alive():
            if z is not None:
                z.close()
            z = _ZYGOTES[(guards, unsafe)] = Zygote(guards=guards, unsafe=unsafe)
        return z


@atexit.register
def _shutdown() -> None:
    for z in list(_ZYGOTES.values()):
        z.close()
    _ZYGOTES.clear()
