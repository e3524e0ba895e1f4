"""Hostile code: each case must leave the host healthy, give a clear observation, and leave the sandbox usable.

`S` below reaches the worker's real `sys` through a module the allow-list permits (collections imports sys),
so these cases exercise the audit hook and the OS limits, not just the import allow-list.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig

from .conftest import FAST

S = "import collections\nS = collections._sys\nOS = S.modules['os']\n"

# (id, code, expected substring of the observation, expected error kind or None)
CASES = [
    ("read_etc_passwd", "print(open('/etc/passwd').read())", "not allowed in the sandbox", "exception"),
    ("read_root_home", "open('/root/.bashrc').read()", "not allowed", "exception"),
    ("read_via_os_open", S + "OS.open('/etc/shadow', 0)", "not allowed", "exception"),
    ("write_outside_relative", "open('../../escape.txt', 'w').write('x')", "not allowed", "exception"),
    ("write_tmp", "open('/tmp/agentdistill_escape.txt', 'w').write('x')", "not allowed", "exception"),
    ("symlink_escape", S + "OS.symlink('/etc/passwd', 'link')", "os.symlink is not allowed", "exception"),
    ("listdir_outside", S + "print(OS.listdir('/'))", "not allowed", "exception"),
    ("proc_self_environ", "open('/proc/self/environ').read()", "not allowed", "exception"),
    ("proc_self_mem", "open('/proc/self/mem', 'rb')", "not allowed", "exception"),
    ("import_os", "import os", "import of 'os' is not allowed", "import"),
    ("import_socket", "import socket", "import of 'socket' is not allowed", "import"),
    ("import_urllib", "import urllib.request", "import of 'urllib' is not allowed", "import"),
    ("dunder_import", "__import__('subprocess')", "import of 'subprocess' is not allowed", "import"),
    ("exec_import", "exec('import ctypes')", "import of 'ctypes' is not allowed", "import"),
    ("importlib", "import importlib", "import of 'importlib' is not allowed", "import"),
    ("importlib_via_sys", S + "S.modules['importlib'].import_module('pty').spawn('/bin/sh')", "Error", "exception"),
    ("relative_import", "from . import x", "relative imports are not allowed", "import"),
    ("socket_connect", S + "s = S.modules['socket'].socket()\ns.connect(('1.1.1.1', 80))", "network access is not allowed", "exception"),
    ("os_system", S + "OS.system('id')", "os.system is not allowed", "exception"),
    ("os_exec", S + "OS.execv('/bin/sh', ['sh', '-c', 'id'])", "os.exec is not allowed", "exception"),
    ("posix_spawn", S + "OS.posix_spawn('/bin/sh', ['sh'], {})", "os.posix_spawn is not allowed", "exception"),
    ("os_fork", S + "OS.fork()", "os.fork is not allowed", "exception"),
    ("fork_bomb", S + "while True:\n    OS.fork()", "os.fork is not allowed", "exception"),
    ("kill_parent", S + "OS.kill(OS.getppid(), 9)", "os.kill is not allowed", "exception"),
    ("kill_host_group", S + "OS.killpg(1, 9)", "os.killpg is not allowed", "exception"),
    ("ctypes_via_sys", S + "S.modules['ctypes'].CDLL(None)", "not allowed", "exception"),
    ("subclasses_wrap_close",
     "w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
     "w.__init__.__globals__['system']('id')", "os.system is not allowed", "exception"),
    ("subclasses_popen",
     "p = [c for c in object.__subclasses__() if c.__name__ == 'Popen']\nprint(len(p))\np and p[0](['id'])",
     "", None),
    ("frame_walk", "try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame.f_back",
     "introspection of 'tb_frame' is not allowed", "exception"),
    ("generator_frame", "g = (i for i in [1])\ng.gi_frame", "not allowed", "exception"),
    ("getframe", S + "S._getframe(0)", "sys._getframe is not allowed", "exception"),
    ("gc_objects", S + "S.modules['gc'].get_objects()", "gc.get_objects is not allowed", "exception"),
    ("settrace", S + "S.settrace(lambda *a: None)", "sys.settrace is not allowed", "exception"),
    ("setrlimit_raise", S + "r = S.modules['resource']\nr.setrlimit(r.RLIMIT_AS, (-1, -1))",
     "resource.setrlimit is not allowed", "exception"),
    ("builtins_import_replaced",
     "__builtins__['__import__'] = lambda *a, **k: None\nimport os\nopen('/etc/passwd')", "not allowed", "exception"),
    ("memory_bytearray", "b = bytearray(10**10)", "MemoryError", "memory"),
    ("memory_list_growth", "l = []\nwhile True:\n    l.append(' ' * 10**7)", "MemoryError", "memory"),
    ("cpu_spin", "while True:\n    pass", "CPU time limit of 1 s exceeded", "timeout"),
    ("cpu_spin_catching", "while True:\n    try:\n        while True: pass\n    except BaseException: pass",
     "", "timeout"),
    ("sleep_past_timeout", "import time\ntime.sleep(100)", "timed out after 8 s", "timeout"),
    ("sigterm_ignored_then_sleep", S + "sg = S.modules['signal']\nsg.signal(sg.SIGTERM, sg.SIG_IGN)\n"
     "import time\ntime.sleep(100)", "timed out", "timeout"),
    ("huge_print", "print('x' * 10**7)", "[truncated", None),
    ("many_prints", "for i in range(10**6):\n    print(i)", "[truncated", None),
    ("deep_recursion", "def f(n):\n    return f(n + 1)\nf(0)", "RecursionError", "exception"),
    ("recursion_limit_crash", S + "S.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)", "", None),
    ("thread_outlives_step", S + "import time\nS.modules['_thread'].start_new_thread(time.sleep, (30,))",
     "threads are not allowed", "killed"),
    ("import_threading", "import threading", "import of 'threading' is not allowed", "import"),
    ("big_file", "open('big.bin', 'wb').write(b'x' * (8 * 2**20))", "File too large", "exception"),
    ("many_open_files", "fs = [open(f'f{i}.txt', 'w') for i in range(100)]", "Too many open files", "exception"),
    ("sys_modules_clear", S + "S.modules.clear()", "", None),
    ("system_exit", "raise SystemExit(3)", "SystemExit", "exception"),
    ("keyboard_interrupt", "raise KeyboardInterrupt", "KeyboardInterrupt", "exception"),
]


@pytest.mark.parametrize(("code", "expect", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_code(code: str, expect: str, kind: str | None):
    with Sandbox(config=FAST) as sb:
        sb.run("marker = 'alive'")
        r = sb.run(code)
        assert expect in r.observation, r.observation
        if kind is not None:
            assert r.error is not None and r.error.kind == kind, (r.error, r.observation)
        assert "uid=" not in r.observation and "root:x:0" not in r.observation
        after = sb.run("print(6 * 7)")
        assert after.stdout == "42\n", after.observation  # usable again (fresh interpreter after a kill)
    assert not Path("/tmp/agentdistill_escape.txt").exists()


def test_signal_handler_does_not_fire_between_steps():
    with Sandbox(config=FAST) as sb:
        sb.run(S + "sg = S.modules['signal']\nsg.signal(sg.SIGALRM, lambda *a: print('evil'))\nsg.alarm(1)")
        r = sb.run("import time\ntime.sleep(1.5)\nprint('ok')")
        assert r.stdout == "ok\n" and r.error is None


def test_host_env_secret_does_not_leak(monkeypatch):
    monkeypatch.setenv("AGENTDISTILL_FAKE_SECRET", "hunter2-secret")
    with Sandbox(config=FAST) as sb:
        r = sb.run(S + "print(dict(OS.environ))")
    assert "hunter2" not in r.observation and "AGENTDISTILL_FAKE_SECRET" not in r.observation
    assert "HOME" in r.observation


def test_timeout_restarts_with_clear_message():
    with Sandbox(config=SandboxConfig(wall_seconds=1.0, cpu_seconds=5)) as sb:
        sb.run("x = 1")
        r = sb.run("import time\ntime.sleep(30)")
        assert r.error.kind == "timeout" and "variables are lost" in r.observation
        assert sb.restarts == 1
        assert "NameError" in sb.run("print(x)").observation


def test_tool_time_does_not_count_against_wall_clock():
    import time

    def slow(q):
        time.sleep(1.5)
        return "done"

    with Sandbox(tools={"search": slow}, config=SandboxConfig(wall_seconds=1.0)) as sb:
        r = sb.run("print(search('x'))")
    assert r.stdout == "done\n", r.observation


# --- the OS layer alone: the same attacks with the Python guards switched off -------------------------
def _os_only() -> Sandbox:
    return Sandbox(config=FAST, _python_guards=False)


def test_os_layer_no_network():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    with _os_only() as sb:
        if not sb.isolation["network_namespace"]:
            pytest.skip("network namespaces are not available here")
        r = sb.run(f"import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', {port}))")
    srv.close()
    assert r.error is not None and ("refused" in r.observation or "unreachable" in r.observation), r.observation


def test_os_layer_cannot_signal_host():
    with _os_only() as sb:
        if not sb.isolation["own_uid"]:
            pytest.skip("needs root to give the worker its own uid")
        r = sb.run(f"import os\nos.kill({os.getpid()}, 0)")
    assert r.error is not None and r.error.type == "PermissionError"


def test_os_layer_fork_bomb_is_capped():
    with _os_only() as sb:
        if not sb.isolation["nproc_limit"]:
            pytest.skip("RLIMIT_NPROC needs the worker's own uid (root)")
        r = sb.run("import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                   "            time.sleep(60)\n            os._exit(0)\n        n += 1\n"
                   "except OSError as e:\n    print('capped after', n)")
    assert r.stdout.startswith("capped after") and int(r.stdout.split()[-1]) <= 32


def test_os_layer_cannot_read_root_only_files():
    with _os_only() as sb:
        if not sb.isolation["own_uid"]:
            pytest.skip("needs root to give the worker its own uid")
        r = sb.run("open('/root/.bashrc').read()")
    assert r.error is not None and r.error.type == "PermissionError"


def test_os_layer_rlimits_cannot_be_raised():
    with _os_only() as sb:
        r = sb.run("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))")
    assert r.error is not None and "not allowed to raise" in r.observation


def test_host_threads_unaffected():
    # the host is healthy after the suite: threads still start, the process is alive
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    assert os.getpid() > 0
