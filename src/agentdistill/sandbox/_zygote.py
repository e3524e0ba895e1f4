"""Host side of the zygote: one pre-warmed worker per host process that forks a worker per episode.

Starting CPython and importing numpy + sympy takes ~1 s here; forking the warm zygote takes milliseconds.
The zygote runs no model code. It lives until the host exits (atexit) and is restarted if it dies.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from . import _wire

WORKER = Path(__file__).with_name("_worker.py")
CLEAN_ENV_KEYS = ("PATH", "LANG", "LC_ALL")
THREAD_ENV = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")}


class SandboxStartError(RuntimeError):
    pass


@dataclass
class Spawned:
    pid: int
    uid: int
    sock: socket.socket


def _read_roots() -> list[str]:
    """Directories model code may read (for lazy imports): the interpreter's import path, minus the cwd."""
    roots = {p for p in sys.path if p and os.path.isabs(p) and os.path.exists(p)}
    return sorted(roots)


class Zygote:
    def __init__(self, guards: bool = True, netns: bool = True) -> None:
        self.guards = guards
        self.lock = threading.Lock()
        self.base = tempfile.mkdtemp(prefix="agentdistill-sbx-")
        os.chmod(self.base, 0o711)  # others may traverse into their own 0700 dir, not list
        host, child = socket.socketpair()
        env = {k: os.environ[k] for k in CLEAN_ENV_KEYS if k in os.environ}
        env.setdefault("LANG", "C.UTF-8")
        env.update(THREAD_ENV, HOME=self.base, TMPDIR=self.base)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(WORKER), str(child.fileno())],
            pass_fds=[child.fileno()], env=env, cwd=self.base, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        child.close()
        self.sock = host
        try:
            _wire.send_msg(host, {"op": "init", "sys_path": [p for p in sys.path if p], "guards": guards,
                                  "netns": netns, "scratch_base": self.base, "read_roots": _read_roots()})
            host.settimeout(120)
            ready = _wire.recv_msg(host)
            host.settimeout(None)
        except (OSError, _wire.WireError) as exc:
            self.close()
            raise SandboxStartError(f"sandbox zygote failed to start ({WORKER}): {exc}") from None
        self.netns: bool = bool(ready.get("netns"))
        self.root: bool = bool(ready.get("root"))
        self.preload_failed: list[str] = list(ready.get("preload_failed", []))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def new_scratch(self) -> str:
        return tempfile.mkdtemp(dir=self.base, prefix="ep-")

    def spawn(self, scratch: str, imports: tuple[str, ...], tools: list[str], limits: list) -> Spawned:
        host, child = socket.socketpair()
        try:
            with self.lock:
                _wire.send_msg(self.sock, {"op": "spawn", "scratch": scratch, "imports": list(imports),
                                           "tools": tools, "limits": limits})
                _wire.send_fd(self.sock, child.fileno())
                self.sock.settimeout(30)
                forked = _wire.recv_msg(self.sock)
                self.sock.settimeout(None)
            child.close()
            host.settimeout(30)
            hello = _wire.recv_msg(host)
            host.settimeout(None)
        except (OSError, _wire.WireError) as exc:
            host.close()
            child.close()
            raise SandboxStartError(f"sandbox episode failed to start: {exc}") from None
        if forked.get("op") != "forked" or hello.get("op") != "hello":
            raise SandboxStartError(f"sandbox episode failed to start: unexpected replies {forked!r}, {hello!r}")
        return Spawned(int(hello["pid"]), int(hello["uid"]), host)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


_ZYGOTES: dict[bool, Zygote] = {}
_ZLOCK = threading.Lock()


def get_zygote(guards: bool = True) -> Zygote:
    with _ZLOCK:
        z = _ZYGOTES.get(guards)
        if z is None or not z.alive():
            if z is not None:
                z.close()
            z = _ZYGOTES[guards] = Zygote(guards=guards)
        return z


@atexit.register
def _shutdown() -> None:
    for z in list(_ZYGOTES.values()):
        z.close()
    _ZYGOTES.clear()
