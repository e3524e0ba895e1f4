"""What a sandbox started by root can reach because its uid is host uid 0 (bwrap maps it so): kernel settings
under /proc, the host's device nodes, System V shared memory, and writable tmpfs mounts — each refused by the
OS layer alone (Python guards off). Attacks found by a review session, 2026-11-30; the probes only open for
writing or set a node's current mode, so a regression changes nothing on the host."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agentdistill.sandbox import Sandbox, SandboxConfig

from .conftest import FAST


def _os_only(**kw) -> Sandbox:
    return Sandbox(config=SandboxConfig(**{**FAST.__dict__, **kw}), _python_guards=False)


_OPEN_FOR_WRITE = """
import os
for path in {paths!r}:
    try:
        os.close(os.open(path, os.O_WRONLY))
        print(path, 'WRITABLE')
    except OSError as exc:
        print(path, exc.errno)
"""


def test_kernel_settings_under_proc_are_read_only(host):
    paths = ["/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"]
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    with _os_only() as sb:
        r = sb.run(_OPEN_FOR_WRITE.format(paths=paths))
        kcore = sb.run("print(len(open('/proc/kcore', 'rb').read(64)))")
    lines = r.stdout.splitlines()
    # EACCES: the sandbox uid is never host uid 0 (_hostuid.py); EROFS: bound read-only all the same
    assert all(line in (f"{p} 13", f"{p} 30") for p, line in zip(paths[:2], lines, strict=False)), (
        r.observation
    )
    assert lines[2] in (f"{paths[2]} 13", f"{paths[2]} 30", f"{paths[2]} 2"), r.observation  # or no such file
    if os.path.exists("/proc/kcore"):  # hidden behind /dev/null (this kernel may not have it at all)
        assert kcore.stdout == "0\n", kcore.observation
    else:
        assert "No such file" in kcore.observation
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    host.assert_intact(r.stdout)


def test_host_device_nodes_cannot_be_changed_but_still_work(host):
    """chmod, chown, utime and a mode-equivalent POSIX ACL on /dev/null (the host's node) do nothing: the
    calls return success (so shutil.copy2 still works) and the host inode's ctime stays the same."""
    before = os.stat("/dev/null")
    mode = stat.S_IMODE(before.st_mode)
    acl = (  # system.posix_acl_access v2: USER_OBJ, GROUP_OBJ, OTHER each rw- (0666: the node's own mode)
        "import struct\nacl = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, 6, 0xFFFFFFFF) "
        "for t in (1, 4, 32))\nos.setxattr('/dev/null', 'system.posix_acl_access', acl)\n"
    )
    with _os_only() as sb:
        change = sb.run(
            f"import os\nos.chmod('/dev/null', {mode})\nos.chown('/dev/null', 0, 0)\n"
            f"os.utime('/dev/null', (0, 0))\n{acl}print('calls returned')"
        )
        use = sb.run("open('/dev/null', 'w').write('x')\nprint(len(open('/dev/zero', 'rb').read(4)))")
        copy = sb.run(
            "import shutil\nopen('a', 'w').write('x')\nshutil.copy2('a', 'b')\nprint(open('b').read())"
        )
    after = os.stat("/dev/null")
    assert change.stdout == "calls returned\n", change.observation
    assert (after.st_mode, after.st_uid, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_mode,
        before.st_uid,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    assert use.ok and use.stdout == "4\n", use.observation
    assert copy.stdout == "x\n", copy.observation
    host.assert_intact(change.observation)


def test_host_roots_per_user_resources_are_out_of_reach():
    """Started by root, per-user kernel resources are host root's: inotify instances, message queues, memfd
    memory, leases on host files, queued signals — refused or capped."""
    code = (
        "import ctypes, ctypes.util, fcntl, os, resource\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
        "print('inotify', libc.inotify_init1(0), ctypes.get_errno())\n"
        "try:\n    os.memfd_create('x')\nexcept OSError as e:\n    print('memfd', e.errno)\n"
        "fd = os.open(os.__file__, os.O_RDONLY)\n"
        "try:\n    fcntl.fcntl(fd, 1024, 0)\nexcept OSError as e:\n    print('lease', e.errno)\n"  # F_SETLEASE RDLCK
        "print('sigpending', resource.getrlimit(resource.RLIMIT_SIGPENDING))\n"
        "print('msgqueue', resource.getrlimit(resource.RLIMIT_MSGQUEUE))"
    )
    with _os_only() as sb:
        r = sb.run(code)
    assert r.stdout.splitlines() == [
        "inotify -1 1",
        "memfd 1",
        "lease 1",
        "sigpending (64, 64)",
        "msgqueue (0, 0)",
    ], r.observation


def test_system_v_shared_memory_is_refused():
    code = (
        "import ctypes, ctypes.util\nlibc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
        "libc.shmget.restype = ctypes.c_int\n"
        "print(libc.shmget(0, 64 * 2**20, 0o1600), ctypes.get_errno())"  # IPC_PRIVATE, IPC_CREAT | 0600
    )
    with _os_only() as sb:
        r = sb.run(code)
    assert r.stdout == "-1 1\n", r.observation  # EPERM


def test_dev_shm_is_small_and_dev_and_package_covers_are_read_only():
    with _os_only() as sb:
        landlock = sb.isolation["landlock"]
        shm = sb.run("open('/dev/shm/big', 'wb').write(b'x' * 2 * 2**20)")
        sem = sb.run("open('/dev/shm/sem.small', 'wb').write(b'x' * 4096)\nprint('ok')")
        dev = sb.run("open('/dev/newfile', 'w')")
        site = sb.run(
            "import os, sysconfig\nopen(os.path.join(sysconfig.get_paths()['purelib'], 'x.py'), 'w')"
        )
    if landlock:  # writes only beneath the episode's own scratch area
        assert "Permission denied" in shm.observation and "Permission denied" in sem.observation
    else:  # the family's own 1 MiB tmpfs
        assert "No space left" in shm.observation and sem.stdout == "ok\n"
    assert "Read-only file system" in dev.observation, dev.observation
    assert "Read-only file system" in site.observation or "No such file" in site.observation, site.observation


def test_forged_step_ends_are_discarded_and_the_wall_limit_holds():
    """Model code queues 'done' messages for guessable step numbers, then sleeps past the wall limit: the step
    still times out, and the next step runs its own code (not a queued forgery)."""
    forge = """
import json, struct, time
chan = next(c.cell_contents for c in final_answer.__closure__ if type(c.cell_contents).__name__ == 'Channel')
for seq in [*range(1, 20), *(str(n) for n in range(1, 20))]:
    d = json.dumps({'op': 'done', 'seq': seq, 'stdout': 'FORGED\\n', 'error': None}).encode()
    chan.sock.sendall(struct.pack('!I', len(d)) + d)
time.sleep(30)
"""
    with _os_only(wall_seconds=2.0) as sb:
        first = sb.run(forge)
        second = sb.run("print('real step 2')")
    assert first.error is not None and first.error.kind == "timeout", first.observation
    assert second.stdout == "real step 2\n", second.observation


def test_model_code_never_runs_as_host_root():
    """Started by root, bubblewrap runs as an unused unprivileged uid (``_hostuid.HOST_UID``): the worker is that
    uid outside; the interpreter it needs is staged in the launch's own mount namespace, not the host's."""
    from agentdistill.sandbox._hostuid import HOST_UID

    with _os_only() as sb:
        r = sb.run("import os\nprint(os.getuid())")
        status = Path(f"/proc/{sb.pid}/status").read_text()
    host_uid = int(status.split("Uid:")[1].split()[0])
    assert r.stdout == "1000\n", r.observation
    assert host_uid == (HOST_UID if os.geteuid() == 0 else os.geteuid())
    assert "agentdistill-stage" not in Path("/proc/self/mountinfo").read_text()


def test_memory_no_rlimit_counts_is_refused():
    """``memfd_secret`` (its pages stay with the fd after munmap: one worker held 800 MiB under ``memory_mb=256``,
    docs/reviews/sandbox-2026-12-02.md fault 4) and a bigger pipe buffer (``F_SETPIPE_SZ``) are memory RLIMIT_AS does not count;
    seccomp refuses both, as it refuses ``memfd_create`` and System V shared memory."""
    code = (
        "import ctypes, fcntl, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('memfd_secret', libc.syscall(447, 0), ctypes.get_errno())\n"  # x86_64 and aarch64 alike
        "r, w = os.pipe()\ntry:\n    fcntl.fcntl(w, 1031, 1 << 20)\n    print('pipe', 'grown')\n"
        "except OSError as e:\n    print('pipe', e.errno)\n"
        "print('default pipe', len(os.read(r, 1) if os.write(w, b'x' * 65536) else b''))"
    )
    with _os_only() as sb:
        r = sb.run(code)
    assert r.stdout.splitlines() == ["memfd_secret -1 1", "pipe 1", "default pipe 1"], r.observation
