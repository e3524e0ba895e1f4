"""Sandbox fixtures: small limits so adversarial cases end quickly, and host canaries that prove the host intact.

``host`` sets up, for one test: a canary file outside any scratch dir (and one in the host's /tmp), a canary
environment variable, a loopback TCP listener, a host unix socket (a path in /tmp and an abstract name), and
afterwards asserts that none was read, changed, reached or leaked, that no new file appeared in the host /tmp
and that no process of the sandbox outlives its ``close()``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from agentdistill.sandbox import SandboxConfig
from agentdistill.sandbox import _zygote as zyg

FAST = SandboxConfig(
    cpu_seconds=1,
    wall_seconds=6.0,
    memory_mb=1024,
    max_open_files=32,
    max_file_mb=4,
    output_chars=2000,
    scratch_mb=16,
)


class _Listener:
    """Accepts and records connections on a socket (TCP loopback or unix)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.hits = sock, 0
        sock.listen(8)
        sock.settimeout(0.2)
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by PPid), read from the host's /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def sandbox_processes() -> set[int]:
    """Live processes of episode families: everything below each zygote's process except bwrap's init
    (its direct child) and the zygote itself."""
    out: set[int] = set()
    for z in list(zyg._ZYGOTES.values()):
        if z.alive():
            below = _descendants(z.proc.pid)
            inits = {p for p in below if _parent(p) == z.proc.pid} if z.namespaces else set()
            out |= below - inits - {z.host_pid}
    return out


# how long a test waits for killed processes to go: seconds on a loaded host (a kill is delivered, the reaping
# parent must still be scheduled); a quiet host takes milliseconds
PROCESS_WAIT_SECONDS = 10.0


def wait_for_processes(n: int) -> set[int]:
    """The live sandbox processes once there are ``n`` of them, or after ``PROCESS_WAIT_SECONDS``."""
    deadline = time.monotonic() + PROCESS_WAIT_SECONDS
    while len(procs := sandbox_processes()) != n and time.monotonic() < deadline:
        time.sleep(0.05)
    return procs


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


class Host:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.secret = f"canary-{uuid.uuid4().hex}"
        self.file = tmp_path / "canary.txt"
        self.file.write_text(self.secret)
        self.tmp_file = Path(f"/tmp/agentdistill-canary-{os.getpid()}.txt")
        self.tmp_file.write_text(self.secret)
        monkeypatch.setenv("AGENTDISTILL_CANARY", self.secret)
        self.tcp = _Listener(socket.create_server(("127.0.0.1", 0)))
        self.port = self.tcp.sock.getsockname()[1]
        self.unix_path = f"/tmp/agentdistill-canary-{os.getpid()}.sock"
        if os.path.exists(self.unix_path):
            os.unlink(self.unix_path)
        us = socket.socket(socket.AF_UNIX)
        us.bind(self.unix_path)
        self.unix = _Listener(us)
        self.abstract = f"agentdistill-canary-{os.getpid()}"
        ab = socket.socket(socket.AF_UNIX)
        ab.bind("\0" + self.abstract)
        self.abs = _Listener(ab)
        self.tmp_before = set(os.listdir("/tmp"))

    def fill(self, code: str) -> str:
        """Substitute the canaries' coordinates into attack code."""
        return (
            code.replace("CANARY_FILE", str(self.file))
            .replace("TMP_CANARY", str(self.tmp_file))
            .replace("HOST_PORT", str(self.port))
            .replace("HOST_UNIX", self.unix_path)
            .replace("HOST_ABSTRACT", self.abstract)
            .replace("HOST_PID", str(os.getpid()))
        )

    def assert_intact(self, *texts: object) -> None:
        for t in texts:
            assert self.secret not in str(t), f"canary leaked into the sandbox's output: {str(t)[:300]}"
        assert self.file.read_text() == self.secret and self.tmp_file.read_text() == self.secret
        assert os.environ["AGENTDISTILL_CANARY"] == self.secret
        time.sleep(0.05)
        assert self.tcp.hits == 0 and self.unix.hits == 0 and self.abs.hits == 0, (
            "a host listener was reached"
        )
        new = {n for n in set(os.listdir("/tmp")) - self.tmp_before if not n.startswith(("pytest", "tmp"))}
        assert not {n for n in new if "escape" in n or "pwned" in n}, f"files planted in the host /tmp: {new}"
        deadline = time.monotonic() + PROCESS_WAIT_SECONDS
        while sandbox_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sandbox_processes(), f"sandbox processes outlived close(): {sandbox_processes()}"

    def close(self) -> None:
        for lst in (self.tcp, self.unix, self.abs):
            lst.close()
        for p in (self.unix_path, self.tmp_file):
            if os.path.exists(p):
                os.unlink(p)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    h = Host(tmp_path, monkeypatch)
    yield h
    h.close()


@pytest.fixture
def sandbox():
    from agentdistill.sandbox import Sandbox

    with Sandbox(config=FAST) as sb:
        yield sb
