"""Each worker writes only beneath its own scratch area (Landlock), and each episode has its own /tmp and /dev/shm.

The attacks a review found (2026-11-30) with the Python guards off: a losing SAG candidate wrote into its
parent's scratch dir, episodes met in the shared /tmp, and model code raised ``oom_score_adj`` of the sandbox's
other processes or took pty slots. Every probe here runs with the OS layers alone.
"""

from __future__ import annotations

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig
from agentdistill.sandbox._oslayer import landlock_abi

from .conftest import FAST

ABI = landlock_abi()
needs_landlock = pytest.mark.skipif(
    ABI == 0, reason="this kernel has no Landlock (Linux 5.13+, lsm=landlock)"
)

_TRY_WRITE = """
import os
for path in {paths!r}:
    try:
        with open(path, 'a') as fh:
            fh.write('TAMPERED')
        print(path, 'WRITTEN')
    except OSError as exc:
        print(path, exc.errno)
"""


def _os_only() -> Sandbox:
    return Sandbox(config=SandboxConfig(**FAST.__dict__), _python_guards=False)


def _cwd(sb: Sandbox) -> str:
    return sb.run("import os\nprint(os.getcwd())").stdout.strip()


def test_landlock_is_reported_where_the_kernel_has_it():
    with _os_only() as sb:
        assert sb.isolation["landlock"] is (ABI > 0)
        assert sb.isolation["private_tmp"]


@needs_landlock
def test_a_sag_candidate_cannot_write_where_its_parent_or_siblings_live():
    with _os_only() as parent:
        parent.run("open('state.txt', 'w').write('parent')")
        home = _cwd(parent)
        winner, loser = parent.fork(), parent.fork()
        try:
            winner.run("open('mine.txt', 'w').write('winner')")
            theirs = _cwd(winner)
            r = loser.run(
                _TRY_WRITE.format(paths=[f"{home}/state.txt", f"{home}/new.txt", f"{theirs}/mine.txt"])
            )
            own = loser.run("open('own.txt', 'w').write('ok')\nprint(open('own.txt').read())")
            assert r.stdout.splitlines() == [
                f"{home}/state.txt 13",
                f"{home}/new.txt 13",
                f"{theirs}/mine.txt 13",
            ]
            assert own.stdout == "ok\n", own.observation  # its own working dir stays writable
            parent.adopt(winner)
            assert parent.run("print(open('state.txt').read(), open('mine.txt').read())").stdout == (
                "parent winner\n"
            )
            assert parent.run("import os\nprint(os.path.exists('new.txt'))").stdout == "False\n"
        finally:
            loser.close()


@needs_landlock
def test_an_adopted_candidate_forks_again_and_its_own_forks_are_confined_too():
    with _os_only() as sb:
        sb.run("open('a.txt', 'w').write('1')")
        first = sb.fork()
        sb.adopt(first)
        home = _cwd(sb)
        child = sb.fork()
        try:
            r = child.run(_TRY_WRITE.format(paths=[f"{home}/a.txt", "a.txt"]))
            assert r.stdout.splitlines() == [f"{home}/a.txt 13", "a.txt WRITTEN"], r.observation
            assert sb.run("print(open('a.txt').read())").stdout == "1\n"
        finally:
            child.close()


@needs_landlock
def test_tmp_dev_shm_proc_and_ptys_are_not_writable():
    paths = [
        "/tmp/x",
        "/dev/shm/x",
        "/proc/1/oom_score_adj",
        "/proc/self/oom_score_adj",
        "/proc/self/clear_refs",
    ]
    with _os_only() as sb:
        r = sb.run(_TRY_WRITE.format(paths=paths))
        pty = sb.run(
            "import os\ntry:\n    os.open('/dev/ptmx', os.O_RDWR)\n    print('open')\nexcept OSError as e:\n"
            "    print(e.errno)"
        )
        null = sb.run("open('/dev/null', 'w').write('x')\nprint('ok')")
    assert r.stdout.splitlines() == [f"{p} 13" for p in paths], r.observation
    assert pty.stdout == "13\n", pty.observation
    assert null.stdout == "ok\n", null.observation


@pytest.mark.skipif(ABI < 6, reason="Landlock signal scoping needs ABI 6 (Linux 6.12+)")
def test_a_candidate_cannot_signal_its_parent_worker():
    with _os_only() as parent:
        child = parent.fork()
        try:
            r = child.run(
                "import os\ntry:\n    os.kill(os.getppid(), 0)\n    print('reached')\nexcept OSError as e:\n"
                "    print(e.errno)"
            )
        finally:
            child.close()
        assert r.stdout == "1\n", r.observation  # EPERM
        assert parent.run("print('alive')").stdout == "alive\n"


def test_each_episode_has_its_own_tmp_and_dev_shm():
    probe = "import os\nprint(os.stat('/tmp').st_dev, os.stat('/dev/shm').st_dev)"
    with _os_only() as one, _os_only() as two:
        a, b = one.run(probe).stdout.split(), two.run(probe).stdout.split()
    assert len(a) == 2 and len(b) == 2
    assert a[0] != b[0] and a[1] != b[1]  # different tmpfs instances, not one mount of bubblewrap's
