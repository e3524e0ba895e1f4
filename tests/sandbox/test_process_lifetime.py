"""Processes that model code starts end with its step (``sandbox/_strays.py``): a background spinner, a daemon
that escaped its session, the children of a worker killed at the wall limit. Otherwise up to the process cap of
them could burn CPU for the rest of the episode (600 s each) and serve later steps or SAG candidates.

``_posixsubprocess.fork_exec`` with a ``preexec_fn`` started such a child with the Python guards on (it raises no
audit event; the guards now replace it), so the host-side sweep (kernel pids and pidfds) is what holds."""

from __future__ import annotations

import dataclasses
import time

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST, wait_for_processes

S = "import collections\nS = collections._sys\nOS = S.modules['os']\n"
SPINNER_OS = S + "for _ in range(3):\n    if OS.fork() == 0:\n        while True: pass\nprint('started')"
DAEMON_OS = (
    S + "if OS.fork() == 0:\n    OS.setsid()\n    if OS.fork() == 0:\n        while True: pass\n"
    "    OS._exit(0)\nprint('started')"
)
# no audit event for this fork; the child runs Python (the preexec_fn) and never reaches exec
SPINNER_GUARDED = (
    S + "ps = S.modules['_posixsubprocess']\nr, w = OS.pipe()\ndef spin():\n    while True: pass\n"
    "for _ in range(3):\n    ps.fork_exec([b'/x'], [b'/x'], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w,"
    " False, False, -1, None, None, None, -1, spin, False)\nprint('started')"
)


def test_fork_exec_is_refused_by_the_guards():
    with Sandbox(config=FAST) as sb:
        r = sb.run(SPINNER_GUARDED)
        assert r.error is not None and "fork_exec is not allowed" in r.observation, r.observation
        assert wait_for_processes(2) == {sb._family.pid, sb.pid}


@pytest.mark.parametrize(
    ("guards", "code"),
    [(False, SPINNER_OS), (False, DAEMON_OS), (False, SPINNER_GUARDED)],
    ids=["spinners", "setsid-daemon", "fork_exec"],
)
def test_processes_started_by_a_step_end_with_it(host, guards: bool, code: str):
    with Sandbox(config=FAST, _python_guards=guards) as sb:
        r = sb.run("x = 1\n" + code)
        assert r.stdout == "started\n", r.observation
        assert wait_for_processes(2) == {sb._family.pid, sb.pid}, (
            "a process of the step outlived it"
        )  # init, worker
        assert sb.run("print(x)").stdout == "1\n"  # the worker itself is untouched
    host.assert_intact()


def test_children_of_a_worker_killed_at_the_wall_limit_end_too(host):
    cfg = dataclasses.replace(FAST, wall_seconds=2.0)
    with Sandbox(config=cfg, _python_guards=False) as sb:
        r = sb.run(
            S + "import signal, time\nif OS.fork() == 0:\n    OS.setsid()\n"
            "    signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n    while True: pass\ntime.sleep(60)"
        )
        assert r.error is not None and r.error.kind == "timeout", r.observation
        init = sb._family.pid  # worker killed, its child with it; the next step starts a fresh one
        assert wait_for_processes(1) == {init}
        assert sb.run("print(6 * 7)").stdout == "42\n"
    host.assert_intact()


def test_sag_forks_are_workers_not_strays():
    """A fork the host holds survives its parent's steps, and its own children end with its own step."""
    with Sandbox(config=FAST, _python_guards=False) as sb:
        sb.run("v = 'parent'")
        child = sb.fork()
        try:
            assert sb.run(SPINNER_OS).stdout == "started\n"  # the parent's step end spares the fork
            init = sb._family.pid
            assert wait_for_processes(3) == {init, sb.pid, child.pid}
            assert child.run(SPINNER_OS + "\nprint(v)").stdout == "started\nparent\n"
            assert wait_for_processes(3) == {init, sb.pid, child.pid}
            sb.adopt(child)
            assert wait_for_processes(2) == {init, sb.pid} and sb.run("print(v)").stdout == "parent\n"
        finally:
            child.close()


def test_a_hanging_at_fork_hook_fails_the_fork_within_the_wall_limit(host):
    """An ``after_in_child`` hook (registrable with the guards on) that never returns held the host 30 s per SAG
    candidate; now the fork fails within the step wall limit and the half-made child is gone."""
    cfg = dataclasses.replace(FAST, wall_seconds=2.0)
    with Sandbox(config=cfg) as sb:
        r = sb.run(S + "import time\nOS.register_at_fork(after_in_child=lambda: time.sleep(100))\nx = 5")
        assert r.error is None, r.observation
        t = time.monotonic()
        with pytest.raises(RuntimeError, match="Sandbox.fork failed"):
            sb.fork()
        assert time.monotonic() - t < 2.0 + 1.5
        assert wait_for_processes(2) == {sb._family.pid, sb.pid}
        assert sb.run("print(x)").stdout == "5\n"
    host.assert_intact()


def test_zombies_left_by_a_step_do_not_hold_the_process_cap():
    """Children that exit while the code has SIGCHLD at its default stay zombies of the worker, and zombies count
    against the process cap: without reaping, one step could leave no room for SAG forks for the whole episode."""
    with Sandbox(config=FAST, _python_guards=False) as sb:
        r = sb.run(
            "import os, signal, time\nsignal.signal(signal.SIGCHLD, signal.SIG_DFL)\nn = 0\ntry:\n"
            "    while True:\n        if os.fork() == 0:\n            os._exit(0)\n        n += 1\n"
            "except OSError:\n    pass\ntime.sleep(0.3)\nprint(n > 10)"
        )
        assert r.stdout == "True\n", r.observation
        child = sb.fork()  # the cap is free again
        try:
            assert child.run("print('forked')").stdout == "forked\n"
        finally:
            child.close()
