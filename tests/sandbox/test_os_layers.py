"""Each kernel layer on its own (Python guards off), the non-root path, fail-closed starts, and SAG forks
inside the boundary. Attacks in bulk are in test_adversarial.py; these name the layer each check proves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig, SandboxStartError
from agentdistill.sandbox._zygote import Zygote
from agentdistill.sandbox.limits import FORK_HEADROOM

from .conftest import FAST, sandbox_processes


def _os_only(**kw) -> Sandbox:
    cfg = SandboxConfig(**{**FAST.__dict__, **kw})
    return Sandbox(tools={"search": lambda q: "ok"}, config=cfg, _python_guards=False)


def test_mount_namespace_shows_only_the_interpreter_and_packages(host):
    with _os_only() as sb:
        top = sb.run("import os\nprint(sorted(os.listdir('/')))").stdout
        site = sb.run("import os\nprint(sorted(os.listdir('/sbx/site')))").stdout
        r = sb.run(host.fill("open('CANARY_FILE').read()"))
    assert top.strip() == str(
        sorted(
            ["dev", "lib", "lib64", "proc", "sbx", "scratch", "tmp", "usr", Path(sys.base_prefix).parts[1]]
        )
    )  # the interpreter's top dir
    assert "numpy" in site and "agentdistill" not in site and "pytest" not in site
    assert r.error is not None and r.error.type == "FileNotFoundError"
    host.assert_intact(top, site)


def test_user_namespace_unprivileged_uid_without_capabilities():
    with _os_only() as sb:
        r = sb.run(
            "import os\nst = open('/proc/self/status').read()\n"
            "print(os.getuid(), os.getgid(), st.split('CapEff:')[1].split()[0], st.split('NoNewPrivs:')[1].split()[0])"
        )
    assert r.stdout == "1000 1000 0000000000000000 1\n", r.observation


def test_seccomp_refuses_exec_of_a_visible_interpreter():
    with _os_only() as sb:  # the interpreter is in the mount view, so only seccomp can stop this
        r = sb.run(
            "import os, sys\nprint(os.path.exists(sys.executable))\nos.execv(sys.executable, ['py', '-c', '1'])"
        )
    assert r.stdout == "True\n" and r.error.type == "PermissionError", r.observation


def test_network_namespace_and_seccomp_refuse_sockets(host):
    with _os_only() as sb:
        inet = sb.run(host.fill("import socket\nsocket.socket().connect(('127.0.0.1', HOST_PORT))"))
        abstract = sb.run(
            host.fill("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0HOST_ABSTRACT')")
        )
    assert "Address family not supported" in inet.observation  # seccomp: no AF_INET socket at all
    assert (
        "Connection refused" in abstract.observation
    )  # network namespace: the host's abstract name is not here
    host.assert_intact(inet.observation, abstract.observation)


def test_pid_namespace_processes_are_gone_after_close(host):
    sb = _os_only(max_processes=4)
    r = sb.run(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        open('up', 'w').close()\n"
        "        time.sleep(120)\n    os._exit(0)\nwhile not os.path.exists('up'):\n    time.sleep(0.01)\n"
        "print(os.getpid())"
    )
    assert r.stdout == "2\n", r.observation  # the worker is pid 2 of its own pid namespace (its init is 1)
    assert len(sandbox_processes()) == 2  # init and worker: the escaped sleeper ended with its step
    sb.close()
    assert not sandbox_processes()
    host.assert_intact()


def test_rlimits_and_tmpfs_hold_without_guards():
    with _os_only(scratch_mb=4, max_file_mb=2) as sb:
        big = sb.run("open('a', 'wb').write(b'x' * 3 * 2**20)")
        full = sb.run("for i in range(8):\n    open(f'f{i}', 'wb').write(b'x' * 2**20)")
        mem = sb.run("b = bytearray(4 * 2**30)")
        raise_ = sb.run("import resource\nresource.setrlimit(resource.RLIMIT_CPU, (-1, -1))")
    assert "File too large" in big.observation and "No space left" in full.observation
    assert mem.error.kind == "memory" and "not allowed to raise" in raise_.observation


def test_fork_bomb_is_capped_per_episode():
    with _os_only() as sb:
        r = sb.run(
            "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(60)\n"
            "            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('capped after', n)"
        )
    assert r.stdout.startswith("capped after") and int(r.stdout.split()[-1]) <= 18, r.observation


def test_fork_copies_inside_the_boundary_fifo_sparse_symlink(host):
    with _os_only(scratch_mb=8) as sb:
        r = sb.run(
            host.fill(
                "import os\nos.mkdir('d')\nopen('d/x.txt', 'w').write('data')\n"
                "fd = os.open('sparse', os.O_WRONLY | os.O_CREAT)\nos.pwrite(fd, b'z', 3 * 2**20)\nos.close(fd)\n"
                "os.symlink('CANARY_FILE', 'to_host')\nos.symlink('/sbx/lib/_guards.py', 'to_lib')\n"
                "try:\n    os.mkfifo('pipe')\nexcept PermissionError:\n    print('no fifo')"
            )
        )
        assert r.stdout == "no fifo\n", r.observation  # seccomp refuses mknod; the copy skips FIFOs anyway
        child = sb.fork()
        try:
            c = child.run(
                "import os\nst = os.stat('sparse')\nprint(open('d/x.txt').read(), st.st_size, "
                "st.st_blocks * 512 < 2**20, os.path.islink('to_host'), os.path.islink('to_lib'), "
                "os.getuid())"
            )
        finally:
            child.close()
    assert c.stdout == "data 3145729 True True True 1000\n", (
        c.observation
    )  # holes stay holes, links stay links
    host.assert_intact(c.observation)


def _fork_copy(root: Path, old: str) -> str:
    """What a SAG fork does to its scratch (``_worker._enter_fork_area``): a new area, then the copy."""
    from agentdistill.sandbox import _areas

    new, area = _areas.make_fork_area(str(root), old)
    os.close(area)
    _areas.copy_work(str(root), old, new)
    return new


def test_fork_copy_skips_a_fifo_made_before_seccomp(tmp_path):
    work = tmp_path / "w0" / "work"
    work.mkdir(parents=True)
    os.mkfifo(work / "pipe")  # would block a naive copy forever
    (work / "f.txt").write_text("x")
    name = _fork_copy(tmp_path, "w0/work")
    assert sorted(os.listdir(tmp_path / name)) == ["f.txt"]


def test_bubblewrap_missing_fails_closed(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxStartError, match="bubblewrap .* not installed.*unsafe_no_sandbox"):
        Zygote(guards=True)


def test_kernel_refusing_namespaces_fails_closed():
    """A process whose seccomp filter refuses new user namespaces cannot start the sandbox: a clear error."""
    code = textwrap.dedent(f"""
        import errno, sys
        sys.path[:0] = {[p for p in sys.path if p]!r}
        import pyseccomp as sc
        f = sc.SyscallFilter(sc.ALLOW)
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, 0x10000000, 0x10000000))
        f.add_rule(sc.ERRNO(errno.EPERM), "unshare")
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        f.load()
        from agentdistill.sandbox import Sandbox, SandboxConfig, SandboxStartError
        try:
            Sandbox()
            print("STARTED")
        except SandboxStartError as exc:
            print("REFUSED", exc)
        sb = Sandbox(config=SandboxConfig(unsafe_no_sandbox=True))
        print("UNSAFE", sb.run("print(1 + 1)").stdout.strip(), sb.isolation["seccomp"])
        sb.close()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "REFUSED" in out.stdout and "STARTED" not in out.stdout, out.stdout + out.stderr
    assert "unsafe_no_sandbox" in out.stdout and "UNSAFE 2 False" in out.stdout


def _non_root_prereqs() -> str | None:
    if os.geteuid() != 0:
        return "already running as a normal user: every other test here exercises that path"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    probe = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "unshare", "--user", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"the kernel refuses user namespaces to an unprivileged uid: {probe.stderr.strip()}"
    return None


def test_sandbox_works_as_a_normal_user():
    """As uid 65534 (the interpreter bind-mounted where that uid can reach it): every layer, RLIMIT_NPROC per family."""
    reason = _non_root_prereqs()
    if reason:
        print(f"SKIP reason: {reason}")
        pytest.skip(reason)
    import numpy
    import pyseccomp

    import agentdistill

    work = tempfile.mkdtemp(prefix="agentdistill-nonroot-")
    os.chmod(work, 0o755)
    pydir = f"{work}/py"
    os.mkdir(pydir)
    paths = [
        str(Path(agentdistill.__file__).parents[1]),
        str(Path(pyseccomp.__file__).parent),
        str(Path(numpy.__file__).parents[1]),
    ]
    script = Path(work, "probe.py")
    script.write_text(
        textwrap.dedent(f"""
        import json, os, sys
        sys.path[:0] = [p.replace({sys.base_prefix!r}, {pydir!r}) for p in {paths!r}]
        from agentdistill.sandbox import Sandbox, SandboxConfig
        out = {{"host_uid": os.getuid()}}
        with Sandbox(config=SandboxConfig(cpu_seconds=2, wall_seconds=10), _python_guards=False) as sb:
            out["iso"] = sb.isolation["seccomp"] and sb.isolation["pid_namespace"]
            out["uid"] = sb.run("import os\\nprint(os.getuid())").stdout
            out["exec"] = sb.run("import os, sys\\nos.execv(sys.executable, ['p'])").observation
            out["fork"] = sb.fork().run("print('forked')").stdout
            out["bomb"] = sb.run("import os, time\\nn = 0\\ntry:\\n    while True:\\n        if os.fork() == 0:\\n"
                                 "            time.sleep(30)\\n            os._exit(0)\\n        n += 1\\n"
                                 "except OSError:\\n    print(n)").stdout
            sb.run("import os, time\\npid = os.fork()\\nif pid == 0:\\n    time.sleep(60)\\n    os._exit(0)")
            out["stray"] = sb.run("try:\\n    os.kill(pid, 0)\\n    print('alive')\\n"
                                  "except ProcessLookupError:\\n    print('gone')").stdout
        print(json.dumps(out))
    """)
    )
    cmd = (
        f"mount --bind {sys.base_prefix} {pydir} && exec setpriv --reuid 65534 --regid 65534 --clear-groups "
        f"{pydir}/bin/python{sys.version_info[0]}.{sys.version_info[1]} -I {script}"
    )
    try:
        out = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", cmd],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["host_uid"] == 65534 and res["uid"] == "1000\n" and res["iso"]
    assert "Operation not permitted" in res["exec"] and res["fork"] == "forked\n"
    assert 0 < int(res["bomb"]) <= 18  # RLIMIT_NPROC, counted in the family's own user namespace
    assert res["stray"] == "gone\n"  # the host's step-end sweep works without root too


POPEN_VIA_SUBCLASSES = (
    "P = [c for c in object.__subclasses__() if c.__name__ == 'Popen']\n"
    "if not P:\n    import collections\n    collections._sys.modules['builtins'].__import__('subprocess')\n"
    "    P = [c for c in object.__subclasses__() if c.__name__ == 'Popen']\n"
    "P[0](['/bin/sh', '-c', 'id -u > child_ran']).wait()"
)


@pytest.mark.parametrize("guards", [True, False], ids=["all-layers", "os-only"])
def test_popen_via_subclasses_runs_nothing(guards: bool):
    """The child would leave a file in the scratch dir (which the host reads), so a child that ran is seen."""
    with Sandbox(config=FAST, _python_guards=guards) as sb:
        r = sb.run(POPEN_VIA_SUBCLASSES)
        assert r.error is not None and r.error.type == "PermissionError", r.observation
        assert not (sb.scratch_dir / "child_ran").exists()


def test_popen_check_sees_a_child_that_ran():
    """Positive control: without the kernel layers and guards the same code runs a child, and the check sees it."""
    with Sandbox(config=SandboxConfig(unsafe_no_sandbox=True), _python_guards=False) as sb:
        r = sb.run(POPEN_VIA_SUBCLASSES)
        assert r.error is None, r.observation
        assert (sb.scratch_dir / "child_ran").read_text().strip().isdigit()


def test_fork_copy_never_follows_a_symlink_swapped_in_during_the_copy(monkeypatch, tmp_path):
    """The file is replaced by a symlink to a secret between the scan and the open: the copy does not follow it."""
    from agentdistill.sandbox import _areas

    secret = tmp_path / "secret.txt"
    secret.write_text("root-only secret")
    root = tmp_path / "scratch"
    (root / "w0" / "work" / "sub").mkdir(parents=True)
    (root / "w0" / "work" / "f.txt").write_text("mine")
    (root / "w0" / "work" / "sub" / "g.txt").write_text("mine too")
    real_open, swapped = os.open, []

    def racing_open(path, flags, mode=0o777, *, dir_fd=None):
        if dir_fd is not None and path in ("f.txt", "sub") and path not in swapped:
            swapped.append(path)
            target = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
            if os.path.isdir(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
            os.symlink(secret if path == "f.txt" else tmp_path, target)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(_areas.os, "open", racing_open)
    try:
        name = _fork_copy(root, "w0/work")
    finally:
        monkeypatch.undo()
    assert sorted(swapped) == ["f.txt", "sub"]
    copied = root / name
    found = [p.read_text() for p in copied.rglob("*") if p.is_file() and not p.is_symlink()]
    assert "root-only secret" not in found and not (copied / "sub" / "secret.txt").exists()


def test_root_without_a_pids_cgroup_fails_closed(monkeypatch, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the pids cgroup is used only when the host runs as root")
    from agentdistill.sandbox import _cgroup

    monkeypatch.setattr(_cgroup, "_V2", str(tmp_path / "no-v2"))
    monkeypatch.setattr(_cgroup, "_V1", str(tmp_path / "no-v1"))
    with pytest.raises(SandboxStartError, match="process limit unavailable.*RLIMIT_NPROC does not apply"):
        Sandbox(config=FAST)


def test_fork_refused_at_the_process_cap_leaves_the_sandbox_usable():
    """Processes of model code end with their step, so only SAG forks the host holds can fill the cap."""
    with _os_only() as sb:
        sb.run("x = 7")
        forks = []
        with pytest.raises(RuntimeError, match="Sandbox.fork failed"):
            for _ in range(FORK_HEADROOM + 2):
                forks.append(sb.fork())
        assert len(forks) == FORK_HEADROOM  # the cap: init, the worker and the headroom
        assert sb.run("print(x)").stdout == "7\n"  # same interpreter, channel in step
        for f in forks:
            f.close()
        sb.fork().close()  # closed forks free the cap again


def test_episodes_cannot_reach_each_other():
    """Each family has its own network and pid namespace: no abstract socket, no signal crosses between them."""
    with _os_only() as a, _os_only() as b:
        r = a.run(
            "import socket, os\ns = socket.socket(socket.AF_UNIX)\ns.bind('\\0agentdistill-peer')\n"
            "s.listen(1)\nprint(os.getpid())"
        )
        assert r.stdout == "2\n", r.observation
        c = b.run("import socket\nsocket.socket(socket.AF_UNIX).connect('\\0agentdistill-peer')")
        k = b.run("import os\nos.kill(2, 0)\nprint('pid 2 here is', os.getpid() == 2)")
        assert "Connection refused" in c.observation, c.observation
        assert k.stdout == "pid 2 here is True\n"  # "pid 2" in b is b's own worker, never a's
