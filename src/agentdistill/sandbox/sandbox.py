"""`Sandbox`: one episode of model-written Python in a kernel-confined worker (docs/sandbox.md, issue 14)."""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _answer, _replies, _wire
from ._presets import resolve_imports
from ._zygote import HANDSHAKE_SECONDS, Family, SandboxStartError, Worker, Zygote, _hello, _pair, get_zygote
from .limits import check_config, episode_limits, episode_memory_bytes, family_pids
from .observation import build_observation
from .types import ExecError, ExecResult, SandboxConfig

_LOST = "the interpreter was restarted and earlier variables are lost"
# characters of output a step may claim it printed (the worker counts; the host caps the claim)
MAX_TOTAL = 10**12
# a fork's hello is read after model code ran in the fork: whatever it sends fails the fork, never the host
_FORK_FAILED = (OSError, _wire.WireError, SandboxStartError, *_replies.BACKSTOP)

__all__ = ["Sandbox", "SandboxClosed", "SandboxStartError"]


class SandboxClosed(RuntimeError):
    pass


class Sandbox:
    """A stateful, isolated, forkable Python interpreter for one agent episode.

    Variables persist across ``run`` calls. After a step kills the worker (wall timeout, a hard limit, a crash,
    a thread outliving the step, a malformed message) that step's result says so and the next step starts a
    fresh interpreter in the same scratch dir (files kept, variables lost). Raises :class:`SandboxStartError`
    when a sandbox layer cannot be set up (see ``SandboxConfig.unsafe_no_sandbox``).
    """

    def __init__(
        self,
        tools: dict[str, Callable[..., Any]] | None = None,
        config: SandboxConfig | None = None,
        *,
        _python_guards: bool = True,
    ) -> None:
        self.config = config or SandboxConfig()
        self.tools = dict(tools or {})
        for name in self.tools:
            if not name.isidentifier() or name == "final_answer" or name.startswith("__"):
                raise ValueError(f"Sandbox tools: invalid tool name {name!r}")
        self._imports = resolve_imports(self.config.imports)
        check_config(self.config)
        self._closed = True  # until the family exists (so __del__ of a half-built sandbox is a no-op)
        self._zygote: Zygote = get_zygote(_python_guards, self.config.unsafe_no_sandbox)
        self._family: Family = self._zygote.family(
            self.config.scratch_mb, family_pids(self.config), episode_memory_bytes(self.config)
        )
        self._lock = threading.RLock()
        self._closed = False
        self._proc: Worker | None = None
        self._dir = "w0/work"  # the working dir under the family root: area w0 (_worker.py)
        self.restarts = 0
        self._seq = 0  # step number: a "done" of an earlier step (forged or late) is discarded
        # the step's token: its number and 16 random hex digits, sent with the code and echoed by the worker's
        # "done"; messages queued by model code in advance (forged for guessable step numbers) never match
        self._token = ""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- public API -------------------------------------------------------------------------------
    @property
    def scratch_dir(self) -> Path:
        """The scratch dir as the host can read it (inside the family's namespaces: via its /proc root).

        For tests and inspection only: model code can place symlinks here, and an absolute one resolves on the
        host's own root through this path, so host code must not follow links or write through it."""
        if self._closed:
            raise SandboxClosed("sandbox is closed")
        return Path(self._family.host_path(self._dir))

    @property
    def pid(self) -> int | None:
        """The worker's pid in the host's pid namespace."""
        return self._proc.pid if self._proc else None

    @property
    def isolation(self) -> dict[str, bool]:
        """Which layers are active (all of them unless ``unsafe_no_sandbox``; Python guards unless switched off)."""
        k, g = self._zygote.namespaces, self._zygote.guards
        return {
            "bubblewrap": k,
            "user_namespace": k,
            "mount_namespace": k,
            "pid_namespace": k,
            "network_namespace": k,
            "ipc_uts_namespaces": k,
            "seccomp": k,
            "no_capabilities": k,
            "scratch_tmpfs": k,
            "private_tmp": k,
            "landlock": k and self._zygote.landlock > 0,
            "nproc_limit": k,
            "memory_cgroup": self._family.cgroup is not None and self._family.cgroup.memory,
            "rlimits": True,
            "audit_hook": g,
            "import_allowlist": g,
        }

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
                self._seq += 1
                self._token = f"{self._seq}-{secrets.token_hex(8)}"
                self._proc.sock.settimeout(cfg.wall_seconds)  # not what the last receive of a step left
                _wire.send_msg(
                    self._proc.sock,
                    {
                        "op": "run",
                        "code": code,
                        "output_chars": cfg.output_chars,
                        "cpu_seconds": cfg.cpu_seconds,
                        "seq": self._token,
                    },
                )
            except OSError:
                return self._died(t0, _replies.Step())
            try:
                return self._await_step(t0)
            except (
                BaseException
            ):  # e.g. a host tool's KeyboardInterrupt: the worker waits mid-step, so it goes
                self._kill()
                self.restarts += 1
                raise
            finally:  # processes the step started end with it, whatever happened (a killed worker's: in _kill)
                if self._proc is not None:
                    self._family.sweep(self._proc.pid)

    def fork(self) -> Sandbox:
        """An independent copy of this episode: ``os.fork`` of the worker, which copies its scratch dir inside
        the sandbox as the sandbox uid (regular files, dirs and symlinks as links; FIFOs and devices skipped)."""
        with self._lock:
            self._check_open()
            if self._proc is None:
                self._start()
            assert self._proc is not None
            with self._family.proc_lock:  # the new worker is registered before any sweep can see it
                return self._fork()

    def _fork(self) -> Sandbox:
        assert self._proc is not None
        host, child = _pair()
        name = f"f{self._seq}-{secrets.token_hex(4)}"  # the host names the fork's area (docs/sandbox.md)
        expected = f"{posixpath.dirname(self._dir)}/{name}/work"
        try:
            _wire.send_msg(self._proc.sock, {"op": "fork", "name": name})
            _wire.send_fd(self._proc.sock, child.fileno())
        except OSError as exc:  # the worker is gone: the next step starts a fresh one
            host.close()
            child.close()
            self._kill()
            raise RuntimeError(f"Sandbox.fork failed: {exc}") from None
        child.close()  # a failed fork closes the worker's end: the hello read sees the channel close
        try:  # an at-fork hook of model code may hang the child: no longer than a step may take
            hello, pid = _hello(host, "fork", min(HANDSHAKE_SECONDS, self.config.wall_seconds))
            pidfd = os.pidfd_open(pid)
        except _FORK_FAILED as exc:  # this sandbox itself is unharmed
            host.close()
            self._family.sweep(self._proc.pid)  # the half-made fork, if any: not registered, so a stray
            raise RuntimeError(f"Sandbox.fork failed: {exc}") from None
        if hello.get("dir") != expected:  # never let a restart start anywhere but the area the host named
            Worker(pid, pidfd, host, "").kill()
            self._family.sweep(self._proc.pid)
            raise RuntimeError(
                f"Sandbox.fork failed: the fork reported a bad scratch dir {hello.get('dir')!r}"
            )
        new = object.__new__(Sandbox)
        new.config, new.tools, new._imports, new._zygote = (
            self.config,
            self.tools,
            self._imports,
            self._zygote,
        )
        new._lock, new._closed, new.restarts, new._seq = threading.RLock(), False, 0, self._seq
        new._token = ""
        with self._family.lock:
            self._family.refs += 1
        new._family, new._dir = self._family, str(hello["dir"])
        new._proc = Worker(pid, pidfd, host, new._dir)
        self._family.register(pid)
        return new

    def adopt(self, child: Sandbox) -> None:
        """Take ``child``'s state (a fork of this sandbox); this sandbox's old worker is killed, ``child`` is consumed."""
        if child is self:
            raise ValueError("Sandbox.adopt: a sandbox cannot adopt itself")
        if child._family is not self._family:
            raise ValueError("Sandbox.adopt: the child is not a fork of this sandbox")
        with self._lock, child._lock:
            self._check_open()
            child._check_open()
            self._kill()
            self._proc, self._dir, self.restarts = child._proc, child._dir, self.restarts + child.restarts
            self._seq = max(self._seq, child._seq)  # a late "done" of the child's steps can never match
            child._proc, child._closed = None, True
            child._family.release()

    def close(self) -> None:
        """Kill this worker; when the last sandbox of the episode closes, every process of it is gone on return."""
        lock = getattr(self, "_lock", None)
        with lock if lock is not None else contextlib.nullcontext():
            if self._closed:
                return
            self._closed = True
            self._kill()
            self._family.release()

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
        cfg = self.config
        self._proc = self._family.spawn(
            self._dir,
            self._imports,
            sorted(self.tools),
            episode_limits(cfg, self._zygote.namespaces or os.geteuid() == 0),
            {"answer_chars": cfg.max_final_answer_chars, "tool_arg_chars": cfg.max_tool_arg_chars},
        )

    def _kill(self) -> None:
        """Kill the worker and whatever its code left running (``_strays.py``)."""
        if self._proc is not None:
            pid = self._proc.pid
            self._family.forget(pid)
            self._proc.kill()
            self._proc = None
            self._family.sweep(pid)

    def _msg_limit(self) -> int:
        c = self.config
        return 6 * (c.output_chars + c.max_final_answer_chars + c.max_tool_arg_chars) + 65536

    def _await_step(self, t0: float) -> ExecResult:
        assert self._proc is not None
        sock, cfg, step = self._proc.sock, self.config, _replies.Step()
        deadline = t0 + cfg.wall_seconds  # host tool time counts
        while True:
            try:  # the deadline bounds the whole message, not each receive (a worker may send byte by byte);
                # only the worker itself may write: a process it forked shares the channel (and the step token)
                msg = _wire.recv_msg(
                    sock, self._msg_limit(), check_depth=True, deadline=deadline, sender=self._proc.pid
                )
            except TimeoutError:
                self._kill()
                self.restarts += 1
                err = ExecError(
                    "timeout", "TimeoutError", f"step timed out after {cfg.wall_seconds:g} s; {_LOST}"
                )
                return self._result("", 0, err, t0, step)
            except _wire.WireError as exc:
                if str(exc) == "channel closed":
                    return self._died(t0, step)
                return self._bad_message(t0, step, str(exc))
            except OSError:
                return self._died(t0, step)
            op = msg["op"]
            try:  # every field is checked (_replies.py); the except is the backstop for a check we lack
                if op == "call":
                    _replies.serve_tool(self.tools, self.config, sock, msg, step)
                elif op == "final":
                    if step.answer is None:
                        value = msg.get("value")
                        if _answer.size(value) > cfg.max_final_answer_chars:
                            return self._bad_message(t0, step, "final answer over the size limit")
                        step.answer = (value,)
                elif op == "done":
                    if msg.get("seq") == self._token:
                        return self._finish(_replies.step_end(msg, MAX_TOTAL), t0, step)
                else:
                    return self._bad_message(t0, step, f"unknown message {op[:40]!r}")
            except _replies.Malformed as exc:
                return self._bad_message(t0, step, str(exc))
            except _replies.BACKSTOP as exc:
                return self._bad_message(t0, step, f"malformed {op[:40]!r} message ({type(exc).__name__})")

    def _bad_message(self, t0: float, step: _replies.Step, why: str) -> ExecResult:
        self._kill()
        self.restarts += 1
        err = ExecError("output", "SandboxError", f"the worker sent an invalid message ({why}); {_LOST}")
        return self._result("", 0, err, t0, step)

    def _finish(self, end: _replies.StepEnd, t0: float, step: _replies.Step) -> ExecResult:
        stdout, total, error, fatal = (
            end  # total is capped: a forged count cannot blow the observation budget
        )
        if fatal is None and self._threads() > 1:  # the kernel's count: the worker's own check can be patched
            fatal = "threads are not allowed: a thread outlived the step"
        if fatal is not None:
            self._kill()
            self.restarts += 1
            error = ExecError("killed", "RuntimeError", f"{fatal[:200]}; {_LOST}")
        if step.answer is not None:
            error = None  # the first final_answer is the answer, whatever the code did after it
        return self._result(stdout[: self.config.output_chars], total, error, t0, step)

    def _threads(self) -> int:
        """How many threads the worker has, as the host's /proc shows them (1 when it cannot tell)."""
        try:
            return len(os.listdir(f"/proc/{self._proc.pid}/task")) if self._proc else 1
        except OSError:
            return 1

    def _died(self, t0: float, step: _replies.Step) -> ExecResult:
        cfg = self.config
        self._kill()
        self.restarts += 1
        elapsed = time.monotonic() - t0
        if elapsed >= cfg.cpu_seconds * 0.9:
            err = ExecError(
                "timeout", "TimeoutError", f"CPU time limit of {cfg.cpu_seconds} s exceeded; {_LOST}"
            )
        else:
            err = ExecError(
                "killed",
                "RuntimeError",
                f"the interpreter process died (killed by a limit or a crash); {_LOST}",
            )
        return self._result("", 0, err, t0, step)

    def _result(
        self, stdout: str, total: int, error: ExecError | None, t0: float, step: _replies.Step
    ) -> ExecResult:
        if step.answer is not None:
            error = None
        obs = build_observation(stdout, total, error, self.config.output_chars)
        res = ExecResult(
            stdout=stdout, error=error, observation=obs, seconds=time.monotonic() - t0, tool_calls=step.calls
        )
        if step.answer is not None:
            res.final_answer, res.has_final_answer = step.answer[0], True
            res.final_answer_text = _answer.describe(step.answer[0])[:2000]
        return res
