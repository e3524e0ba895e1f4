"""Length-prefixed JSON messages over a unix stream socket (shared by host and worker).

Stdlib only: the worker imports this file as a top-level module before its guards go up.
Reads are exact (no read-ahead) so that a file descriptor sent right after a message with
SCM_RIGHTS arrives on the next byte.
"""

from __future__ import annotations

import json
import socket
import struct

MAX_MESSAGE = 64 * 1024 * 1024  # a peer announcing more than this is broken or hostile
_HEADER = struct.Struct("!I")


class WireError(Exception):
    """The peer closed the channel or sent something that is not a valid message."""


def send_msg(sock: socket.socket, obj: object) -> None:
    data = json.dumps(obj, ensure_ascii=False, default=repr).encode("utf-8", "surrogatepass")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise WireError("channel closed")
        got += k
    return bytes(buf)


def recv_msg(sock: socket.socket) -> dict:
    (n,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if n > MAX_MESSAGE:
        raise WireError(f"message of {n} bytes exceeds the {MAX_MESSAGE}-byte limit")
    try:
        obj = json.loads(_recv_exact(sock, n).decode("utf-8", "surrogatepass"))
    except ValueError as exc:
        raise WireError(f"invalid message: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
        raise WireError("invalid message: expected an object with an 'op' field")
    return obj


def send_fd(sock: socket.socket, fd: int) -> None:
    socket.send_fds(sock, [b"F"], [fd])


def recv_fd(sock: socket.socket) -> int:
    _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    if len(fds) != 1:
        raise WireError("expected one file descriptor")
    return fds[0]
