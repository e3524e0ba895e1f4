"""Hostile code against the real sandbox, each attack twice: with every layer, and with the Python guards switched
off (the kernel layers alone). Every case asserts the host intact (``host`` fixture: canary file and env var,
TCP/unix/abstract listeners, host /tmp, no surviving process) and the sandbox usable afterwards; with the guards
off, ``os_expect`` names the kernel's answer, which shows which OS layer stopped the attack.

``S``/``OS`` reach the worker's real ``sys``/``os`` through a module the allow-list permits, and ``LIBC`` is
libc through ctypes, so with the guards on these cases exercise the audit hook too, not only the allow-list.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST

S = "import collections\nS = collections._sys\nOS = S.modules['os']\n"
C = S + ("__name__ = 'not_the_sandbox'\nimport ctypes\nLIBC = ctypes.CDLL(None, use_errno=True)\n")
WALK = S + (
    "fd = OS.open('.', OS.O_PATH)\nfor _ in range(40):\n    up = OS.open('..', OS.O_PATH, dir_fd=fd)\n"
    "    OS.close(fd)\n    fd = up\n"
)
NOENT, RO, EPERM, NOAF = "No such file", "Read-only file system", "Operation not permitted", "Address family"
# a root-owned file: the sandbox uid is never its owner (never host uid 0), so the permission check comes first;
# a host user who owns their interpreter gets the read-only mount instead
RO_OR_NOT_OWNER = (RO, "Permission denied")
HOST_SYS_PATH = repr([p for p in sys.path if p])

# (id, code, os_expect: a substring of the observation with the Python guards off, or None)
ATTACKS = [
    # --- host files: reads -------------------------------------------------------------------------------
    ("read_canary", "print(open('CANARY_FILE').read())", NOENT),
    ("read_tmp_canary", "print(open('TMP_CANARY').read())", NOENT),
    ("read_etc_passwd", "print(open('/etc/passwd').read())", NOENT),
    (
        "str_subclass_path",
        "class P(str):\n    def startswith(self, *a): return True\n"
        "    def partition(self, *a): return ('', '', '')\nprint(open(P('CANARY_FILE')).read())",
        NOENT,
    ),
    (
        "dir_fd_walk_passwd",
        WALK + "print(OS.read(OS.open('etc/passwd', OS.O_RDONLY, dir_fd=fd), 200))",
        NOENT,
    ),
    (
        "dir_fd_walk_canary",
        WALK + "print(OS.read(OS.open('CANARY_FILE'.lstrip('/'), 0, dir_fd=fd), 200))",
        NOENT,
    ),
    ("proc_1_root", "print(open('/proc/1/root/etc/passwd').read())", "Permission denied"),
    ("proc_host_pid_environ", "print(open('/proc/HOST_PID/environ').read())", None),
    ("proc_self_environ", "print(open('/proc/self/environ').read())", None),
    ("list_root", S + "print(sorted(OS.listdir('/')))", "'scratch'"),
    ("read_checkout", "print(open('" + __file__ + "').read())", NOENT),
    (
        "walk_host_sys_path",
        S + f"for p in {HOST_SYS_PATH}:\n    try:\n        print(p, OS.listdir(p)[:3])\n"
        "    except OSError as e:\n        print(p, e)",
        None,
    ),
    ("read_root_home", "print(open('/root/.bashrc').read())", NOENT),
    ("dev_mem", "open('/dev/mem', 'rb').read(10)", NOENT),
    ("sys_fs", S + "print(OS.listdir('/sys'))", NOENT),
    ("symlink_out", S + "OS.symlink('CANARY_FILE', 'l')\nprint(open('l').read())", NOENT),
    ("hardlink_worker", S + "OS.link('/sbx/lib/_guards.py', 'g')", None),
    # --- host files: writes ------------------------------------------------------------------------------
    ("write_host_tmp", "open('/tmp/agentdistill_escape.txt', 'w').write('x')", None),
    ("write_canary", "open('CANARY_FILE', 'w').write('pwned')", NOENT),
    ("write_worker_lib", "open('/sbx/lib/_guards.py', 'a').write('pwned')", RO_OR_NOT_OWNER),
    ("write_stdlib", S + "open(OS.__file__, 'a').write('pwned')", RO_OR_NOT_OWNER),
    ("write_root", "open('/pwned_escape', 'w').write('x')", RO),
    (
        "disk_fill_1gib",
        "for i in range(1024):\n    with open(f'fill{i}', 'wb') as f:\n        f.write(b'x' * 2**20)",
        "No space left",
    ),
    ("inode_fill", "for i in range(100000):\n    open(f'i{i}', 'w').close()", "No space left"),
    ("file_over_fsize", "open('big', 'wb').write(b'x' * (8 * 2**20))", "File too large"),
    # --- programs and processes --------------------------------------------------------------------------
    (
        "name_trick_subprocess",
        "__name__ = 'x'\nimport subprocess\n"
        "subprocess.run(['/usr/bin/touch', '/tmp/agentdistill_escape_sp'])",
        EPERM,
    ),
    ("os_system", S + "print(OS.system('touch /tmp/agentdistill_escape_sys'))", None),
    (
        "exec_python",
        S + "OS.execv(S.executable, ['py', '-c', 'open(\"/tmp/agentdistill_escape_x\", \"w\")'])",
        EPERM,
    ),
    ("posix_spawn", S + "OS.posix_spawn(S.executable, ['py', '-c', '1'], {})", EPERM),
    ("fork_exec_raw", C + "print(LIBC.execve(b'/usr/bin/id', None, None), ctypes.get_errno())", "-1 1"),
    (
        "setsid_survivor",
        S + "if OS.fork() == 0:\n    OS.setsid()\n    import time\n    time.sleep(60)\n"
        "    OS._exit(0)\nprint('parent')",
        "parent",
    ),
    (
        "double_fork_daemon",
        S + "if OS.fork() == 0:\n    if OS.fork() == 0:\n        OS.setsid()\n"
        "        while True: pass\n    OS._exit(0)\nprint('parent')",
        "parent",
    ),
    (
        "fork_bomb",
        S + "n = 0\ntry:\n    while True:\n        if OS.fork() == 0:\n            import time\n"
        "            time.sleep(60)\n            OS._exit(0)\n        n += 1\nexcept OSError as e:\n    print('capped', n, e)",
        "Resource temporarily unavailable",
    ),
    ("kill_host", S + "OS.kill(HOST_PID, 9)", "No such process"),
    ("kill_everything", S + "OS.kill(-1, 9)\nprint('still here')", None),
    # pid 1 ignores the signal; with Landlock ABI 6+ the kernel refuses it first (signals stay in the domain)
    (
        "kill_family_init",
        S + "OS.kill(1, 9)\nprint('init ignores it')",
        ("init ignores it", "Operation not permitted"),
    ),
    (
        "sigint_family_init",
        S + "OS.kill(1, 2)\nimport time\ntime.sleep(0.3)\nprint('init ignores it')",
        ("init ignores it", "Operation not permitted"),
    ),
    (
        "stderr_fd_flood",
        S + "for _ in range(64):\n    OS.write(2, b'x' * 2**20)\nprint('written')",
        "written",
    ),
    ("killpg_self", S + "OS.killpg(0, 9)", None),
    ("ptrace_init", C + "print(LIBC.ptrace(16, 1, 0, 0), ctypes.get_errno())", "-1 1"),
    ("process_vm_readv", C + "print(LIBC.syscall(310, 1, 0, 0, 0, 0, 0), ctypes.get_errno())", "-1 1"),
    ("proc_mem_write", "open('/proc/1/mem', 'r+b').write(b'x')", None),
    # --- kernel interfaces -------------------------------------------------------------------------------
    ("unshare_user", C + "print(LIBC.unshare(0x10000000), ctypes.get_errno())", "-1 1"),
    ("clone_newuser", C + "print(LIBC.syscall(56, 0x10000000 | 17, 0, 0, 0, 0), ctypes.get_errno())", "-1 1"),
    ("mount_tmpfs", C + "print(LIBC.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())", "-1 1"),
    (
        "setns_net",
        C + "fd = OS.open('/proc/self/ns/net', 0)\nprint(LIBC.setns(fd, 0), ctypes.get_errno())",
        "-1 1",
    ),
    ("chroot", S + "OS.chroot('.')", EPERM),
    ("bpf", C + "print(LIBC.syscall(321, 0, 0, 0), ctypes.get_errno())", "-1 1"),
    ("perf_event_open", C + "print(LIBC.syscall(298, 0, 0, -1, -1, 0), ctypes.get_errno())", "-1 1"),
    ("io_uring_setup", C + "print(LIBC.syscall(425, 8, 0), ctypes.get_errno())", "-1 1"),
    ("userfaultfd", C + "print(LIBC.syscall(323, 0), ctypes.get_errno())", "-1 1"),
    ("keyctl", C + "print(LIBC.syscall(250, 0, -3, 0), ctypes.get_errno())", "-1 1"),
    ("mkfifo", S + "OS.mkfifo('p')", EPERM),
    ("sethostname", C + "print(LIBC.sethostname(b'pwned', 5), ctypes.get_errno())", "-1 1"),
    ("setuid_root", S + "OS.setuid(0)", None),
    (
        "capabilities",
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
        "0000000000000000",
    ),
    # --- network -----------------------------------------------------------------------------------------
    (
        "tcp_loopback",
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', HOST_PORT))",
        NOAF,
    ),
    ("tcp_external", "import socket\ns = socket.create_connection(('1.1.1.1', 80), timeout=2)", NOAF),
    (
        "udp_loopback",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', "
        "('127.0.0.1', HOST_PORT))",
        NOAF,
    ),
    ("unix_path", "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('HOST_UNIX')", NOENT),
    (
        "unix_abstract",
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0HOST_ABSTRACT')",
        "Connection refused",
    ),
    ("netlink", "import socket\nsocket.socket(16, socket.SOCK_RAW, 0)", NOAF),
    ("packet", "import socket\nsocket.socket(17, socket.SOCK_RAW, 0)", NOAF),
    # --- the Python layer's own data ---------------------------------------------------------------------
    (
        "guard_tables_via_tool",
        "g = type(search).__call__.__globals__\ng['_guards']._DENY.clear()\n"
        "g['os'].system('touch /tmp/agentdistill_escape_g')",
        None,
    ),
    (
        "builtins_import_replaced",
        "__builtins__['__import__'] = lambda *a, **k: None\nimport os\nprint(open('CANARY_FILE').read())",
        NOENT,
    ),
    (
        "signal_frame_trusted",
        S + "sg = S.modules['signal']\nF = []\nsg.signal(sg.SIGALRM, lambda n, f: F.append(f))\n"
        "sg.setitimer(sg.ITIMER_REAL, 0.01)\nimport time\ntime.sleep(0.1)\nf = F[0]\nwhile f is not None:\n"
        "    for v in list(f.f_locals.values()):\n        if isinstance(v, list) and v == [False]:\n            v[0] = True\n"
        "    f = f.f_back\nprint(open('CANARY_FILE').read())",
        NOENT,
    ),
    # --- resources ---------------------------------------------------------------------------------------
    ("memory_bytearray", "b = bytearray(10**10)", "MemoryError"),
    ("cpu_spin", "while True:\n    pass", "CPU time limit"),
    ("sleep_past_wall", "import time\ntime.sleep(100)", "timed out"),
    # the CPU limit's exception caught, or its signal ignored: the wall limit still ends the step
    (
        "spin_catching_cpu_limit",
        "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass",
        ("timed out", "CPU time limit"),  # or the signal lands outside the `try`
    ),
    (
        "spin_ignoring_sigxcpu",
        S + "sg = S.modules['signal']\nsg.signal(sg.SIGXCPU, sg.SIG_IGN)\nwhile True: pass",
        "timed out",
    ),
    (
        "deep_recursion_crash",
        S + "S.setrecursionlimit(10**7)\nx = []\nfor _ in range(10**6):\n    x = [x]\nprint(len(repr(x)))",
        ("restarted", "RecursionError", "MemoryError"),  # C recursion: a crash ends the worker only
    ),
    (
        "thread_outlives_step",
        S + "import time\nS.modules['_thread'].start_new_thread(time.sleep, (30,))",
        "threads are not allowed",
    ),
    (
        "setrlimit_raise",
        S + "r = S.modules['resource']\nr.setrlimit(r.RLIMIT_AS, (-1, -1))",
        "not allowed to raise",
    ),
    (
        "nproc_raise",
        S + "r = S.modules['resource']\nr.setrlimit(r.RLIMIT_NPROC, (10**6, 10**6))",
        "not allowed to raise",
    ),
    ("many_open_files", "fs = [open(f'f{i}.txt', 'w') for i in range(100)]", "Too many open files"),
    # --- the channel to the host -------------------------------------------------------------------------
    ("huge_final_answer", "final_answer('x' * 50_000_000)", "the limit is 100000"),
    (
        "deep_nested_message",
        "import struct\nd = b'[' * 200000 + b']' * 200000\n"
        "search.chan.sock.sendall(struct.pack('!I', len(d)) + d)\nimport time\ntime.sleep(3)",
        "invalid message",
    ),
    (
        "oversized_header",
        "import struct\nsearch.chan.sock.sendall(struct.pack('!I', 2**31))\nimport time\ntime.sleep(3)",
        "exceeds",
    ),
    (
        "malformed_json",
        "import struct\nsearch.chan.sock.sendall(struct.pack('!I', 9) + b'{not json')\nimport time\n"
        "time.sleep(3)",
        "invalid message",
    ),
    (
        "forged_done",
        "import struct, json\nd = json.dumps({'op': 'done', 'has_final_answer': True, 'final_answer': 1,"
        " 'stdout': 'forged'}).encode()\nsearch.chan.sock.sendall(struct.pack('!I', len(d)) + d)\nimport time\n"
        "time.sleep(3)",
        None,
    ),
    ("tool_call_flood", "for i in range(1000):\n    search('q')", "tool calls per step"),
    ("huge_query", "search('x' * 10**6)", "the limit is 4000"),
]


def _search(q: str = "") -> str:
    return f"passages about {q[:20]}"


@pytest.mark.parametrize("guards", [True, False], ids=["all-layers", "os-only"])
@pytest.mark.parametrize(("name", "code", "os_expect"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack(host, name: str, code: str, os_expect: str | tuple[str, ...] | None, guards: bool):
    # CPU-limit cases: a wall limit far above the CPU limit, so a loaded machine still ends them by CPU time
    cfg = dataclasses.replace(FAST, wall_seconds=60.0) if name.startswith("cpu") else FAST
    with Sandbox(tools={"search": _search}, config=cfg, _python_guards=guards) as sb:
        assert sb.isolation["seccomp"] and sb.isolation["pid_namespace"]
        sb.run("marker = 'alive'")
        r = sb.run(host.fill(code))
        if not guards and os_expect is not None:
            wanted = os_expect if isinstance(os_expect, tuple) else (os_expect,)
            assert any(w in r.observation for w in wanted), r.observation
        if "forged" in code:  # a forged end of step is no answer, and the real one cannot shift later steps
            assert not r.has_final_answer
            assert sb.run("print(7)").stdout == "7\n"
        after = sb.run("print(6 * 7)")
        assert after.stdout == "42\n", after.observation  # usable again (fresh interpreter after a kill)
        assert (
            sb._zygote._log.seek(0, 2) < 65536
        )  # nothing the code writes reaches the zygote's log on the host
    host.assert_intact(r.observation, r.stdout, r.final_answer)


def test_attack_count():
    assert len(ATTACKS) >= 60 and len({a[0] for a in ATTACKS}) == len(ATTACKS)


def test_slow_tools_cannot_stretch_the_wall_limit(host):
    calls = []

    def slow(q: str) -> str:
        calls.append(q)
        time.sleep(0.4)
        return "ok"

    cfg = FAST.__class__(**{**FAST.__dict__, "wall_seconds": 1.5})
    with Sandbox(tools={"search": slow}, config=cfg) as sb:
        r = sb.run("while True:\n    search('a' * 3000)")
    assert r.error is not None and r.error.kind == "timeout", r.observation
    assert 1 <= len(calls) <= 4  # 0.4 s each against a 1.5 s step: the tools' time counted
    host.assert_intact(r.observation)
