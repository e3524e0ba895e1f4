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


def _in_a_loser(parent: Sandbox, code: str):
    """Run ``code`` in a SAG candidate forked from ``parent`` that then loses (is closed)."""
    loser = parent.fork()
    try:
        return loser.run(code)
    finally:
        loser.close()


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
def test_tmp_dev_shm_and_proc_are_not_writable():
    paths = [
        "/tmp/x",
        "/dev/shm/x",
        "/proc/1/oom_score_adj",
        "/proc/self/oom_score_adj",
        "/proc/self/clear_refs",
    ]
    with _os_only() as sb:
        r = sb.run(_TRY_WRITE.format(paths=paths))
        null = sb.run("open('/dev/null', 'w').write('x')\nprint('ok')")
    assert r.stdout.splitlines() == [f"{p} 13" for p in paths], r.observation
    assert null.stdout == "ok\n", null.observation


def test_no_pty_can_be_allocated_even_read_only():
    """Opening /dev/ptmx, even read-only (which Landlock does not check), would take one of the host's
    kernel.pty.max slots: each episode hides /dev/pts under an empty read-only tmpfs."""
    probe = (
        "import os\nfor flags in (os.O_RDONLY, os.O_RDWR):\n    try:\n        os.open('/dev/ptmx', flags)\n"
        "        print('allocated')\n    except OSError as e:\n        print(e.errno)"
    )
    with _os_only() as sb:
        r = sb.run(probe)
        pts = sb.run("import os\nprint(os.listdir('/dev/pts'))")
    assert "allocated" not in r.stdout and len(r.stdout.split()) == 2, r.observation
    assert pts.stdout == "[]\n", pts.observation


@pytest.mark.skipif(ABI < 6, reason="Landlock signal scoping needs ABI 6 (Linux 6.12+)")
def test_a_candidate_cannot_signal_its_parent_worker():
    with _os_only() as parent:
        r = _in_a_loser(
            parent,
            "import os\ntry:\n    os.kill(os.getppid(), 0)\n    print('reached')\nexcept OSError as e:\n"
            "    print(e.errno)",
        )
        assert r.stdout == "1\n", r.observation  # EPERM
        assert parent.run("print('alive')").stdout == "alive\n"


def test_each_episode_has_its_own_tmp_and_dev_shm():
    probe = "import os\nprint(os.stat('/tmp').st_dev, os.stat('/dev/shm').st_dev)"
    with _os_only() as one, _os_only() as two:
        a, b = one.run(probe).stdout.split(), two.run(probe).stdout.split()
    assert len(a) == 2 and len(b) == 2
    assert a[0] != b[0] and a[1] != b[1]  # different tmpfs instances, not one mount of bubblewrap's


@pytest.mark.parametrize("forged", ["'../tmp'", "old", "old.rsplit('/', 1)[0] + '/f1-0/work'"])
def test_a_fork_that_reports_another_dir_is_refused(forged):
    """Model code patches its worker so a fork names another dir ('../tmp', its parent's own, a sibling-looking
    one); a restart there would write outside the fork's area. The host names the area and accepts only it."""
    patch = (
        "import sys\nm = sys.modules['__main__']\norig = m._enter_fork_area\n"
        f"m._enter_fork_area = lambda root, old, trusted: (orig(root, old, trusted), {forged})[1]\nprint('patched')"
    )
    with _os_only() as sb:
        assert sb.run(patch).stdout == "patched\n"
        with pytest.raises(RuntimeError, match="bad scratch dir"):
            sb.fork()
        assert sb.run("print('parent fine')").stdout == "parent fine\n"


def test_back_to_back_sag_rounds_of_eight_do_not_run_out_of_processes():
    """Killed losers are reaped at once (SIGCHLD wakes the family init), not after a poll interval, so the next
    round's forks find the process cap free again."""
    with _os_only() as sb:
        for _ in range(4):
            forks = [sb.fork() for _ in range(8)]
            assert all(f.run("x = 1").error is None for f in forks)
            sb.adopt(forks[0])
            for f in forks[1:]:
                f.close()
        assert sb.run("print('ok')").stdout == "ok\n"


@needs_landlock
def test_a_working_dir_swapped_for_a_symlink_never_widens_a_restart():
    attack = "import os, shutil\nos.chdir('..')\nshutil.rmtree('work')\nos.symlink('/', 'work')\nos._exit(1)"
    with _os_only() as sb:
        sb.run(attack)
        try:
            r = sb.run(_TRY_WRITE.format(paths=["/tmp/pwned", "pwned"]))
        except Exception as exc:  # noqa: BLE001 - failing to restart there is the safe outcome
            assert "not a directory" in str(exc), exc
        else:
            assert "/tmp/pwned WRITTEN" not in r.stdout, r.observation


@needs_landlock
def test_a_file_the_parent_left_open_writes_the_candidates_own_copy():
    with _os_only() as parent:
        parent.run("log = open('log.txt', 'a')\nlog.write('parent\\n')\nlog.flush()")
        r = _in_a_loser(parent, "log.write('loser\\n')\nlog.flush()\nprint(open('log.txt').read().split())")
        assert r.stdout == "['parent', 'loser']\n", r.observation
        assert parent.run("print(open('log.txt').read().split())").stdout == "['parent']\n"


@needs_landlock
def test_an_at_fork_hook_planted_by_the_parent_runs_already_confined():
    plant = (
        "import os\nhome = os.getcwd()\n"
        "def grab():\n    global fh\n    try:\n        fh = open(home + '/state.txt', 'a')\n"
        "    except OSError as e:\n        fh = e\n"
        "os.register_at_fork(after_in_child=grab)\nopen('state.txt', 'w').write('parent')"
    )
    with _os_only() as parent:
        parent.run(plant)
        r = _in_a_loser(parent, "print(type(fh).__name__)")
        assert r.stdout == "PermissionError\n", r.observation
        assert parent.run("print(open('state.txt').read())").stdout == "parent\n"


@needs_landlock
def test_fork_depth_is_bounded_with_a_clear_error_and_tempfile_follows_the_fork():
    with _os_only() as sb:
        sb.run("import tempfile\nbefore = tempfile.gettempdir()")
        rounds = 0
        with pytest.raises(RuntimeError, match="SAG fork depth limit"):
            for rounds in range(1, 40):  # noqa: B007 - the count is asserted below
                child = sb.fork()
                if rounds == 1:
                    r = child.run(
                        "import os\nfd, path = tempfile.mkstemp()\nprint(path.startswith(os.getcwd()))"
                    )
                    assert r.stdout == "True\n", r.observation
                sb.adopt(child)
        assert rounds == 16  # Landlock stacks 16 domains: the worker's own and 15 forks; the 16th fails
        assert sb.run("print('still serving')").stdout == "still serving\n"


def test_a_candidate_cannot_talk_through_channels_it_inherited():
    """Pipes and socketpairs the parent's code made, and the parent's own channel to the host, are cut in a SAG
    candidate before any code runs in it: a loser cannot leave data for the winner or garble the parent's steps."""
    with _os_only() as parent:
        parent.run(
            "import os, socket, stat\n"
            "def _sock(f):\n    try:\n        return stat.S_ISSOCK(os.fstat(f).st_mode)\n    except OSError:\n"
            "        return False\nchans = [f for f in range(3, 64) if _sock(f)]\n"
            "a, b = socket.socketpair()\nr, w = os.pipe()\nx = 11"
        )
        r = _in_a_loser(
            parent,
            "for f in chans:\n    try:\n        os.write(f, b'\\xff' * 64)\n    except OSError:\n        pass\n"
            "os.write(w, b'loser')\n"
            "try:\n    b.send(b'loser')\nexcept OSError as e:\n    print('cut', e.errno)",
        )
        assert r.stdout == "cut 88\n", r.observation  # ENOTSOCK: the socket is /dev/null in the candidate
        p = parent.run(
            "os.set_blocking(r, False)\na.setblocking(False)\nfor f in (lambda: os.read(r, 9), "
            "lambda: a.recv(9)):\n    try:\n        print(f())\n    except BlockingIOError:\n"
            "        print('nothing')\nprint(x)"
        )
        assert p.stdout == "nothing\nnothing\n11\n", p.observation
        assert parent.restarts == 0
