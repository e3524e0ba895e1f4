"""Cgroups of an episode when the host runs as root.

Memory: ``RLIMIT_AS`` is per process, so without a memory cgroup the processes of one episode (the worker, SAG
forks, what code forks within a step) could together hold the process cap times ``memory_mb`` (17 x 2 GiB by
default, more than these machines have). The family's memory cgroup caps them at ``episode_memory_mb``; the kernel
then kills the largest of them, never the family init. Groups a killed host process left behind are removed."""

from __future__ import annotations

import dataclasses
import os

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST

CHILDREN = (
    "import os, signal, time\nsignal.signal(signal.SIGCHLD, signal.SIG_DFL)\npids = []\nfor _ in range(4):\n"
    "    pid = os.fork()\n    if pid == 0:\n        b = b'x' * (320 * 2**20)\n        time.sleep(1.5)\n        os._exit(0)\n"
    "    pids.append(pid)\nst = [os.waitpid(p, 0)[1] for p in pids]\n"
    "print(sorted(os.WTERMSIG(s) if os.WIFSIGNALED(s) else -os.WEXITSTATUS(s) for s in st))"
)


def test_workers_are_the_first_choice_of_an_out_of_memory_kill():
    with Sandbox(config=FAST, _python_guards=False) as sb:
        r = sb.run("print(open('/proc/self/oom_score_adj').read().strip())")
    assert r.stdout == "1000\n", r.observation


@pytest.mark.skipif(os.geteuid() != 0, reason="the memory cgroup is made only when the host runs as root")
def test_processes_of_an_episode_share_one_memory_limit(host):
    cfg = dataclasses.replace(
        FAST, memory_mb=1024, episode_memory_mb=1024, max_processes=4, cpu_seconds=5, wall_seconds=40.0
    )
    with Sandbox(config=cfg, _python_guards=False) as sb:
        if not sb.isolation["memory_cgroup"]:
            pytest.skip("no memory cgroup controller on this host")
        sb.run("x = 7")
        r = sb.run(CHILDREN)  # 4 x 320 MiB, each within memory_mb, together over episode_memory_mb
        assert r.error is None, r.observation
        statuses = [int(s) for s in r.stdout.strip("[]\n").split(",")]
        assert 9 in statuses, r.observation  # SIGKILL by the cgroup's out-of-memory killer
        assert sb.run("print(x)").stdout == "7\n"  # the worker (smallest) and the family init survive
    host.assert_intact()


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are made only when the host runs as root")
def test_groups_left_by_a_dead_host_process_are_removed(monkeypatch):
    from agentdistill.sandbox import _cgroup

    monkeypatch.setattr(_cgroup, "_cleaned", set())
    dead = next(p for p in range(4_000_000, 4_100_000) if not os.path.exists(f"/proc/{p}"))
    with Sandbox(config=FAST) as sb:
        bases = {os.path.dirname(p) for p in sb._family.cgroup.paths}
    stale = [os.path.join(b, f"agentdistill-{dead}-1") for b in bases]
    for path in stale:
        os.mkdir(path)
    monkeypatch.setattr(_cgroup, "_cleaned", set())
    with Sandbox(config=FAST) as sb:
        assert sb.run("print(1)").stdout == "1\n"
    assert not [p for p in stale if os.path.exists(p)]
