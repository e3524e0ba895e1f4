"""Inside an episode worker: run model steps, call host tools, record ``final_answer``, fork for SAG.

Stdlib only; imported as a top-level module inside the sandbox (see ``_worker.py``). Messages to the host:
``call`` (a tool call; the host replies ``ret``/``err``), ``final`` (the first ``final_answer`` of a step, encoded by
``_answer.encode``; the host keeps the first and ignores later ones), ``done`` (end of step), ``forked``/``hello``.
"""

from __future__ import annotations

import gc
import io
import math
import os
import resource
import signal
import socket
import sys

if __package__:
    from . import _answer, _guards, _wire
else:  # inside the sandbox
    import _answer  # type: ignore[no-redef]
    import _guards  # type: ignore[no-redef]
    import _wire  # type: ignore[no-redef]

import _thread

_thread_count = _thread._count  # captured: model code may overwrite module attributes
_listdir = os.listdir
STEP_FILE = "<step>"
MAX_MESSAGE_CHARS = 2000


class FinalAnswer(BaseException):  # BaseException: `except Exception` in model code must not swallow it
    pass


class CpuLimitExceeded(BaseException):
    pass


class ToolError(Exception):
    pass


class AnswerTooLarge(ValueError):
    pass


class Channel:
    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


class _StepState:
    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered = False


class _Capture(io.TextIOBase):
    """stdout/stderr for one step: keeps the first ``cap`` chars, counts the rest (memory stays flat)."""

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


def _unwinder(frame, event, arg):  # noqa: ANN001, ANN202
    """Trace function armed by the first final_answer: every new line of model code raises FinalAnswer again."""
    if frame.f_code.co_filename == STEP_FILE:
        if event in ("line", "call"):
            raise FinalAnswer()
        return _unwinder
    return None


def _arm_unwind(trusted: list) -> None:
    with _guards.trusting(trusted):
        f = sys._getframe(1)
        while f is not None:
            if f.f_code.co_filename == STEP_FILE:
                f.f_trace, f.f_trace_lines = _unwinder, True
            f = f.f_back
        sys.settrace(_unwinder)


def _disarm_unwind(trusted: list) -> None:
    with _guards.trusting(trusted):
        sys.settrace(None)


def _armer(trusted: list):  # noqa: ANN202
    """A generator that arms the unwinder on every ``send``. It holds ``trusted`` in its frame, which model code
    cannot reach (``gi_frame`` is audited), unlike a closure cell: ``final_answer.__closure__`` is readable."""
    while True:
        yield
        _arm_unwind(trusted)


def make_final_answer(chan: Channel, state: _StepState, trusted: list, cap: int):  # noqa: ANN201
    armer = _armer(trusted)
    next(armer)

    def final_answer(answer: object = None) -> None:
        """End the step and hand ``answer`` to the host (the first call of a step is the answer)."""
        if not state.answered:
            payload = _answer.encode(answer)
            n = _answer.size(payload)
            if n > cap:
                raise AnswerTooLarge(
                    f"final_answer(): the answer is {n} characters as JSON; the limit is {cap}"
                )
            state.answered = True
            _wire.send_msg(chan.sock, {"op": "final", "value": payload})
            armer.send(None)
        raise FinalAnswer()

    return final_answer


class Tool:
    """A host tool as model code sees it (the host enforces the same caps; this only gives a clear error)."""

    __slots__ = ("name", "chan", "cap")

    def __init__(self, name: str, chan: Channel, cap: int) -> None:
        self.name, self.chan, self.cap = name, chan, cap

    def __call__(self, *args: object, **kwargs: object) -> object:
        import json

        try:
            size = len(json.dumps([args, kwargs], ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"arguments to {self.name}() must be JSON-serializable: {exc}") from None
        if size > self.cap:
            raise ValueError(f"{self.name}(): arguments of {size} characters; the limit is {self.cap}")
        _wire.send_msg(
            self.chan.sock, {"op": "call", "name": self.name, "args": list(args), "kwargs": kwargs}
        )
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
    """Line of the innermost frame that belongs to the model's code (library frames are skipped)."""
    line = None
    gc.disable()
    try:
        with _guards.trusting(trusted):
            tb = exc.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename == STEP_FILE:
                    line = tb.tb_lineno
                tb = tb.tb_next
    finally:
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
    return {
        "kind": kind,
        "type": tname,
        "message": message if message is not None else _safe_str(exc),
        "line": line,
        "text": text,
    }


def _on_xcpu(signum: int, frame: object) -> None:
    raise CpuLimitExceeded()


EXPECTED = {
    signal.SIGXCPU: _on_xcpu,
    signal.SIGXFSZ: signal.SIG_IGN,
    signal.SIGCHLD: signal.SIG_IGN,
    signal.SIGPIPE: signal.SIG_IGN,
    signal.SIGINT: signal.default_int_handler,
}


def reset_signals() -> None:
    """Drop handlers/timers the model code may have set, so none fire between steps; reap exited children."""
    for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(which, 0)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        want = EXPECTED.get(sig, signal.SIG_DFL)
        try:
            if signal.getsignal(sig) is not want:
                signal.signal(sig, want)
        except (OSError, ValueError):
            pass
    reap_exited()  # children that exited while SIGCHLD was not ignored are zombies, and count against the cap


def reap_exited() -> None:
    """Collect every child that has exited (zombies hold a slot of the process cap); never blocks."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def set_limits(limits: list, trusted: list) -> None:
    with _guards.trusting(trusted):
        for res, soft, hard in limits:
            resource.setrlimit(res, (soft, hard))


def _cpu_limit(cpu_seconds: int, trusted: list[bool]) -> None:
    """Soft RLIMIT_CPU = used + budget (SIGXCPU -> a clean error); the hard limit was fixed at episode start."""
    if cpu_seconds > 0:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = math.ceil(ru.ru_utime + ru.ru_stime + cpu_seconds)
        set_limits([(resource.RLIMIT_CPU, soft if hard < 0 else min(soft, hard), hard)], trusted)


def _extra_threads(trusted: list[bool]) -> bool:
    """True if any thread besides the main one exists (checked in /proc: nothing in-process to tamper with)."""
    with _guards.trusting(trusted):
        try:
            return len(_listdir("/proc/self/task")) > 1 or _thread_count() > 0
        except OSError:
            return _thread_count() > 0


def run_step(
    src: str, ns: dict, cap_chars: int, cpu_seconds: int, trusted: list[bool], state: _StepState
) -> dict:
    _cpu_limit(cpu_seconds, trusted)
    state.answered = False
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
            except FinalAnswer:
                pass
            except CpuLimitExceeded as exc:
                out["error"] = _error(
                    "timeout", exc, src, trusted, f"CPU time limit of {cpu_seconds} s exceeded"
                )
            except MemoryError as exc:
                out["error"] = _error("memory", exc, src, trusted, _safe_str(exc) or "out of memory")
            except _guards.ImportBlocked as exc:
                out["error"] = _error("import", exc, src, trusted)
            except BaseException as exc:  # noqa: BLE001 - model errors of every kind become observations
                out["error"] = _error("exception", exc, src, trusted)
    except BaseException as exc:  # noqa: BLE001 - e.g. the CPU signal landing in our own code
        out["error"] = {
            "kind": "timeout" if isinstance(exc, CpuLimitExceeded) else "exception",
            "type": type(exc).__name__,
            "message": _safe_str(exc),
            "line": None,
            "text": None,
        }
    finally:
        if state.answered:
            _disarm_unwind(trusted)
        sys.stdout, sys.stderr = saved
        reset_signals()
    out["stdout"], out["stdout_total"] = "".join(cap.parts), cap.total
    out["has_final_answer"] = state.answered
    if _extra_threads(trusted):
        out["fatal"] = "threads are not allowed: a thread outlived the step"
    return out
