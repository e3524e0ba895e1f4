"""Run one grading comparison under a hard time and memory bound, in any thread.

Symbolic work on model output can run for ever: ``x = 10^{10^{10}}`` sent to ``sympy.simplify`` expands a
ten-billion-digit integer, and deep nesting makes the LaTeX parser crawl. math-verify's own timeout is
``signal.alarm``: it works only in the main thread (graders run in worker threads during generation and
evaluation), it does not cover the grader's own sympy calls, and no signal stops a single C-level operation
such as a big-integer power. So the comparison runs in a child process that is killed at the deadline, with
an address-space limit so a runaway power fails there with ``MemoryError`` instead of exhausting the host —
the approach of Qwen2.5-Math's evaluation (``math_equal_process`` in a process pool with a per-answer timeout).

The child is *forked* (a copy of the caller with the grader already imported: a call costs milliseconds; only
the calling thread exists in it). ``spawn``/``forkserver`` would re-run an unguarded ``__main__`` script in
every child. The memory limit is the child's inherited address space plus ``MEMORY_BYTES``, so a caller that
maps a lot (a loaded model) still grades. Where no child can be forked (a daemonic process, no ``fork``),
the function runs in the caller, bounded only by math-verify's alarm.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

GRADE_SECONDS = 20.0  # one comparison; math-verify's own parse/verify alarms (5 s each) fire inside it
MEMORY_BYTES = 2 * 2**30  # address space the child may add to what it inherited


def _address_space() -> int | None:
    """This process's virtual memory size in bytes (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], memory: int) -> None:
    size = _address_space()
    try:
        import resource

        if size is not None:
            resource.setrlimit(resource.RLIMIT_AS, (size + memory, resource.RLIM_INFINITY))
    except (ImportError, ValueError, OSError):  # pragma: no cover - no limit where the platform has none
        pass
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        result = ("error", f"{type(exc).__name__}: {exc}"[:300])
    try:
        conn.send(result)
    finally:
        conn.close()


def call_bounded(
    fn: Callable[..., T],
    args: tuple[Any, ...],
    on_timeout: Callable[[str], T],
    seconds: float | None = None,
    memory: int | None = None,
) -> T:
    """``fn(*args)`` in a child process killed after ``seconds``; ``on_timeout(reason)`` when it did not
    finish (deadline, memory limit, crash or an exception, named in ``reason``). ``fn`` and its arguments and
    result must pickle (``fn`` a module-level function). Defaults: ``GRADE_SECONDS``, ``MEMORY_BYTES``."""
    seconds = GRADE_SECONDS if seconds is None else seconds
    memory = MEMORY_BYTES if memory is None else memory
    try:
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, fn, args, memory), daemon=True)
        proc.start()
    except (AssertionError, OSError, ValueError, RuntimeError):  # a daemonic caller, no start method
        return fn(*args)
    send.close()
    try:
        if not receive.poll(seconds):
            return on_timeout(f"no result within {seconds:g} s")
        status, value = receive.recv()
    except (EOFError, OSError):
        return on_timeout("the grading process died (memory limit or crash)")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receive.close()
    return value if status == "ok" else on_timeout(value)
