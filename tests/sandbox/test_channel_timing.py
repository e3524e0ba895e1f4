"""The wall limit bounds whole messages, not single receives: a worker that trickles a message one byte at a time,
each byte just inside the receive timeout, held the host for as long as it liked (a 40-byte message at one byte
per 2.5 s stretched a 3 s step to 24 s). Both the step channel and a SAG fork's hello are covered, with the
Python guards on (the channel's socket and ``os.write`` are reachable from model code). And only the worker
itself may write on its channel, never a process it forked."""

from __future__ import annotations

import dataclasses
import time

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST

TRICKLE_STEP = (
    "import time\nsock = search.chan.sock\nsock.sendall((40).to_bytes(4, 'big'))\n"
    "for _ in range(40):\n    time.sleep(0.8)\n    sock.sendall(b' ')"
)
# in the fork's child, before its hello: the socket that is not the parent's channel is the fork's own
TRICKLE_HELLO = (
    "import collections, time\nS = collections._sys\nOS = S.modules['os']\nST = S.modules['stat']\n"
    "def trickle():\n    fd = max(f for f in range(3, 64) if _is_sock(f) and f != search.chan.sock.fileno())\n    for b in (0, 0, 0, 40) + (32,) * 40:\n"
    "        time.sleep(0.8)\n        OS.write(fd, bytes([b]))\n"
    "def _is_sock(f):\n    try:\n        return ST.S_ISSOCK(OS.fstat(f).st_mode)\n    except OSError:\n"
    "        return False\nOS.register_at_fork(after_in_child=trickle)\nx = 3"
)


def _search(q: str = "") -> str:
    return "passages"


def test_a_message_trickled_byte_by_byte_ends_at_the_wall_limit(host):
    cfg = dataclasses.replace(FAST, wall_seconds=2.0)
    with Sandbox(tools={"search": _search}, config=cfg) as sb:
        sb.run("x = 1")
        t = time.monotonic()
        r = sb.run(TRICKLE_STEP)
        assert time.monotonic() - t < 2.0 + 1.5, r.observation
        assert r.error is not None and r.error.kind == "timeout", r.observation
        assert sb.run("print(6 * 7)").stdout == "42\n"
    host.assert_intact(r.observation)


def test_a_fork_hello_trickled_byte_by_byte_fails_within_the_wall_limit(host):
    cfg = dataclasses.replace(FAST, wall_seconds=2.0)
    with Sandbox(tools={"search": _search}, config=cfg) as sb:
        r = sb.run(TRICKLE_HELLO)
        assert r.error is None, r.observation
        t = time.monotonic()
        with pytest.raises(RuntimeError, match="Sandbox.fork failed"):
            sb.fork()
        assert time.monotonic() - t < 2.0 + 1.5
        assert sb.run("print(x)").stdout == "3\n"
    host.assert_intact()


def test_only_the_worker_itself_can_end_its_step(host):
    """A process forked by the code shares the worker's channel and its copy of the step token: its exception
    made the worker code in it send a valid ``done``, so the host ended the step while the worker went on running
    model code past the step's end. The kernel's SCM_CREDENTIALS on every message now name the writer."""
    code = (
        "import os, time\nif os.fork() == 0:\n    raise SystemExit\ntime.sleep(2)\n"
        "open('after_the_step', 'w').write('1')\nprint('parent')"
    )
    with Sandbox(config=FAST, _python_guards=False) as sb:
        r = sb.run(code)
        assert r.error is not None and "another process" in r.observation, r.observation
        time.sleep(2.5)
        assert sb.run("import os\nprint(os.listdir('.'))").stdout == "[]\n"
    host.assert_intact(r.observation)
