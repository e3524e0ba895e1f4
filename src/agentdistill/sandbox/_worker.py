"""The sandbox worker: a zygote that pre-imports heavy modules, then forks one process per episode.

Run as ``python -I -S -B _worker.py FD`` by the host (never imported by model code). Message loop:
zygote ops ``spawn``; episode ops ``run``, ``fork``, ``exit``. Model code runs in the episode process
with the audit hook and import allow-list up (see _guards.py); the host sets every rlimit with prlimit.
"""

from __future__ import annotations

import builtins
import gc
import io
import math
import os
import resource
import signal
import socket
import sys

if __name__ == "__main__":  # make the sibling helpers importable, then forget the path
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, _here)
    import _guards  # noqa: E402
    import _presets  # noqa: E402
    import _wire  # noqa: E402

    sys.path.remove(_here)
else:  # imported by the host for tests/type checks only
    from . import _guards, _presets, _wire  # type: ignore[no-redef]

import _thread  # noqa: E402

_thread_count = _thread._count  # captured: model code may overwrite module attributes
_listdir = os.listdir


def _extra_threads(trusted: list[bool]) -> bool:
    """True if any thread besides the main one exists (checked in /proc: nothing in-process to tamper with)."""
    trusted[0] = True
    try:
        return len(_listdir("/proc/self/task")) > 1 or _thread_count() > 0
    except OSError:
        return _thread_count() > 0
    finally:
        trusted[0] = False
STEP_FILE = "<step>"
MAX_MESSAGE_CHARS = 2000


class FinalAnswer(BaseException):  # BaseException: `except Exception` in model code must not swallow it
    def __init__(self, value: object) -> None:
        self.value = value


class CpuLimitExceeded(BaseException):
    pass


class ToolError(Exception):
    pass


class _Channel:
    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


class _Capture(io.TextIOBase):
    """stdout/stderr for one step: keeps the first ``cap`` chars, counts the rest (host memory stays flat)."""

    def __init__(self, cap: int) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0
        self.cap = cap

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.total += len(s)
        room = self.cap - self.kept
        if room > 0:
            piece = s[:room]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(s)


def _jsonable(value: object) -> object:
    import json

    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError, RecursionError, OverflowError):
        pass
    for conv in ("tolist", "item"):  # numpy scalars and arrays
        fn = getattr(value, conv, None)
        if callable(fn) and type(value).__module__.startswith("numpy"):
            try:
                out = fn()
                json.dumps(out)
                return out
            except Exception:  # noqa: BLE001
                break
    try:
        return repr(value)[:100_000]
    except Exception as exc:  # noqa: BLE001
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def _final_answer(answer: object = None) -> None:
    """End the step and hand ``answer`` to the host."""
    raise FinalAnswer(answer)


class _Tool:
    __slots__ = ("name", "chan")

    def __init__(self, name: str, chan: _Channel) -> None:
        self.name, self.chan = name, chan

    def __call__(self, *args: object, **kwargs: object) -> object:
        import json

        try:
            json.dumps([args, kwargs])
        except (TypeError, ValueError) as exc:
            raise TypeError(f"arguments to {self.name}() must be JSON-serializable: {exc}") from None
        _wire.send_msg(self.chan.sock, {"op": "call", "name": self.name, "args": list(args), "kwargs": kwargs})
        reply = _wire.recv_msg(self.chan.sock)
        if reply.get("op") == "ret":
            return reply.get("value")
        raise ToolError(f"{self.name}() failed: {reply.get('type', 'Error')}: {reply.get('message', '')}")


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001
        text = "<error message unavailable>"
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " ..."


def _step_line(exc: BaseException, trusted: list[bool]) -> int | None:
    """Line of the innermost frame that belongs to the model's code (host/library frames are skipped)."""
    line = None
    gc.disable()
    trusted[0] = True
    try:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == STEP_FILE:
                line = tb.tb_lineno
            tb = tb.tb_next
    finally:
        trusted[0] = False
        gc.enable()
    return line


def _error(kind: str, exc: BaseException, src: str, trusted: list[bool], message: str | None = None) -> dict:
    if isinstance(exc, SyntaxError) and kind == "syntax":
        line = exc.lineno
        message = message or (exc.msg or "invalid syntax")
    else:
        line = _step_line(exc, trusted)
    lines = src.splitlines()
    text = lines[line - 1].strip() if line and 0 < line <= len(lines) else None
    tname = "ImportError" if isinstance(exc, ImportError) else type(exc).__name__
    tname = "PermissionError" if isinstance(exc, _guards.SandboxViolation) else tname
    return {"kind": kind, "type": tname, "message": message if message is not None else _safe_str(exc),
            "line": line, "text": text}


def _reset_signals() -> None:
    """Drop handlers/timers the model code may have set, so none fire between steps."""
    for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(which, 0)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        want = _EXPECTED.get(sig, signal.SIG_DFL)
        try:
            if signal.getsignal(sig) is not want:
                signal.signal(sig, want)
        except (OSError, ValueError):
            pass


def _on_xcpu(signum: int, frame: object) -> None:
    raise CpuLimitExceeded()


_EXPECTED = {signal.SIGXCPU: _on_xcpu, signal.SIGXFSZ: signal.SIG_IGN, signal.SIGCHLD: signal.SIG_IGN,
             signal.SIGPIPE: signal.SIG_IGN, signal.SIGINT: signal.default_int_handler}


def _set_limits(limits: list, trusted: list[bool]) -> None:
    trusted[0] = True
    try:
        for res, soft, hard in limits:
            resource.setrlimit(res, (soft, hard))
    finally:
        trusted[0] = False


def _cpu_limit(cpu_seconds: int, trusted: list[bool]) -> None:
    """Soft RLIMIT_CPU = used + budget: SIGXCPU becomes a clean error (the host's wall clock is the backstop)."""
    if cpu_seconds > 0:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = math.ceil(ru.ru_utime + ru.ru_stime + cpu_seconds)
        _set_limits([(resource.RLIMIT_CPU, soft if hard < 0 else min(soft, hard), hard)], trusted)


def _run_step(src: str, ns: dict, cap_chars: int, cpu_seconds: int, trusted: list[bool]) -> dict:
    _cpu_limit(cpu_seconds, trusted)
    cap = _Capture(cap_chars)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = cap
    out: dict = {"op": "done", "error": None}
    try:
        try:
            code = compile(src, STEP_FILE, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            out["error"] = _error("syntax", exc, src, trusted)
        else:
            try:
                exec(code, ns)
            except FinalAnswer as fa:
                out["final_answer"], out["has_final_answer"] = _jsonable(fa.value), True
            except CpuLimitExceeded as exc:
                out["error"] = _error("timeout", exc, src, trusted, f"CPU time limit of {cpu_seconds} s exceeded")
            except MemoryError as exc:
                out["error"] = _error("memory", exc, src, trusted, _safe_str(exc) or "out of memory")
            except _guards.ImportBlocked as exc:
                out["error"] = _error("import", exc, src, trusted)
            except RecursionError as exc:
                out["error"] = _error("exception", exc, src, trusted)
            except BaseException as exc:  # noqa: BLE001 - model errors of every kind become observations
                out["error"] = _error("exception", exc, src, trusted)
    except BaseException as exc:  # noqa: BLE001 - e.g. the CPU signal landing in our own code
        out["error"] = {"kind": "timeout" if isinstance(exc, CpuLimitExceeded) else "exception",
                        "type": type(exc).__name__, "message": _safe_str(exc), "line": None, "text": None}
    finally:
        sys.stdout, sys.stderr = saved
        _reset_signals()
    out["stdout"], out["stdout_total"] = "".join(cap.parts), cap.total
    if _extra_threads(trusted):
        out["fatal"] = "threads are not allowed: a thread outlived the step"
    return out


def _become(scratch: str, chan: _Channel, new_fd: int, trusted: list[bool]) -> None:
    """Post-fork setup shared by spawn and fork: own session, own channel, own scratch dir."""
    chan.sock.close()
    chan.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=new_fd)
    os.setsid()
    trusted[0] = True
    try:
        os.chdir(scratch)
    finally:
        trusted[0] = False
    os.environ["HOME"] = os.environ["TMPDIR"] = scratch


def _fork(chan: _Channel, trusted: list[bool]) -> int:
    new_fd = _wire.recv_fd(chan.sock)
    gc.disable()
    trusted[0] = True
    try:
        pid = os.fork()
    finally:
        trusted[0] = False
        gc.enable()
    if pid:
        os.close(new_fd)
    return pid if pid else -new_fd  # child: negative fd to adopt


def _episode_loop(chan: _Channel, ns: dict, trusted: list[bool]) -> None:
    while True:
        try:
            msg = _wire.recv_msg(chan.sock)
        except (_wire.WireError, OSError):
            os._exit(0)
        op = msg["op"]
        if op == "run":
            out = _run_step(str(msg.get("code", "")), ns, int(msg.get("output_chars", 4000)),
                            int(msg.get("cpu_seconds", 0)), trusted)
            _wire.send_msg(chan.sock, out)
            if "fatal" in out:
                os._exit(3)
        elif op == "fork":
            r = _fork(chan, trusted)
            if r > 0:
                _wire.send_msg(chan.sock, {"op": "forked", "pid": r})
            else:
                _become(msg["scratch"], chan, -r, trusted)
                _wire.send_msg(chan.sock, {"op": "hello", "pid": os.getpid(), "uid": os.getuid()})
        elif op == "exit":
            os._exit(0)


def _start_episode(msg: dict, chan: _Channel, trusted: list[bool], guards: bool) -> None:
    scratch = msg["scratch"]
    _become(scratch, chan, msg["_fd"], trusted)
    _set_limits([(getattr(resource, name), v, v) for name, v in msg.get("limits", [])], trusted)
    if os.geteuid() == 0 and msg.get("drop_uid", True):
        uid = 1_000_000 + os.getpid()  # a uid no other process has: no signals, no shared rlimit counts
        os.chown(scratch, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if guards:
        _guards.install_import_guard(tuple(msg["imports"]))
    ns: dict = {"__name__": _guards.MODEL_MODULE, "__builtins__": dict(vars(builtins))}
    ns["final_answer"] = _final_answer
    for name in msg.get("tools", []):
        ns[name] = _Tool(name, chan)
    _wire.send_msg(chan.sock, {"op": "hello", "pid": os.getpid(), "uid": os.getuid()})
    _episode_loop(chan, ns, trusted)


def _zygote_setup(init: dict) -> dict:
    import ctypes

    sys.path[:] = [p for p in init["sys_path"] if p]
    sys.dont_write_bytecode = True
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the zygote dies with the host
    netns = False
    if init.get("netns", True):
        netns = libc.unshare(0x40000000) == 0  # CLONE_NEWNET: an empty network namespace
    failed = []
    for mod in _presets.PRELOAD:
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001 - optional modules may be missing
            failed.append(mod)
    for sig, handler in _EXPECTED.items():
        signal.signal(sig, handler)
    return {"netns": netns, "root": os.geteuid() == 0, "preload_failed": failed}


def main() -> None:
    chan = _Channel(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=int(sys.argv[1])))
    init = _wire.recv_msg(chan.sock)
    info = _zygote_setup(init)
    guards = bool(init.get("guards", True))
    trusted = _guards.install_audit_hook(init["scratch_base"], init["read_roots"]) if guards else [True]
    _wire.send_msg(chan.sock, {"op": "ready", **info})
    del init
    while True:
        try:
            msg = _wire.recv_msg(chan.sock)
        except (_wire.WireError, OSError):
            os._exit(0)
        if msg["op"] == "spawn":
            r = _fork(chan, trusted)
            if r > 0:
                _wire.send_msg(chan.sock, {"op": "forked", "pid": r})
            else:
                msg["_fd"] = -r
                _start_episode(msg, chan, trusted, guards)
                os._exit(0)
        elif msg["op"] == "exit":
            os._exit(0)


if __name__ == "__main__":
    main()
