"""Model code cannot take the host's CPU by scheduling: real-time policies and a higher priority are refused
(``RLIMIT_RTPRIO`` and ``RLIMIT_NICE`` pinned to 0 in the worker, not inherited from whatever the host has)."""

from __future__ import annotations

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST


@pytest.mark.parametrize("guards", [True, False], ids=["all-layers", "os-only"])
def test_real_time_scheduling_and_higher_priority_are_refused(guards: bool):
    code = (
        "import collections\nOS = collections._sys.modules['os']\nfor f in (lambda: OS.sched_setscheduler(0, "
        "OS.SCHED_FIFO, OS.sched_param(1)), lambda: OS.setpriority(OS.PRIO_PROCESS, 0, -5)):\n    try:\n"
        "        f()\n        print('allowed')\n    except OSError as e:\n        print('refused', e.errno)\n"
        "print(OS.sched_getscheduler(0) == OS.SCHED_OTHER)"
    )
    limits = "print([l.split()[-2:] for l in open('/proc/self/limits') if 'priority' in l])"
    with Sandbox(config=FAST, _python_guards=guards) as sb:
        r = sb.run(code)
        assert r.stdout.split("\n")[:3] == ["refused 1", "refused 13", "True"], r.observation
        if not guards:
            assert sb.run(limits).stdout == "[['0', '0'], ['0', '0']]\n"
