"""`Sandbox`: one episode of model-written Python in its own limited worker process (see issue 3)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _wire
from ._presets import resolve_imports
from ._zygote import Spawned, Zygote, get_zygote
from .limits import episode_limits
from .observation import build_observation
from .types import ErrorKind, ExecError, ExecResult, SandboxConfig

_KINDS = {"syntax", "exception", "timeout", "memory", "killed", "import", "output"}
_LOST = "the interpreter was restarted and earlier variables are lost"


class SandboxClosed(RuntimeError):
    pass


class Sandbox:
    """A stateful, isolated, forkable Python interpreter for one agent episode.

    Variables persist across ``run`` calls. After a step kills the worker (wall timeout, a hard limit,
    a crash, a thread outliving the step) that step's result says so and the next step starts a fresh
    interpreter in the same scratch dir (files kept, variables lost).
    """

    def __init__(self, tools: dict[str, Callable[..., Any]] | None = None, config: SandboxConfig | None = None,
                 *, _python_guards: bool = True) -> None:
        self.config = config or SandboxConfig()
        self.tools = dict(tools or {})
        for name in self.tools:
            if not name.isidentifier() or name == "final_answer" or name.startswith("__"):
                raise ValueError(f"Sandbox tools: invalid tool name {name!r}")
        self._imports = resolve_imports(self.config.imports)
        self._zygote: Zygote = get_zygote(_python_guards)
        self._lock = threading.RLock()
        self._closed = False
        self._proc: Spawned | None = None
        self._scratch: str | None = self._zygote.new_scratch()
        self.restarts = 0
        self._start()

    # -- public API -------------------------------------------------------------------------------
    @property
    def scratch_dir(self) -> Path:
        if self._scratch is None:
            raise SandboxClosed("sandbox is closed")
        return Path(self._scratch)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def isolation(self) -> dict[str, bool]:
        """Which layers are active on this machine (root: own uid + RLIMIT_NPROC; netns: no network)."""
        z = self._zygote
        return {"network_namespace": z.netns, "own_uid": z.root, "nproc_limit": z.root, "audit_hook": z.guards,
                "import_allowlist": z.guards}

    def run(self, code: str) -> ExecResult:
        if not isinstance(code, str):
            raise TypeError(f"Sandbox.run: code must be str, not {type(code).__name__}")
        with self._lock:
            self._check_open()
            if self._proc is None:
                self._start()
            assert self._proc is not None
            t0 = time.monotonic()
            cfg = self.config
            try:
                _wire.send_msg(self._proc.sock, {"op": "run", "code": code, "output_chars": cfg.output_chars,
                                                 "cpu_seconds": cfg.cpu_seconds})
            except OSError:
                return self._died(t0, [])
            return self._await_step(t0)

    def fork(self) -> Sandbox:
        """An independent copy of this episode (variables and scratch files), made by os.fork of the worker."""
        with self._lock:
            self._check_open()
            if self._proc is None:
                self._start()
            assert self._proc is not None and self._scratch is not None
            scratch = self._zygote.new_scratch()
            shutil.copytree(self._scratch, scratch, symlinks=True, dirs_exist_ok=True)
            if self._zygote.root:
                _chown_tree(scratch, self._proc.uid)
            host, child = socket.socketpair()
            try:
                _wire.send_msg(self._proc.sock, {"op": "fork", "scratch": scratch})
                _wire.send_fd(self._proc.sock, child.fileno())
                self._proc.sock.settimeout(30)
                forked = _wire.recv_msg(self._proc.sock)
                self._proc.sock.settimeout(None)
                child.close()
                host.settimeout(30)
                hello = _wire.recv_msg(host)
                host.settimeout(None)
                if forked.get("op") != "forked" or hello.get("op") != "hello":
                    raise _wire.WireError(f"unexpected replies {forked!r}, {hello!r}")
            except (OSError, _wire.WireError) as exc:
                host.close()
                child.close()
                shutil.rmtree(scratch, ignore_errors=True)
                self._kill()
                raise RuntimeError(f"Sandbox.fork failed: {exc}") from None
            new = object.__new__(Sandbox)
            new.config, new.tools, new._imports, new._zygote = self.config, self.tools, self._imports, self._zygote
            new._lock, new._closed, new.restarts = threading.RLock(), False, 0
            new._proc, new._scratch = Spawned(int(hello["pid"]), self._proc.uid, host), scratch
            return new

    def adopt(self, child: Sandbox) -> None:
        """Take ``child``'s state (a fork of this sandbox); this sandbox's old worker is killed, ``child`` is consumed."""
        if child is self:
            raise ValueError("Sandbox.adopt: a sandbox cannot adopt itself")
        with self._lock, child._lock:
            self._check_open()
            child._check_open()
            self._kill()
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)
            self._proc, self._scratch, self.restarts = child._proc, child._scratch, self.restarts + child.restarts
            child._proc, child._scratch, child._closed = None, None, True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._kill()
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    # -- internals --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosed("sandbox is closed")

    def _start(self) -> None:
        assert self._scratch is not None
        self._proc = self._zygote.spawn(self._scratch, self._imports, sorted(self.tools),
                                        episode_limits(self.config, self._zygote.root))

    def _kill(self) -> None:
        if self._proc is not None:
            _killpg(self._proc.pid)
            with contextlib.suppress(OSError):
                self._proc.sock.close()
            self._proc = None

    def _await_step(self, t0: float) -> ExecResult:
        assert self._proc is not None
        sock, cfg = self._proc.sock, self.config
        deadline = t0 + cfg.wall_seconds
        calls: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                msg = _wire.recv_msg(sock)
            except TimeoutError:
                self._kill()
                self.restarts += 1
                err = ExecError("timeout", "TimeoutError", f"step timed out after {cfg.wall_seconds:g} s; {_LOST}")
                return self._result("", 0, err, t0, calls)
            except (OSError, _wire.WireError):
                return self._died(t0, calls)
            if msg["op"] == "call":
                deadline += self._serve_tool(sock, msg, calls)  # host tool time does not count against the step
            elif msg["op"] == "done":
                return self._finish(msg, t0, calls)
            else:
                self._kill()
                self.restarts += 1
                err = ExecError("output", "SandboxError", f"the worker sent an invalid message; {_LOST}")
                return self._result("", 0, err, t0, calls)

    def _serve_tool(self, sock: socket.socket, msg: dict, calls: list[dict[str, Any]]) -> float:
        t = time.monotonic()
        name, args, kwargs = msg.get("name"), msg.get("args"), msg.get("kwargs")
        try:
            fn = self.tools.get(name) if isinstance(name, str) else None
            if fn is None:
                raise NameError(f"no tool named {name!r}")
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise TypeError("malformed tool call")
            value = fn(*args, **kwargs)
            json.dumps(value)
            reply: dict[str, Any] = {"op": "ret", "value": value}
        except Exception as exc:  # noqa: BLE001 - a failing tool is an observation, not a host crash
            reply = {"op": "err", "type": type(exc).__name__, "message": str(exc)[:2000]}
        dt = time.monotonic() - t
        calls.append({"name": name, "args": args, "kwargs": kwargs, "seconds": dt})
        with contextlib.suppress(OSError):  # the worker died; the next receive reports it
            _wire.send_msg(sock, reply)
        return dt

    def _finish(self, msg: dict, t0: float, calls: list[dict[str, Any]]) -> ExecResult:
        stdout = msg.get("stdout") if isinstance(msg.get("stdout"), str) else ""
        total = msg.get("stdout_total") if isinstance(msg.get("stdout_total"), int) else len(stdout)
        error = _parse_error(msg.get("error"))
        fatal = msg.get("fatal")
        if isinstance(fatal, str):
            self._kill()
            self.restarts += 1
            error = ExecError("killed", "RuntimeError", f"{fatal}; {_LOST}")
        res = self._result(stdout[: self.config.output_chars], total, error, t0, calls)
        if msg.get("has_final_answer") is True and error is None:
            res.final_answer, res.has_final_answer = msg.get("final_answer"), True
        return res

    def _died(self, t0: float, calls: list[dict[str, Any]]) -> ExecResult:
        cfg = self.config
        self._kill()
        self.restarts += 1
        elapsed = time.monotonic() - t0
        if elapsed >= cfg.cpu_seconds * 0.9:
            err = ExecError("timeout", "TimeoutError", f"CPU time limit of {cfg.cpu_seconds} s exceeded; {_LOST}")
        else:
            err = ExecError("killed", "RuntimeError",
                            f"the interpreter process died (killed by a limit or a crash); {_LOST}")
        return self._result("", 0, err, t0, calls)

    def _result(self, stdout: str, total: int, error: ExecError | None, t0: float,
                calls: list[dict[str, Any]]) -> ExecResult:
        obs = build_observation(stdout, total, error, self.config.output_chars)
        return ExecResult(stdout=stdout, error=error, observation=obs, seconds=time.monotonic() - t0,
                          tool_calls=calls)


def _parse_error(raw: object) -> ExecError | None:
    """The worker is untrusted: accept only well-typed fields."""
    if not isinstance(raw, dict):
        return None
    kind: ErrorKind = raw.get("kind") if raw.get("kind") in _KINDS else "exception"  # type: ignore[assignment]
    line = raw.get("line") if isinstance(raw.get("line"), int) else None
    text = raw.get("text") if isinstance(raw.get("text"), str) else None
    return ExecError(kind, str(raw.get("type", "Error"))[:200], str(raw.get("message", ""))[:2000], line, text)


def _killpg(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


def _chown_tree(path: str, uid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, uid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)
