"""Length-prefixed JSON messages over a unix stream socket (shared by host and worker).

Stdlib only: the worker imports this file as a top-level module before its guards go up.
Reads are exact (no read-ahead) so that a file descriptor sent right after a message with
SCM_RIGHTS arrives on the next byte. The host reads with a per-sandbox ``limit`` and a nesting cap, so an
oversized, malformed or deeply nested message is a :class:`WireError` (never an uncaught host exception), and
every string it hands on is valid Unicode: a lone surrogate (raw bytes or a JSON ``\\udc80`` escape) becomes U+FFFD
(a high+low pair, the character it stands for),
so output written with ``print('\\udc80')`` cannot crash host code that encodes it as UTF-8 (trajectory files, HTTP).
"""

from __future__ import annotations

import json
import socket
import struct
import time

MAX_MESSAGE = 64 * 1024 * 1024  # a peer announcing more than this is broken or hostile
MAX_DEPTH = 64  # JSON nesting deeper than this is refused before parsing (json.loads would recurse)
_HEADER = struct.Struct("!I")


class WireError(Exception):
    """The peer closed the channel or sent something that is not a valid message."""


def send_msg(sock: socket.socket, obj: object) -> None:
    data = json.dumps(obj, ensure_ascii=False, default=repr).encode("utf-8", "surrogatepass")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _until(sock: socket.socket, deadline: float | None) -> None:
    """Let the next receive wait only until ``deadline`` (``time.monotonic``); ``TimeoutError`` once it passed."""
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        sock.settimeout(left)


_CREDS = struct.calcsize("3i")


def _recv_exact(
    sock: socket.socket, n: int, deadline: float | None = None, sender: int | None = None
) -> bytes:
    """``n`` bytes; with ``sender``, each piece must carry that pid in SCM_CREDENTIALS (``SO_PASSCRED`` set on
    ``sock``: the kernel attaches the writer's pid to every piece and never joins two writers' bytes in one)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        _until(sock, deadline)  # a peer trickling one byte per timeout must not stretch the wait
        if sender is None:
            k = sock.recv_into(view[got:], n - got)
        else:
            k, anc, _, _ = sock.recvmsg_into([view[got:]], socket.CMSG_SPACE(_CREDS))
            pids = [
                struct.unpack("3i", data[:_CREDS])[0]
                for level, kind, data in anc
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= _CREDS
            ]
            if k and pids != [sender]:
                raise WireError(f"a message from another process (pid {pids[0] if pids else '?'})")
        if k == 0:
            raise WireError("channel closed")
        got += k
    return bytes(buf)


def _too_deep(data: bytes, limit: int) -> bool:
    """True if brackets nest deeper than ``limit`` (strings skipped); linear time, no recursion."""
    if data.count(b"[") + data.count(b"{") <= limit:  # fast path: not enough brackets to nest that deep
        return False
    depth, in_str, esc = 0, False, False
    for b in data:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif b in (0x5D, 0x7D):
            depth -= 1
    return False


def _clean(text: str) -> str:
    """``text`` made encodable as UTF-8: lone surrogates become U+FFFD (a high+low pair, its character)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 joins a high+low pair into its character and turns each lone surrogate into one U+FFFD
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _valid_text(obj: object) -> object:
    """``obj`` (fresh from ``json.loads``: no shared parts) with every string, dict keys too, made encodable as
    UTF-8, in place. Iterative, so no nesting depth can raise ``RecursionError`` (a ~600-deep fork ``hello`` did:
    docs/reviews/sandbox-2026-12-02.md, fault 2)."""
    if isinstance(obj, str):
        return _clean(obj)
    todo = [obj] if isinstance(obj, list | dict) else []
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            for i, x in enumerate(node):
                if isinstance(x, str):
                    node[i] = _clean(x)
                elif isinstance(x, list | dict):
                    todo.append(x)
        else:
            items = list(node.items())
            node.clear()
            for k, v in items:
                if isinstance(v, str):
                    v = _clean(v)
                elif isinstance(v, list | dict):
                    todo.append(v)
                node[_clean(k)] = v
    return obj


def recv_msg(
    sock: socket.socket,
    limit: int = MAX_MESSAGE,
    check_depth: bool = False,
    deadline: float | None = None,
    sender: int | None = None,
) -> dict:
    """Read one message; ``limit`` bytes at most. ``check_depth`` (the host reading a worker): refuse nesting
    deeper than MAX_DEPTH and replace lone surrogates in every string with U+FFFD. ``sender``: the only pid (as
    the kernel reports it to us) allowed to have written it. Raises :class:`WireError`; ``TimeoutError`` when the
    whole message has not arrived by ``deadline`` (``time.monotonic`` seconds)."""
    (n,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline, sender))
    if n > limit:
        raise WireError(f"message of {n} bytes exceeds the {limit}-byte limit")
    data = _recv_exact(sock, n, deadline, sender)
    if check_depth and _too_deep(data, MAX_DEPTH):
        raise WireError(f"invalid message: nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"invalid message: {type(exc).__name__}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
        raise WireError("invalid message: expected an object with an 'op' field")
    return _valid_text(obj) if check_depth else obj  # type: ignore[return-value]


def send_fd(sock: socket.socket, fd: int) -> None:
    socket.send_fds(sock, [b"F"], [fd])


def recv_fd(sock: socket.socket) -> int:
    _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    if len(fds) != 1:
        raise WireError("expected one file descriptor")
    return fds[0]


def recv_hello(
    sock: socket.socket, limit: int = 4096, deadline: float | None = None
) -> tuple[dict, int | None]:
    """Read a ``hello`` with the sender's pid as the kernel reports it in *our* pid namespace (by ``deadline``,
    ``time.monotonic`` seconds, or ``TimeoutError``).

    Needs ``SO_PASSCRED`` set on ``sock`` before the peer sends; the pid comes from SCM_CREDENTIALS, which the
    kernel fills in (a process without CAP_SYS_ADMIN cannot forge it), translated across pid namespaces.
    """
    size = struct.calcsize("3i")
    anc = socket.CMSG_SPACE(size)
    header, pid = b"", None
    while len(header) < _HEADER.size:
        _until(sock, deadline)
        data, ancdata, _, _ = sock.recvmsg(_HEADER.size - len(header), anc)
        if not data:
            raise WireError("channel closed")
        header += data
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(cdata) >= size:
                pid = struct.unpack("3i", cdata[:size])[0]
    (n,) = _HEADER.unpack(header)
    if n > limit:
        raise WireError(f"message of {n} bytes exceeds the {limit}-byte limit")
    data = _recv_exact(sock, n, deadline)
    if _too_deep(
        data, MAX_DEPTH
    ):  # a fork's hello comes after model code ran in it: as hostile as any message
        raise WireError(f"invalid message: nested deeper than {MAX_DEPTH} levels")
    try:
        obj = _valid_text(json.loads(data.decode("utf-8", "surrogatepass")))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"invalid message: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise WireError("invalid message: expected an object")
    return obj, pid  # type: ignore[return-value]
