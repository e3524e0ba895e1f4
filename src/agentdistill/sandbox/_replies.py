"""Host-side checks of the messages a worker sends (docs/sandbox.md, "Channel protocol").

The worker is untrusted: model code can rewrite any of its modules (``_episode._error``, ``_wire.send_msg``) and
so choose every field of every message. Rule: the host reads a worker field only through these checks; a field
of the wrong type makes the message :class:`Malformed`, which ``Sandbox`` turns into an error result (the worker is
killed and restarted, "the end of the step"), never an exception of the host's own. A review found
``raw.get("kind") in _KINDS`` raising ``TypeError`` for an unhashable kind
(docs/reviews/sandbox-2026-12-02.md, fault 1).
``_wire.recv_msg`` has already checked that the message is a dict with a str ``op``, nested at most 64 levels,
with valid Unicode in every string.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, NamedTuple, get_args

from . import _wire
from .types import ErrorKind, ExecError, SandboxConfig

KINDS = frozenset(get_args(ErrorKind))
MAX_TYPE_CHARS, MAX_MESSAGE_CHARS = 200, 2000
# what host code can raise on a value it did not expect: caught around each message as a backstop, so a check
# missing here still ends the step with an error result instead of leaving ``Sandbox.run``
BACKSTOP = (TypeError, ValueError, LookupError, AttributeError, RecursionError, ArithmeticError)


class Malformed(ValueError):
    """A worker message with a field of the wrong type; the text names the field."""


class StepEnd(NamedTuple):
    """The fields of a well-typed ``done``."""

    stdout: str
    total: int
    error: ExecError | None
    fatal: str | None


def _field(msg: dict, key: str, kinds: tuple[type, ...], default: Any, where: str = "done") -> Any:
    """``msg[key]`` if it has one of ``kinds`` (bool is never an int here), ``default`` when absent."""
    if key not in msg:
        return default
    value = msg[key]
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise Malformed(f"{where} field {key!r} of type {type(value).__name__}")
    return value


def parse_error(raw: object) -> ExecError | None:
    """The ``error`` of a ``done``: None, or an object with a known str ``kind``, str ``type`` and ``message``,
    int-or-null ``line`` and str-or-null ``text`` (what ``_episode._error`` sends)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Malformed(f"done field 'error' of type {type(raw).__name__}")
    kind = _field(raw, "kind", (str,), "exception", "error")
    if kind not in KINDS:
        raise Malformed(f"unknown error kind {kind[:40]!r}")
    type_ = _field(raw, "type", (str,), "Error", "error")
    message = _field(raw, "message", (str,), "", "error")
    line = _field(raw, "line", (int, type(None)), None, "error")
    text = _field(raw, "text", (str, type(None)), None, "error")
    return ExecError(kind, type_[:MAX_TYPE_CHARS], message[:MAX_MESSAGE_CHARS], line, text)


def step_end(msg: dict, max_total: int) -> StepEnd:
    """A ``done``'s stdout, its claimed total length (capped at ``max_total``, never below ``len(stdout)``), its
    error and its fatal reason; raises :class:`Malformed`."""
    stdout = _field(msg, "stdout", (str,), "")
    total = _field(msg, "stdout_total", (int,), 0)
    error = parse_error(msg.get("error"))
    fatal = _field(msg, "fatal", (str, type(None)), None)
    return StepEnd(stdout, min(max(total, len(stdout)), max_total), error, fatal)


class Step:
    """What the host collected during one step: its tool calls and the first final answer."""

    __slots__ = ("calls", "answer")

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer: tuple[Any] | None = None  # (payload,) once the first final_answer arrived


def serve_tool(
    tools: dict[str, Callable[..., Any]], cfg: SandboxConfig, sock: Any, msg: dict, step: Step
) -> None:
    """Answer a ``call``: run the host tool, or reply with an error (unknown name, malformed or over a cap)."""
    t = time.monotonic()
    name, args, kwargs = msg.get("name"), msg.get("args"), msg.get("kwargs")
    record: dict[str, Any] = {"name": name[:100] if isinstance(name, str) else repr(name)[:100]}
    try:
        fn = tools.get(name) if isinstance(name, str) else None
        if fn is None:
            raise NameError(f"no tool named {record['name']!r}")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError("malformed tool call")
        size = len(json.dumps([args, kwargs], ensure_ascii=False))
        if step.answer is not None:
            raise RuntimeError("the step has ended: final_answer was already called")
        if len(step.calls) >= cfg.max_tool_calls:
            raise RuntimeError(f"at most {cfg.max_tool_calls} tool calls per step")
        if size > cfg.max_tool_arg_chars:
            raise ValueError(f"arguments of {size} characters; the limit is {cfg.max_tool_arg_chars}")
        record.update(args=args, kwargs=kwargs)
        value = fn(*args, **kwargs)
        json.dumps(value)
        reply: dict[str, Any] = {"op": "ret", "value": value}
    except Exception as exc:  # noqa: BLE001 - a failing or refused tool call is an observation, not a crash
        reply = {"op": "err", "type": type(exc).__name__, "message": str(exc)[:2000]}
        record["error"] = reply["message"]
    record["seconds"] = time.monotonic() - t
    step.calls.append(record)
    with contextlib.suppress(OSError):  # the worker died; the next receive reports it
        _wire.send_msg(sock, reply)
