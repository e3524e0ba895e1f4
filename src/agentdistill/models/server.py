"""llama.cpp's own ``llama-server`` for many episodes at once on the CPU (continuous batching, slot cache).

Build: `agentdistill.models.server_build` (the pinned llama.cpp sources, the Makefile's non-native flags,
cached once per machine).

Run: `serve_model` starts ``llama-server`` on a free loopback port with ``--parallel`` slots, one unified KV
cache of ``parallel * n_ctx`` cells (``--kv-unified``: a SAG request with ``n`` samples shares the prompt's
cells) and a host-memory prompt cache (``--cache-ram``, llama.cpp PR 16391: a slot's KV state is saved to RAM
when another prompt takes the slot and restored when its prefix comes back), waits for ``/health``, writes the
server log into ``log_dir`` and stops the server when the ``with`` block ends, at interpreter exit (atexit)
and when this process dies (``PR_SET_PDEATHSIG`` on Linux).
`ServedLLM` drives it with the HTTP transport of the ``openai:`` backend (`agentdistill.llm.openai_http`);
every prompt is rendered client-side with the same template as the in-process backend and sent with
``cache_prompt: true``, so the server reuses the longest cached prefix of a slot (an episode's earlier turns).
llama-server honours ``n`` (up to ``parallel``): the ``n`` samples share one prefill. Any ``openai:`` client
can also use the server directly through ``served.spec`` (``/v1/completions``).

    with serve_model("qwen2.5-coder-0.5b", parallel=8, n_ctx=4096) as served:
        llm = load_llm(served.spec)  # 'openai:qwen2.5-coder-0.5b@http://127.0.0.1:PORT/v1'

or ``load_llm("server:qwen2.5-coder-0.5b", parallel=8)``: an LLM whose ``close()`` stops its server.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentdistill.llm.chat_template import render_prompt
from agentdistill.llm.openai_http import OpenAIHTTPLLM
from agentdistill.llm.types import (
    Completion,
    GenerationConfig,
    GenerationError,
    GenerationResult,
    Message,
    Usage,
)
from agentdistill.models.registry import ModelError, cache_dir, resolve_model
from agentdistill.models.server_build import ServerBinaries, ServerError, ensure_server_binaries

__all__ = [
    "ServedLLM",
    "ServedModel",
    "ServerBinaries",
    "ServerError",
    "ensure_server_binaries",
    "load_served_llm",
    "serve_model",
    "start_server",
]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the server may still lose a race for it: retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: deliver SIGTERM to the server when the thread that started it exits (PR_SET_PDEATHSIG = 1)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


@dataclass
class ServedModel:
    """A running llama-server. ``spec`` is the ``openai:`` model spec that reaches it."""

    name: str
    url: str  # http://127.0.0.1:PORT/v1
    parallel: int
    n_ctx: int  # per sequence; the server's KV cache holds parallel * n_ctx cells
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def spec(self) -> str:
        return f"openai:{self.name}@{self.url}"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout`` s); idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _wait_healthy(served: ServedModel, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                raise ServerError(
                    f"llama-server exited with code {served.process.returncode} while starting; "
                    f"log {served.log_path}: {_log_tail(served.log_path)}"
                )
            try:
                r = client.get(served.url.removesuffix("/v1") + "/health")
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
    served.stop()
    raise ServerError(f"llama-server not healthy after {timeout:.0f} s; log {served.log_path}")


# RAM (MiB) for llama-server's prompt cache by default (``start_server``'s ``prompt_cache_mib``; 0 disables it).
PROMPT_CACHE_MIB = 1024


def start_server(
    model: str,
    *,
    parallel: int = 8,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    n_batch: int = 512,
    lora_path: str | Path | None = None,
    log_dir: str | Path | None = None,
    name: str | None = None,
    startup_timeout: float = 300.0,
    prompt_cache_mib: int = PROMPT_CACHE_MIB,
    extra_args: tuple[str, ...] = (),
) -> ServedModel:
    """Start llama-server for ``model`` (embedded name or .gguf path) and wait until ``/health`` is ok.

    ``parallel``: slots (sequences decoded together); ``n_ctx``: tokens per sequence (prompt + completion);
    ``n_threads``: CPU threads (default: all cores); ``prompt_cache_mib``: RAM (MiB) for llama-server's
    prompt cache, 0 disables it. With it, prompts of two kinds that alternate on one slot each keep their
    prefix: a first-thought-prefix rollout sends a CoT request before each agent episode, which without it
    evicts the agent prompt, so the next episode prefills its whole system prompt again (measured in
    ``benchmarks/results/prompt_cache.json``). Idle slots are not cleared into it (``--no-cache-idle-slots``):
    with several slots each keeps its own cache as before. ``log_dir``: where ``llama-server-<name>-<port>.log``
    goes (default ``<cache_dir>/llama-server/logs``). The caller must `ServedModel.stop` it (`serve_model` does).
    """
    if parallel < 1 or n_ctx < 16 or prompt_cache_mib < 0:
        raise ServerError(
            f"parallel must be >= 1, n_ctx >= 16 and prompt_cache_mib >= 0, got parallel={parallel}, "
            f"n_ctx={n_ctx}, prompt_cache_mib={prompt_cache_mib}"
        )
    try:
        resolved = resolve_model(model)
    except ModelError as exc:
        raise ServerError(str(exc)) from exc
    if resolved.kind != "gguf":
        raise ServerError(f"llama-server needs a GGUF file or an embedded model name, got {model!r}")
    bins = ensure_server_binaries()
    name = name or (model if resolved.spec else resolved.path.stem)
    logs = Path(log_dir) if log_dir else cache_dir() / "llama-server" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = str(n_threads or os.cpu_count() or 1)
    last: ServerError | None = None
    for _ in range(3):  # the free port can be taken between free_port() and the server's bind
        port = free_port()
        log_path = logs / f"llama-server-{Path(name).name}-{port}.log"
        cmd = [
            str(bins.server),
            "-m",
            str(resolved.path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--alias",
            name,
            "-np",
            str(parallel),
            "-c",
            str(parallel * n_ctx),
            "--kv-unified",
            "-t",
            threads,
            "-tb",
            threads,
            "-b",
            str(n_batch),
            "-ub",
            str(n_batch),
            "--no-webui",
            "--cache-ram",
            str(prompt_cache_mib),
            "--no-cache-idle-slots",
            *extra_args,
        ]
        if lora_path:
            cmd += ["--lora", str(lora_path)]
        with open(log_path, "wb") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        served = ServedModel(name, f"http://127.0.0.1:{port}/v1", parallel, n_ctx, log_path, proc)
        atexit.register(served.stop)
        try:
            _wait_healthy(served, startup_timeout)
            return served
        except ServerError as exc:
            last = exc
            served.stop()
            if "bind" not in _log_tail(log_path, 40).lower():
                raise
    assert last is not None
    raise last


@contextlib.contextmanager
def serve_model(model: str, **options: Any) -> Iterator[ServedModel]:
    """``with serve_model(name, parallel=8, n_ctx=4096) as served: load_llm(served.spec)``; stops on exit.

    Options as `start_server`. Raises ServerError (naming the log) when the build or the start fails.
    """
    served = start_server(model, **options)
    try:
        yield served
    finally:
        served.stop()


# Seconds a request to the server this process owns may take. A reply comes only when the whole generation is
# done, so the HTTP backend's 120 s (meant for remote APIs) cut slow but healthy generations on a loaded 2-core
# CPU (384 tokens at 1.5 tok/s), and each retry began the generation again until the attempt failed. A dead
# server still fails at once (connection refused), a hung one after (retries + 1) times this long.
SERVED_TIMEOUT = 1800.0


class ServedLLM(OpenAIHTTPLLM):
    """The HTTP backend bound to a llama-server it owns (``close()`` also stops the server).

    Requests go to llama.cpp's native ``/completion`` (same transport, retries and concurrency bound as the
    ``openai:`` backend): it reports which stop string ended each sample, exact per-sample token counts and
    how many prompt tokens came from the slot's cache, which the OpenAI-compatible route does not. The prompt
    is the GGUF's chat template rendered client-side (as in-process) and the sampler chain is the in-process
    one (temperature, then top-p; no top-k / min-p), so greedy output matches the in-process backend.
    ``n`` samples share one prefill (llama-server's ``n_cmpl``); more than ``parallel`` are split into requests.
    A request may take ``SERVED_TIMEOUT`` seconds unless the caller sets ``timeout``.
    """

    FIELDS = [
        "index",
        "content",
        "stop_type",
        "stopping_word",
        "tokens_predicted",
        "tokens_evaluated",
        "timings",
    ]

    def __init__(self, served: ServedModel, **http_options: Any) -> None:
        http_options.setdefault("max_concurrency", max(16, 2 * served.parallel))
        http_options.setdefault("timeout", SERVED_TIMEOUT)
        base = served.url.removesuffix("/v1")
        props: dict[str, Any] = {}
        with contextlib.suppress(httpx.HTTPError, ValueError):
            props = httpx.get(base + "/props", timeout=10.0).json()
        if not http_options.get("chat_template"):  # the GGUF's own template, as the in-process backend uses
            http_options["chat_template"] = props.get("chat_template") or None
        super().__init__(served.name, [base], name=http_options.pop("name", served.name), **http_options)
        self._bos, self._eos = str(props.get("bos_token") or ""), str(props.get("eos_token") or "")
        self.served = served
        self._closed = threading.Lock()

    def _request(self, prompt: str, config: GenerationConfig, n: int, seed: int) -> dict[str, Any]:
        body = {
            "prompt": prompt,
            "n_predict": config.max_tokens,
            "n_cmpl": n,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "top_k": 0,
            "min_p": 0.0,
            "samplers": ["temperature", "top_p"],
            "stop": list(config.stop),
            "seed": seed,
            "cache_prompt": True,
            "response_fields": self.FIELDS,
            **self.extra_body,
        }
        data = self._post("/completion", body)
        return {"results": data if isinstance(data, list) else [data]}

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        t0 = time.perf_counter()
        prompt = render_prompt(self.chat_template, messages, prefix, bos_token=self._bos, eos_token=self._eos)
        seed = config.seed if config.seed is not None else random.getrandbits(31)
        sizes = [min(self.served.parallel, config.n - i) for i in range(0, config.n, self.served.parallel)]
        seeds = [seed + i * self.served.parallel for i in range(len(sizes))]
        if len(sizes) == 1:
            replies = [self._request(prompt, config, sizes[0], seeds[0])]
        else:
            futs = [
                self._pool.submit(self._request, prompt, config, k, sd)
                for k, sd in zip(sizes, seeds, strict=True)
            ]
            replies = [f.result() for f in futs]
        out: list[Completion] = []
        usage = Usage()
        for reply in replies:
            for r in sorted(reply["results"], key=lambda r: r.get("index", 0)):
                tokens = int(r.get("tokens_predicted") or 0)
                word = r.get("stopping_word") or None
                finish = "length" if r.get("stop_type") == "limit" else "stop"
                out.append(
                    Completion(
                        str(r.get("content") or ""), finish, tokens, word if word in config.stop else None
                    )
                )
                usage.completion_tokens += tokens
            first = reply["results"][0] if reply["results"] else {}
            timings = first.get("timings") or {}
            usage.prompt_tokens = int(first.get("tokens_evaluated") or 0)
            usage.cached_prompt_tokens = int(timings.get("cache_n") or 0)
            usage.prefill_seconds = max(usage.prefill_seconds, float(timings.get("prompt_ms") or 0) / 1000)
        if len(out) != config.n:
            raise GenerationError(
                f"llama-server at {self.served.url} returned {len(out)} samples, asked for {config.n}"
            )
        usage.seconds = time.perf_counter() - t0
        usage.decode_seconds = max(0.0, usage.seconds - usage.prefill_seconds)
        return GenerationResult(out, usage)

    def close(self) -> None:
        with self._closed:
            super().close()
            self.served.stop()


SERVER_OPTS = {
    "parallel",
    "n_ctx",
    "n_threads",
    "n_batch",
    "lora_path",
    "log_dir",
    "startup_timeout",
    "prompt_cache_mib",
}
SERVED_HTTP_OPTS = {"name", "timeout", "retries", "backoff", "chat_template", "max_concurrency", "extra_body"}


def load_served_llm(model: str, **options: Any) -> ServedLLM:
    """``load_llm("server:<model>", ...)``: start a server for ``model`` and return its LLM (close() stops it)."""
    bad = sorted(k for k in options if k not in SERVER_OPTS | SERVED_HTTP_OPTS)
    if bad:
        raise GenerationError(
            f"option(s) {', '.join(bad)} not supported by the server backend; allowed: "
            f"{', '.join(sorted(SERVER_OPTS | SERVED_HTTP_OPTS))}"
        )
    opts = {k: v for k, v in options.items() if v is not None}
    served = start_server(model, **{k: v for k, v in opts.items() if k in SERVER_OPTS})
    try:
        return ServedLLM(served, **{k: v for k, v in opts.items() if k in SERVED_HTTP_OPTS})
    except BaseException:
        served.stop()
        raise


if __name__ == "__main__":  # `python -m agentdistill.models.server`: build (or find) the cached binaries
    b = ensure_server_binaries()
    print(f"llama-server {b.server}\nllama-batched-bench {b.batched_bench}")
