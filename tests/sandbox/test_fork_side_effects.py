"""A losing SAG candidate leaves no side effects on the other processes of its episode (DESIGN.md, SAG): the
kernel refuses calls that change another process (``_seccomp.SELF_ONLY``), so a loser cannot lower the hard
rlimits of its parent, its sibling (the winner) or the family init, pin them to a CPU or renice them; its own
limits, affinity and priority it may still change. With the Python guards off: the kernel is the boundary.
Attacks from a review session (docs/reviews/sandbox-2026-12-02.md, fault 3)."""

from __future__ import annotations

import json

from agentdistill.sandbox import Sandbox

from .conftest import FAST

S = "import collections\nS = collections._sys\nOS = S.modules['os']\nR = S.modules['resource']\n"
STATE = S + (
    "import json\nprint(json.dumps([R.getrlimit(R.RLIMIT_NOFILE), R.getrlimit(R.RLIMIT_AS),"
    " sorted(OS.sched_getaffinity(0)), OS.getpriority(OS.PRIO_PROCESS, 0)]))"
)
# every call on every other pid of the family (1: init, 2: the parent worker, then the forks); errno or 'ok'
ATTACK = (
    S
    + """
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
NR = {'ioprio_set': 251, 'migrate_pages': 256, 'move_pages': 279, 'get_robust_list': 274, 'sched_setattr': 314}

def try_(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return e.errno

def raw(name, *args):
    ctypes.set_errno(0)
    return 'ok' if libc.syscall(NR[name], *args) == 0 else ctypes.get_errno()

me, out = OS.getpid(), {}
attr = (ctypes.c_uint32 * 14)(56)  # struct sched_attr: size 56, SCHED_OTHER, nice 0
head, head_len = ctypes.c_void_p(), ctypes.c_size_t()
mask = ctypes.c_ulong(1)
for pid in range(1, 12):
    if pid == me:
        continue
    out[pid] = [
        try_(lambda: R.prlimit(pid, R.RLIMIT_NOFILE, (8, 8))),
        try_(lambda: R.prlimit(pid, R.RLIMIT_AS, (64 << 20, 64 << 20))),
        try_(lambda: R.prlimit(pid, R.RLIMIT_NOFILE)),
        try_(lambda: OS.sched_setaffinity(pid, {0})),
        try_(lambda: OS.setpriority(OS.PRIO_PROCESS, pid, 19)),
        try_(lambda: OS.sched_setscheduler(pid, OS.SCHED_BATCH, OS.sched_param(0))),
        try_(lambda: OS.sched_setparam(pid, OS.sched_param(0))),
        raw('sched_setattr', pid, attr, 0),
        raw('ioprio_set', 1, pid, (3 << 13) | 7),  # IOPRIO_WHO_PROCESS, IOPRIO_CLASS_IDLE
        raw('migrate_pages', pid, 64, ctypes.byref(mask), ctypes.byref(mask)),
        raw('move_pages', pid, 0, None, None, None, 0),
        raw('get_robust_list', pid, ctypes.byref(head), ctypes.byref(head_len)),
    ]
out['group'] = [  # every process of its group or of its uid: the parent's and the winner's too
    try_(lambda: OS.setpriority(OS.PRIO_PGRP, 0, 19)),
    try_(lambda: OS.setpriority(OS.PRIO_USER, 0, 19)),
    raw('ioprio_set', 3, 0, (3 << 13) | 7),  # IOPRIO_WHO_USER
]
print(json.dumps(out))
"""
)
# what the candidate may still do to itself (pid 0): lower its own limits, pin and renice itself
SELF = S + (
    "R.setrlimit(R.RLIMIT_NOFILE, (16, 16))\nR.prlimit(0, R.RLIMIT_NOFILE, (12, 12))\n"
    "OS.sched_setaffinity(0, {0})\nOS.setpriority(OS.PRIO_PROCESS, 0, 19)\nOS.nice(0)\n"
    "print(R.getrlimit(R.RLIMIT_NOFILE), sorted(OS.sched_getaffinity(0)), OS.getpriority(OS.PRIO_PROCESS, 0))"
)


def _state(sb: Sandbox) -> list:
    r = sb.run(STATE)
    assert r.error is None, r.observation
    return json.loads(r.stdout)


def test_a_losing_candidate_cannot_change_its_parent_sibling_or_the_family_init(host):
    with Sandbox(config=FAST, _python_guards=False) as sb:
        before = _state(sb)
        winner, loser = sb.fork(), sb.fork()
        try:
            r = loser.run(ATTACK)
            assert r.error is None, r.observation
            out = json.loads(r.stdout)
            assert out.pop("group") == [1, 1, 1], r.observation  # EPERM
            assert len(out) >= 3, out  # at least the family init, the parent and the winner were there to hit
            for pid, results in out.items():
                assert results == [1] * len(results), (
                    f"pid {pid}: {results}"
                )  # EPERM from seccomp, every call
            assert loser.run(SELF).stdout == "(12, 12) [0] 19\n"  # its own: allowed
            loser.close()
            assert _state(winner) == before
            sb.adopt(winner)
        finally:
            winner.close()
            loser.close()
        assert _state(sb) == before  # the adopted worker, the winner: untouched
        restart = sb.run(S + "OS._exit(1)")
        assert restart.error is not None and restart.error.kind == "killed", restart.observation
        assert _state(sb) == before  # a fresh worker: the family init's hard limits are what they were
        big = sb.run("import numpy as np\nprint(np.ones(20_000_000).nbytes)")  # 160 MB under memory_mb=1024
        assert big.stdout == "160000000\n", big.observation
    host.assert_intact()


def test_a_candidate_cannot_signal_its_parent_or_its_sibling():
    """Signals stay inside a worker's own Landlock domain (ABI 6, ``_oslayer.restrict_writes``); a fork narrows
    its domain, so a candidate reaches neither its parent nor the winner (nor the family init)."""
    with Sandbox(config=FAST, _python_guards=False) as sb:
        if sb._zygote.landlock < 6:
            import pytest

            pytest.skip("Landlock signal scoping needs ABI 6 (Linux 6.12)")
        sb.run("x = 1")
        winner, loser = sb.fork(), sb.fork()
        try:
            r = loser.run(
                S + "me, out = OS.getpid(), {}\nfor pid in range(1, 12):\n    if pid != me:\n        try:\n"
                "            OS.kill(pid, 0)\n            out[pid] = 'ok'\n        except OSError as e:\n"
                "            out[pid] = e.errno\nprint(sorted(set(out.values()), key=str))"
            )
            assert r.stdout in ("[1]\n", "[1, 3]\n"), r.observation  # EPERM (ESRCH: no such pid)
            assert winner.run("print(x)").stdout == "1\n" and sb.run("print(x)").stdout == "1\n"
        finally:
            winner.close()
            loser.close()
