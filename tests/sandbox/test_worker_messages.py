"""The host trusts no field of a worker message (``sandbox/_replies.py``, ``_wire.py``): model code rewrites the
worker's own modules and so chooses every field, yet ``Sandbox.run`` and ``Sandbox.fork`` raise only their
documented errors, and the processes of the step (or of a half-made fork) are gone afterwards.
Attacks from a review session (docs/reviews/sandbox-2026-12-02.md, faults 1 and 2), against the real sandbox."""

from __future__ import annotations

import dataclasses
import socket
import struct
import time

import pytest

from agentdistill.sandbox import Sandbox, _wire

from .conftest import FAST, wait_for_processes

S = "import collections\nS = collections._sys\nOS = S.modules['os']\nE = S.modules['_episode']\n"
GOOD_ERROR = '{"kind": "exception", "type": "X", "message": "m", "line": None, "text": None}'
# (id, a Python expression for the `error` field of the step's `done`): each is not what the worker sends
BAD_ERRORS = [
    ("kind_list", '{"kind": [], "type": "X", "message": "m", "line": None, "text": None}'),  # the review's
    ("kind_dict", '{"kind": {}, "type": "X", "message": "m", "line": None, "text": None}'),
    ("kind_unknown", '{"kind": "pwned", "type": "X", "message": "m", "line": None, "text": None}'),
    ("type_list", '{"kind": "exception", "type": [1], "message": "m", "line": None, "text": None}'),
    ("message_dict", '{"kind": "exception", "type": "X", "message": {"a": 1}, "line": None, "text": None}'),
    ("line_str", '{"kind": "exception", "type": "X", "message": "m", "line": "3", "text": None}'),
    ("line_bool", '{"kind": "exception", "type": "X", "message": "m", "line": True, "text": None}'),
    ("text_int", '{"kind": "exception", "type": "X", "message": "m", "line": 1, "text": 5}'),
    ("error_str", '"boom"'),
    ("error_list", "[[]]"),
]
# (id, code that rewrites a field of the step's `done` itself)
PATCH_DONE = (
    S + "W = S.modules['_wire']\norig = W.send_msg\ndef send(sock, obj):\n"
    "    if isinstance(obj, dict) and obj.get('op') == 'done':\n        obj = dict(obj, {field}={value})\n"
    "    orig(sock, obj)\nW.send_msg = send\n"
)
BAD_DONE = [
    ("stdout_list", "stdout", "['x']"),
    ("stdout_total_str", "stdout_total", "'9'"),
    ("stdout_total_float", "stdout_total", "1e300"),
    ("fatal_dict", "fatal", "{'x': 1}"),
]


def _invalid(r) -> bool:
    return r.error is not None and r.error.kind == "output" and "invalid message" in r.error.message


@pytest.mark.parametrize(("case", "error"), BAD_ERRORS, ids=[c for c, _ in BAD_ERRORS])
def test_a_forged_error_field_is_an_error_result_not_a_host_exception(case: str, error: str):
    """With every layer on: ``_episode._error`` is a module global model code can rewrite."""
    with Sandbox(config=FAST) as sb:
        sb.run("x = 1")
        r = sb.run(S + f"E._error = lambda *a, **k: {error}\nraise ValueError('boom')")
        assert _invalid(r), r.observation
        assert sb.restarts == 1
        assert sb.run("print('fresh')").stdout == "fresh\n"  # a fresh worker (the forged one is gone)
        ok = sb.run(S + f"E._error = lambda *a, **k: {GOOD_ERROR}\nraise ValueError('boom')")
        assert ok.error is not None and ok.error.type == "X" and sb.restarts == 1, ok.observation


@pytest.mark.parametrize(("case", "field", "value"), BAD_DONE, ids=[c for c, _, _ in BAD_DONE])
def test_a_forged_done_field_is_an_error_result(case: str, field: str, value: str):
    with Sandbox(config=FAST) as sb:
        r = sb.run(PATCH_DONE.format(field=field, value=value))  # this step's own done is the forged one
        assert _invalid(r), r.observation
        assert sb.run("print('fresh')").stdout == "fresh\n"


def test_the_processes_of_a_step_with_a_forged_reply_end_with_it(host):
    """The review's case with the guards off: a child forked in the step outlived the TypeError of ``run``."""
    with Sandbox(config=FAST, _python_guards=False) as sb:
        r = sb.run(
            S + "if OS.fork() == 0:\n    import time\n    time.sleep(30)\n    OS._exit(0)\n"
            "E._error = lambda *a, **k: {'kind': [], 'type': 'X', 'message': 'm', 'line': None, 'text': None}\n"
            "raise ValueError('boom')"
        )
        assert _invalid(r), r.observation
        assert wait_for_processes(1) == {sb._family.pid}, "a process of the step outlived it"
        assert sb.run("print(6 * 7)").stdout == "42\n"
    host.assert_intact()


class _Stop(BaseException):
    """Stands for a KeyboardInterrupt raised in a host tool."""


def test_a_step_that_leaves_run_by_an_exception_still_ends_its_processes(host):
    """Whatever leaves ``run`` mid-step (here a host tool's BaseException), the step's processes and its worker,
    which waits for the tool's reply, end; the next step runs in a fresh worker."""

    def tool(q: str) -> str:
        raise _Stop

    with Sandbox(tools={"search": tool}, config=FAST, _python_guards=False) as sb:
        with pytest.raises(_Stop):
            sb.run(
                S + "if OS.fork() == 0:\n    import time\n    time.sleep(30)\n    OS._exit(0)\nsearch('q')"
            )
        assert wait_for_processes(1) == {sb._family.pid}
        assert sb.restarts == 1 and sb.run("print(6 * 7)").stdout == "42\n"
    host.assert_intact()


DEEP_HELLO = (
    S + "W = S.modules['_wire']\norig = W.send_msg\ndef send(sock, obj):\n"
    "    if isinstance(obj, dict) and obj.get('op') == 'hello':\n        x = []\n"
    "        for _ in range({depth}):\n            x = [x]\n        obj = dict(obj, pad=x)\n"
    "    orig(sock, obj)\nW.send_msg = send\nv = 5\nprint('patched')\n"
)


@pytest.mark.parametrize("guards", [True, False], ids=["guards", "os-only"])
def test_a_deeply_nested_fork_hello_fails_the_fork_and_kills_it(host, guards: bool):
    """A 600-deep hello (under 4096 bytes) made ``fork`` raise RecursionError and left the half-made fork alive."""
    cfg = dataclasses.replace(FAST, wall_seconds=3.0)
    with Sandbox(config=cfg, _python_guards=guards) as sb:
        assert sb.run(DEEP_HELLO.format(depth=600)).stdout == "patched\n"
        with pytest.raises(RuntimeError, match="Sandbox.fork failed"):
            sb.fork()
        assert wait_for_processes(2) == {sb._family.pid, sb.pid}, (
            "the half-made fork outlived the failed fork"
        )
        assert sb.run("print(v)").stdout == "5\n"  # the parent is unharmed
    host.assert_intact()


def _hello_over(payload: bytes) -> dict:
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        b.sendall(struct.pack("!I", len(payload)) + payload)
        return _wire.recv_hello(a, deadline=time.monotonic() + 5)[0]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("depth", [65, 600, 2000], ids=str)
def test_recv_hello_refuses_deep_nesting_with_a_wire_error(depth: int):
    with pytest.raises(_wire.WireError, match="nested deeper"):
        _hello_over(b'{"op": "hello", "pad": ' + b"[" * depth + b"]" * depth + b"}")


def test_recv_hello_cleans_strings_and_string_cleaning_never_recurses():
    hello = _hello_over(b'{"op": "hello", "dir": "a\\udc80", "x": [{"k\\udc81": ["\\ud83d\\ude00"]}]}')
    assert hello == {"op": "hello", "dir": "a\ufffd", "x": [{"k\ufffd": ["\U0001f600"]}]}
    deep: list = ["\udc80"]
    for _ in range(100_000):  # far past the recursion limit: cleaned in place, iteratively
        deep = [deep, {"\udc80": "\udc80"}]
    out = _wire._valid_text(deep)
    while len(out) == 2:
        assert out[1] == {"\ufffd": "\ufffd"}
        out = out[0]
    assert out == ["\ufffd"]
