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
    assert lines[:2] == [f"{p} 30" for p in paths[:2]], r.observation  # EROFS
    assert lines[2] in (f"{paths[2]} 30", f"{paths[2]} 2"), r.observation  # or absent on this kernel
    if os.path.exists("/proc/kcore"):  # hidden behind /dev/null (this kernel may not have it at all)
        assert kcore.stdout == "0\n", kcore.observation
    else:
        assert "No such file" in kcore.observation
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    host.assert_intact(r.stdout)


def test_host_device_nodes_cannot_be_changed_but_still_work(host):
    mode = stat.S_IMODE(os.stat("/dev/null").st_mode)
    with _os_only() as sb:
        chmod = sb.run(f"import os\nos.chmod('/dev/null', {mode})")
        chown = sb.run("import os\nos.chown('/dev/null', 0, 0)")
        use = sb.run("open('/dev/null', 'w').write('x')\nprint(len(open('/dev/zero', 'rb').read(4)))")
    assert "Operation not permitted" in chmod.observation and "Operation not permitted" in chown.observation
    assert use.ok and use.stdout == "4\n", use.observation
    host.assert_intact(chmod.observation)


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
        shm = sb.run("open('/dev/shm/big', 'wb').write(b'x' * 2 * 2**20)")
        sem = sb.run("open('/dev/shm/sem.small', 'wb').write(b'x' * 4096)\nprint('ok')")
        dev = sb.run("open('/dev/newfile', 'w')")
        site = sb.run(
            "import os, sysconfig\nopen(os.path.join(sysconfig.get_paths()['purelib'], 'x.py'), 'w')"
        )
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
