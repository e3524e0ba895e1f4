"""Real servers on loopback for tests: a free port, llama-cpp-python's OpenAI-compatible server, a FastAPI app in a
thread, a scripted HTTP server that answers as told (bad bodies, a trickle of bytes). Importable from any test
module (tests/ is on sys.path through tests/conftest.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_server(gguf: Path, log: Path, timeout: float = 90) -> tuple[subprocess.Popen, str]:
    """A real OpenAI-compatible server (llama-cpp-python's) on 127.0.0.1; returns (process, .../v1 URL).

    Raises RuntimeError with the log's tail when it exits or does not answer ``/models`` within ``timeout`` s."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"]  # fmt: skip
    with open(log, "wb") as fh:  # the child keeps its own handle
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"llama_cpp.server did not come up on {url}")


@contextlib.contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a daemon thread on a free port; yields ``http://127.0.0.1:PORT``."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Scripted:
    """One scripted answer: ``body`` is sent as is (bytes or str) or as JSON (anything else); ``trickle`` > 0
    sends the body one byte every ``trickle`` seconds after the headers; ``headers`` are added."""

    body: Any = b""
    status: int = 200
    trickle: float = 0.0
    headers: dict[str, str] | None = None


@contextlib.contextmanager
def scripted_server(answer: Callable[[str, str, Any], Scripted]) -> Iterator[str]:
    """A real HTTP/1.1 server (http.server, threaded) on a free loopback port: each request gets
    ``answer(method, path, json_body_or_None)``. Yields ``http://127.0.0.1:PORT``; closed (connections then
    refused) on exit."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _serve(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
            reply = answer(self.command, self.path, payload)
            body = reply.body
            if not isinstance(body, bytes | str):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (reply.headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            try:
                if reply.trickle <= 0:
                    self.wfile.write(data)
                    return
                self.wfile.flush()
                for i in range(len(data)):
                    time.sleep(reply.trickle)
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
            except OSError:  # the client gave up
                self.close_connection = True

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def chat_reply(text: str, **usage: int) -> dict[str, Any]:
    """A well-formed /chat/completions reply with one choice (``usage`` counts optional)."""
    return {
        "id": "c",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, **usage},
    }
