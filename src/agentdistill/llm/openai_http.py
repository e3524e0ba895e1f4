"""OpenAI-compatible HTTP backend (vLLM, SGLang, llama.cpp server, OpenAI) over several endpoints.

- Balancing: each request goes to the endpoint with the fewest requests in flight (ties round-robin);
  an endpoint that just failed is avoided for a few seconds.
- Bounded concurrency (a semaphore over all endpoints), retries with exponential backoff on connect
  errors, timeouts, 5xx and 429; an endpoint that never answers gives a GenerationError naming its URL
  (an `EndpointUnreachableError` when no attempt could even connect).
- ``timeout`` bounds each attempt as a whole, not each read: a server that trickles bytes is cut off like one
  that stalls (``ReadTimeout``, retried). Connecting takes at most ``min(10, timeout)`` s; the wait for the
  response headers and then the whole body must each end within ``timeout`` s of the attempt's start (a server
  that trickles its header bytes one by one is bounded per read only).
- A 200 whose body is not a completion reply (an ``error`` object, no ``choices``, wrong types) is a
  GenerationError naming the URL and the problem (`agentdistill.llm.openai_wire`), not retried.
- ``n``: sent as is; servers that return fewer choices (llama.cpp's server drops ``n``) are topped up by
  concurrent single-sample requests with distinct seeds (seed+i), so callers always get ``n``.
- Prefix continuation (``prefix_mode``):
  ``chat``: the prefix goes as a final assistant message with ``continue_final_message: true,
  add_generation_prompt: false`` (vLLM / SGLang extension);
  ``completions``: the prompt is rendered client-side with ``chat_template`` (default ChatML, the template
  of all embedded models) and sent to ``/v1/completions`` (works on vLLM, SGLang and llama.cpp server);
  ``auto`` (default): ``chat`` when ``/v1/models`` says the server is vLLM or SGLang, else ``completions``.
  llama.cpp's server silently ignores ``continue_final_message`` (it closes the assistant turn and starts
  a new one), which is why ``auto`` never uses ``chat`` there.
- ``extra_body`` is merged into every request (e.g. ``{"cache_prompt": True}`` for llama.cpp's per-slot prompt
  cache). The managed llama-server (`agentdistill.models.server.ServedLLM`) reuses this transport.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from agentdistill.llm.chat_template import render_chat
from agentdistill.llm.openai_wire import Reply, parse_reply
from agentdistill.llm.types import (
    Completion,
    ContextOverflowError,
    EndpointUnreachableError,
    GenerationConfig,
    GenerationError,
    GenerationResult,
    Message,
    Usage,
)

RETRY_STATUS = {429, 500, 502, 503, 504}
# a 400 that says the request does not fit the context: llama-server ("exceeds the available context size",
# type exceed_context_size_error), OpenAI (code context_length_exceeded), vLLM ("maximum context length")
_CONTEXT_OVERFLOW = re.compile(
    r"exceeds? the available context|exceed_context_size|context_length_exceeded|maximum context length",
    re.IGNORECASE,
)
NO_CONNECTION = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
)  # refused, unknown host, no route: nothing was sent
CHECK_TIMEOUT = 10.0  # s, at most, for the GET /models of `check_reachable` and the server-kind probe


@dataclass
class Endpoint:
    url: str
    in_flight: int = 0
    requests: int = 0  # requests answered successfully
    failures: int = 0
    avoid_until: float = 0.0
    server: str | None = None  # `owned_by` from /v1/models, probed once
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class OpenAIHTTPLLM:
    """A model behind one or more OpenAI-compatible servers."""

    thread_safe = True  # one shared httpx client + semaphore: callers may run many episodes in threads

    def __init__(
        self,
        model: str,
        endpoints: list[str],
        *,
        name: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        prefix_mode: Literal["auto", "chat", "completions"] = "auto",
        chat_template: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not endpoints:
            raise GenerationError("openai backend needs at least one endpoint URL")
        for u in endpoints:
            if not u.startswith(("http://", "https://")):
                raise GenerationError(f"endpoint must be an http(s) URL ending in /v1, got {u!r}")
        if prefix_mode not in ("auto", "chat", "completions"):
            raise GenerationError(f"prefix_mode must be auto, chat or completions, got {prefix_mode!r}")
        self.model = model
        self.name = name or model
        self.endpoints = [Endpoint(u.rstrip("/")) for u in endpoints]
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.prefix_mode = prefix_mode
        self.chat_template = chat_template
        self.extra_body = dict(extra_body or {})
        self._sem = threading.BoundedSemaphore(max_concurrency)
        self._rr = itertools.count()
        self._pick_lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers=headers,
            limits=httpx.Limits(max_connections=max_concurrency * 2),
        )
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="openai-http")

    # -- transport -------------------------------------------------------------------------------
    def _pick(self) -> Endpoint:
        with self._pick_lock:
            now, start = time.monotonic(), next(self._rr)
            order = (
                self.endpoints[start % len(self.endpoints) :] + self.endpoints[: start % len(self.endpoints)]
            )
            healthy = [e for e in order if e.avoid_until <= now] or order
            ep = min(healthy, key=lambda e: e.in_flight)
            ep.in_flight += 1
            return ep

    def _fetch(
        self, method: str, url: str, body: dict[str, Any] | None = None, timeout: float | None = None
    ) -> httpx.Response:
        """One HTTP exchange whose answer must be complete within ``timeout`` s (default: the backend's) of its
        start: the body is streamed and the deadline checked at every chunk, so a trickle ends in
        ``httpx.ReadTimeout`` as a stall does. Raises httpx.TransportError (and httpx.DecodingError)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._client.stream(
            method, url, json=body, timeout=httpx.Timeout(limit, connect=min(10.0, limit))
        ) as resp:
            raw = bytearray()
            for chunk in resp.iter_raw():
                raw += chunk
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"answer not complete after the {limit:g} s timeout ({len(raw)} bytes so far)",
                        request=resp.request,
                    )
            # a complete Response (.text, .json()), content-encoding decoded
            return httpx.Response(
                resp.status_code, headers=resp.headers, content=bytes(raw), request=resp.request
            )

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST with balancing, the concurrency bound and retries; return the decoded JSON."""
        return self._exchange(path, body)[1]

    def _exchange(self, path: str, body: dict[str, Any]) -> tuple[str, Any]:
        """POST with balancing, the concurrency bound and retries; return (the URL that answered, its JSON).

        Raises ContextOverflowError (HTTP 400 saying the request does not fit), GenerationError (another 4xx,
        a body that is not JSON, or no answer after every attempt), EndpointUnreachableError (no attempt could
        connect)."""
        errors: list[str] = []
        connected = False  # some attempt reached a server (an HTTP status, or a timeout after connecting)
        with self._sem:
            for attempt in range(self.retries + 1):
                ep = self._pick()
                url = ep.url + path
                try:
                    resp = self._fetch("POST", url, body)
                except httpx.TransportError as exc:  # connect refused, timeouts, dropped connections
                    errors.append(f"{url}: {type(exc).__name__}: {exc}")
                    connected = connected or not isinstance(exc, NO_CONNECTION)
                    self._failed(ep)
                except httpx.DecodingError as exc:  # e.g. a body that claims gzip and is not
                    self._failed(ep)
                    raise GenerationError(f"{url}: response body could not be decoded: {exc}") from exc
                else:
                    connected = True
                    if resp.status_code < 400:
                        with ep.lock:
                            ep.in_flight -= 1
                            ep.requests += 1
                        try:
                            return url, resp.json()
                        except ValueError as exc:
                            raise GenerationError(
                                f"{url}: response is not JSON: {resp.text[:200]!r}"
                            ) from exc
                    if resp.status_code == 400 and _CONTEXT_OVERFLOW.search(resp.text):
                        with ep.lock:  # the request's fault, not the endpoint's: it stays in rotation
                            ep.in_flight -= 1
                        raise ContextOverflowError(
                            f"request does not fit the context of {url} (HTTP 400): {resp.text[:500]}"
                        )
                    errors.append(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
                    self._failed(ep)
                    if resp.status_code not in RETRY_STATUS:
                        raise GenerationError(
                            f"request rejected by {url} (HTTP {resp.status_code}): {resp.text[:500]}"
                        )
                if attempt < self.retries:
                    time.sleep(self.backoff * 2**attempt)
        error = GenerationError if connected else EndpointUnreachableError
        raise error(
            f"no answer from {', '.join(e.url for e in self.endpoints)} after {self.retries + 1} attempts; "
            f"last errors: {' | '.join(errors[-3:])}"
        )

    def check_reachable(self) -> None:
        """GET ``/models`` until some endpoint answers (any HTTP status counts, so do timeouts after connecting),
        with the requests' retries and backoff.

        Raises EndpointUnreachableError naming every endpoint when no attempt could connect."""
        errors: list[str] = []
        for attempt in range(self.retries + 1):
            for ep in self.endpoints:
                try:
                    self._fetch("GET", ep.url + "/models", timeout=min(CHECK_TIMEOUT, self.timeout))
                    return
                except NO_CONNECTION as exc:
                    errors.append(f"{ep.url}: {type(exc).__name__}: {exc}")
                except (httpx.TransportError, httpx.DecodingError):
                    return  # it accepted the connection: up, if slow or odd
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise EndpointUnreachableError(
            f"no answer from {', '.join(e.url for e in self.endpoints)} after {self.retries + 1} attempts; "
            f"last errors: {' | '.join(errors[-3:])}"
        )

    def _failed(self, ep: Endpoint) -> None:
        with ep.lock:
            ep.in_flight -= 1
            ep.failures += 1
            ep.avoid_until = time.monotonic() + 5.0

    def _server_kind(self) -> str:
        ep = self.endpoints[0]
        if ep.server is None:
            try:
                data = self._fetch("GET", ep.url + "/models", timeout=min(CHECK_TIMEOUT, self.timeout)).json()
                ep.server = str((data.get("data") or [{}])[0].get("owned_by", "")).lower()
            except (httpx.HTTPError, ValueError, AttributeError, IndexError):
                ep.server = ""
        return ep.server

    def _use_chat_continue(self) -> bool:
        if self.prefix_mode != "auto":
            return self.prefix_mode == "chat"
        return self._server_kind() in {"vllm", "sglang"}

    # -- requests --------------------------------------------------------------------------------
    def _body(self, messages: list[Message], config: GenerationConfig, prefix: str, n: int, seed: int | None,
              completions: bool) -> tuple[str, dict[str, Any]]:  # fmt: skip
        body: dict[str, Any] = {"model": self.model, "max_tokens": config.max_tokens, "n": n,
                                "temperature": config.temperature, "top_p": config.top_p,
                                **self.extra_body}  # fmt: skip
        if config.stop:
            body["stop"] = list(config.stop)
        if seed is not None:
            body["seed"] = seed
        if completions:
            body["prompt"] = render_chat(self.chat_template, messages, add_generation_prompt=True) + prefix
            return "/completions", body
        msgs = list(messages)
        if prefix:
            msgs.append({"role": "assistant", "content": prefix})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        body["messages"] = msgs
        return "/chat/completions", body

    def _request(self, path: str, body: dict[str, Any]) -> Reply:
        """POST ``body`` and check that the answer is a completion reply (raises GenerationError naming the URL)."""
        url, data = self._exchange(path, body)
        return parse_reply(data, url)

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        """``config.n`` completions of ``messages`` (continuing ``prefix``).

        Raises GenerationError (no answer, a rejected request, a body that is not a completion reply),
        EndpointUnreachableError (no endpoint accepted a connection) or ContextOverflowError."""
        t0 = time.perf_counter()
        completions_api = bool(prefix) and not self._use_chat_continue()
        seed = config.seed
        path, body = self._body(messages, config, prefix, config.n, seed, completions_api)
        reply = self._request(path, body)
        got = reply.completions(config.stop)
        if prefix and not completions_api and got[0].text.startswith(prefix):
            got = [Completion(c.text[len(prefix) :], c.finish_reason, c.tokens, c.stop_string) for c in got]
        completion_tokens = reply.completion_tokens
        missing = config.n - len(got)
        if missing > 0:  # server dropped `n`: top up with concurrent single-sample requests
            base = seed if seed is not None else random.getrandbits(31)
            futs = []
            for i in range(len(got), config.n):
                p, b = self._body(messages, config, prefix, 1, base + i, completions_api)
                futs.append(self._pool.submit(self._request, p, b))
            for f in futs:
                extra = f.result()
                got += extra.completions(config.stop)[:1]
                completion_tokens += extra.completion_tokens
        t1 = time.perf_counter()
        return GenerationResult(
            got[: config.n],
            Usage(
                prompt_tokens=reply.prompt_tokens,
                cached_prompt_tokens=reply.cached_prompt_tokens,
                completion_tokens=completion_tokens,
                decode_seconds=t1 - t0,
                seconds=t1 - t0,
            ),  # fmt: skip
        )

    def stats(self) -> dict[str, dict[str, int]]:
        """Per-endpoint counts of answered and failed requests (for load-balancing checks and logs)."""
        return {e.url: {"requests": e.requests, "failures": e.failures} for e in self.endpoints}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> OpenAIHTTPLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
