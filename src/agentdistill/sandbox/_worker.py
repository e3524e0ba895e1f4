"""The sandbox worker: zygote -> one family init per episode -> episode workers (never imported by model code).

Run by the host as ``python -I -S -B _worker.py FD``, normally inside bubblewrap (``_zygote.py``). Processes:

- **zygote** — pre-imports numpy/sympy once, runs no model code; on ``family`` it forks a family init.
- **family init** — unshares a user+mount+pid+ipc+uts namespace (``_oslayer.enter_family``), forks itself into
  pid 1 of the new pid namespace, mounts the family's size-limited tmpfs on the scratch root, and then only
  forks episode workers on request and reaps. When the host closes its channel it exits, and the kernel kills
  every process of the family (pid 1 of a pid namespace takes the namespace with it).
- **episode worker** — own scratch area, rlimits, no capabilities, no_new_privs, a Landlock domain (writes only
  beneath its area), seccomp filter, then the audit hook and import guard, then the step loop (``_episode.py``).
  SAG forks are ``os.fork`` of it: each copies the working dir into a new area *inside* its parent's area and
  narrows its Landlock domain to that, so a candidate cannot write where its parent or its siblings live.

Scratch layout: an area is a dir under the family root holding ``work`` (the cwd, HOME and TMPDIR of model code)
and the areas of its forks, e.g. ``w0/work``, ``w0/f12-0/work``, ``w0/f12-0/f31-0/work``.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import gc
import os
import select
import signal
import socket
import sys

if __name__ == "__main__":  # make the sibling helpers importable, then forget the path
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, _here)
    import _areas  # noqa: E402
    import _episode  # noqa: E402
    import _guards  # noqa: E402
    import _oslayer  # noqa: E402
    import _presets  # noqa: E402
    import _wire  # noqa: E402

    sys.path.remove(_here)
else:  # imported by the host for tests/type checks only
    from . import _areas, _episode, _guards, _oslayer, _presets, _wire  # type: ignore[no-redef]

SANDBOX_UID = 1000  # the only uid inside; the host's uid outside (the kernel's user-namespace mapping)


# A SAG fork's plan, set right before os.fork and read by the first at-fork hook in the child (registered when
# the episode starts, so it runs before any hook model code registers): the child is in its own area, its
# Landlock domain narrowed to it, before any code of the parent's episode runs in it.
_FORK: dict = {}
_DEPTH_LIMIT = "SAG fork depth limit: Landlock stacks at most 16 domains, so an episode forks and adopts at most 15 times"


def _after_fork_in_child() -> None:
    plan = _FORK.pop("plan", None)
    if plan is None:  # a fork of model code's own: same area, same domain
        return
    root, old, landlock, name, keep = plan
    try:
        _areas.cut_inherited_channels(keep)  # the parent's channel, and pipes/sockets its code made
        new, area = _areas.make_fork_area(root, old, name)
        try:
            if landlock:
                _oslayer.restrict_writes(area, landlock)
        finally:
            os.close(area)
        _FORK["made"] = new
    except OSError as exc:
        _FORK["error"] = _DEPTH_LIMIT if exc.errno == errno.E2BIG else str(exc)


def _fork(trusted: list[bool], root: str, old: str, landlock: int, name: str, keep: int) -> int:
    gc.disable()
    _FORK.clear()
    _FORK["plan"] = (root, old, landlock, name, keep)
    try:
        with _guards.trusting(trusted):
            return os.fork()
    finally:
        _FORK.pop("plan", None)
        gc.enable()


def _confine(area_fd: int, landlock: int, trusted: list[bool]) -> None:
    """Writes only beneath the area ``area_fd``, when the kernel has Landlock."""
    if not landlock:
        return
    with _guards.trusting(trusted):  # ctypes calls are audited like model code's
        _oslayer.restrict_writes(area_fd, landlock)


def _enter_fork_area(root: str, old: str, trusted: list[bool]) -> str:
    """In a SAG fork, after the at-fork hook made its area: copy the working dir, move into it, and point
    whatever the parent's code left open for writing at the copy. Returns the new working dir."""
    if "error" in _FORK:
        raise OSError(_FORK["error"])
    new = _FORK.pop("made")
    with _guards.trusting(trusted):
        _areas.copy_work(root, old, new)
        work = _areas.open_beneath(root, new, create=False)
        os.fchdir(work)
        os.close(work)
        os.environ["HOME"] = os.environ["TMPDIR"] = os.path.join(root, new)
        if "tempfile" in sys.modules:
            sys.modules["tempfile"].tempdir = None  # computed again from TMPDIR, never the parent's dir
        _areas.redirect_writable_fds(os.path.join(root, old), os.path.join(root, new))
    return new


def _episode_loop(
    chan: _episode.Channel,
    ns: dict,
    trusted: list[bool],
    state: object,
    root: str,
    cur: list[str],
    landlock: int,
) -> None:
    while True:
        try:
            msg = _wire.recv_msg(chan.sock)
        except (_wire.WireError, OSError):
            os._exit(0)
        op = msg["op"]
        if op == "run":
            out = _episode.run_step(
                str(msg.get("code", "")),
                ns,
                int(msg.get("output_chars", 4000)),
                int(msg.get("cpu_seconds", 0)),
                trusted,
                state,
            )  # type: ignore[arg-type]
            out["seq"] = msg.get("seq")
            _wire.send_msg(chan.sock, out)
            if "fatal" in out:
                os._exit(3)
        elif op == "fork":
            new_fd = _wire.recv_fd(chan.sock)
            try:
                pid = _fork(trusted, root, cur[0], landlock, str(msg.get("name", "")), new_fd)
            except OSError:  # e.g. the process cap: the host sees the new channel close
                pid = -1
            if pid:
                os.close(new_fd)
                continue
            chan.sock.close()
            chan.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=new_fd)
            os.setsid()
            try:
                cur[0] = _enter_fork_area(root, cur[0], trusted)
            except OSError as exc:
                _wire.send_msg(chan.sock, {"op": "hello", "error": f"copying the scratch dir failed: {exc}"})
                os._exit(1)
            _wire.send_msg(chan.sock, {"op": "hello", "dir": cur[0]})
        elif op == "exit":
            os._exit(0)


def _own_uid(root: str, init: dict) -> int | None:
    """Unsafe mode as root: the family's own uid (no other process has it), as the family root dir's owner."""
    if not init["namespaces"] and os.geteuid() == 0:
        return os.stat(root).st_uid
    return None


def _start_episode(msg: dict, fd: int, init: dict, root: str) -> None:
    """In the freshly forked episode worker: confine, then serve steps. Never returns."""
    chan = _episode.Channel(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd))
    trusted = [True]
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)  # C-level writes to fd 1/2 never reach the zygote's log
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.close(null)
        _episode.reset_signals()  # the handlers the step loop expects (the family init runs with defaults)
        # an out-of-memory kill takes model code first, never the family init (nor a host process); forks inherit it
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
        work = str(msg["dir"])
        area_fd = _areas.open_beneath(root, _areas.area_of(work), create=True)
        work_fd = _areas.open_beneath(root, work, create=True)
        os.fchdir(work_fd)
        scratch = os.path.join(root, work)
        os.environ["HOME"] = os.environ["TMPDIR"] = scratch
        _episode.set_limits(
            [(getattr(_episode.resource, n), s, h) for n, s, h in msg.get("limits", [])], trusted
        )
        uid = _own_uid(root, init)
        if uid is not None:  # unsafe mode as root: not root any more (files, signals, RLIMIT_NPROC)
            os.fchown(area_fd, uid, uid)
            os.fchown(work_fd, uid, uid)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        landlock = int(init.get("landlock", 0)) if init["namespaces"] else 0
        os.close(work_fd)
        if init["namespaces"]:
            _oslayer.drop_privileges()
            _confine(area_fd, landlock, trusted)
        os.close(area_fd)
        os.register_at_fork(after_in_child=_after_fork_in_child)  # first: before any hook of model code
        if init.get("seccomp"):
            _oslayer.load_seccomp(bytes.fromhex(init["seccomp"]))
    except OSError as exc:
        _wire.send_msg(chan.sock, {"op": "hello", "error": f"episode confinement failed: {exc}"})
        os._exit(1)
    guards = bool(init.get("guards", True))
    if guards:
        trusted = _guards.install_audit_hook(root, init["read_roots"])
        _guards.refuse_fork_exec()
        _guards.install_import_guard(tuple(msg["imports"]))
    else:
        trusted[0] = False
    state = _episode._StepState()
    ns: dict = {"__name__": _guards.MODEL_MODULE, "__builtins__": dict(vars(builtins))}
    ns["final_answer"] = _episode.make_final_answer(
        chan, state, trusted, int(msg.get("answer_chars", 100_000))
    )
    for name in msg.get("tools", []):
        ns[name] = _episode.Tool(name, chan, int(msg.get("tool_arg_chars", 4000)))
    _wire.send_msg(chan.sock, {"op": "hello", "dir": msg["dir"], "uid": os.getuid()})
    _episode_loop(chan, ns, trusted, state, root, [str(msg["dir"])], landlock)


def _family(msg: dict, fd: int, init: dict) -> None:
    """The family init (forked from the zygote). Never returns."""
    chan = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)
    root = str(msg["root"])
    try:
        if init["namespaces"]:
            _oslayer.enter_family(SANDBOX_UID, SANDBOX_UID)
            if os.fork():
                os._exit(0)  # the child is pid 1 of the family's pid namespace
            _oslayer.mount_scratch(root, int(msg["scratch_bytes"]), int(msg["scratch_inodes"]))
            for path, size in (("/tmp", msg["tmp_bytes"]), ("/dev/shm", msg["shm_bytes"])):
                _oslayer.mount_tmpfs(path, int(size), int(msg["scratch_inodes"]), 0o1777)
            _oslayer.mount_tmpfs(
                "/dev/pts", 4096, 16, 0o755, readonly=True
            )  # /dev/ptmx allocates no host pty
        else:
            os.makedirs(root, mode=0o700, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(root, 1_000_000 + os.getpid(), 1_000_000 + os.getpid())
    except OSError as exc:
        _wire.send_msg(chan, {"op": "hello", "error": f"the kernel refused a sandbox layer: {exc}"})
        os._exit(1)
    for sig in (signal.SIGINT, signal.SIGXCPU):  # pid 1 ignores signals it has no handler for
        signal.signal(sig, signal.SIG_DFL)
    # reap at once: a killed SAG loser (an orphan once its parent worker is gone) counts against the episode's
    # process cap until reaped, so a next round of forks must not wait for a poll interval
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _wire.send_msg(chan, {"op": "hello", "root": root})
    spawned: list[int] = []
    while True:
        try:
            ready, _, _ = select.select([chan, wake_r], [], [], 1.0)
        except InterruptedError:
            ready = []
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            ready = [r for r in ready if r is chan]
        _episode.reap_exited()  # as pid 1 we inherit every orphan of the family
        if not ready:
            continue
        try:
            req = _wire.recv_msg(chan)
            new_fd = _wire.recv_fd(chan) if req["op"] == "spawn" else -1
        except (_wire.WireError, OSError):
            for pid in spawned:  # without a pid namespace (unsafe mode): best effort
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
            os._exit(0)
        if req["op"] == "spawn":
            try:
                pid = os.fork()
            except OSError:  # the host sees the episode's channel close
                os.close(new_fd)
                continue
            if pid == 0:
                chan.close()
                signal.set_wakeup_fd(-1)
                os.close(wake_r)
                os.close(wake_w)
                signal.signal(signal.SIGCHLD, signal.SIG_IGN)
                _start_episode(req, new_fd, init, root)
                os._exit(0)
            os.close(new_fd)
            spawned.append(pid)


def _zygote_setup(init: dict) -> dict:
    sys.path[:] = [p for p in init["sys_path"] if p]
    sys.dont_write_bytecode = True
    if not init["namespaces"]:
        _oslayer.set_pdeathsig(signal.SIGKILL)  # bubblewrap's --die-with-parent does this otherwise
    failed = []
    for mod in _presets.PRELOAD:
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001 - optional modules may be missing
            failed.append(mod)
    for sig, handler in _episode.EXPECTED.items():
        signal.signal(sig, handler)
    gc.collect()
    gc.freeze()  # preloaded objects leave the GC's view: forks do not copy their pages when a collection runs
    return {"uid": os.getuid(), "caps": _oslayer.capabilities(), "preload_failed": failed}


def main() -> None:
    zsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=int(sys.argv[1]))
    init = _wire.recv_msg(zsock)
    _wire.send_msg(zsock, {"op": "ready", **_zygote_setup(init)})
    while True:
        try:
            msg = _wire.recv_msg(zsock)
            fd = _wire.recv_fd(zsock) if msg["op"] == "family" else -1
        except (_wire.WireError, OSError):
            os._exit(0)
        if msg["op"] == "family":
            try:
                pid = os.fork()
            except OSError:
                os.close(fd)
                continue
            if pid == 0:
                zsock.close()
                _family(msg, fd, init)
                os._exit(0)
            os.close(fd)
        elif msg["op"] == "exit":
            os._exit(0)


if __name__ == "__main__":
    main()
