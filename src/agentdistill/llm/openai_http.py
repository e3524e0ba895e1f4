"""OpenAI-compatible HTTP backend (vLLM, SGLang, llama.cpp server, OpenAI) over several endpoints.

- Balancing: each request goes to the endpoint with the fewest requests in flight (ties round-robin);
  an endpoint that just failed is avoided for a few seconds.
- Bounded concurrency (a semaphore over all endpoints), retries with exponential backoff on connect
  errors, timeouts, 5xx and 429; an endpoint that never answers gives a GenerationError naming its URL.
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
from agentdistill.llm.stops import truncate_at_stop
from agentdistill.llm.types import (
    Completion,
    ContextOverflowError,
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

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with balancing, the concurrency bound and retries; return the decoded JSON."""
        errors: list[str] = []
        with self._sem:
            for attempt in range(self.retries + 1):
                ep = self._pick()
                url = ep.url + path
                try:
                    resp = self._client.post(url, json=body)
                except httpx.TransportError as exc:  # connect refused, timeouts, dropped connections
                    errors.append(f"{url}: {type(exc).__name__}: {exc}")
                    self._failed(ep)
                else:
                    if resp.status_code < 400:
                        with ep.lock:
                            ep.in_flight -= 1
                            ep.requests += 1
                        try:
                            return resp.json()
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
        raise GenerationError(
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
                data = self._client.get(ep.url + "/models").json()
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

    def _parse(
        self, data: dict[str, Any], config: GenerationConfig
    ) -> tuple[list[Completion], dict[str, Any]]:
        out = []
        for ch in sorted(data.get("choices") or [], key=lambda c: c.get("index", 0)):
            text = ch.get("text")
            if text is None:
                text = (ch.get("message") or {}).get("content") or ""
            text, hit = truncate_at_stop(text, config.stop)  # servers differ in whether they strip stops
            reason = ch.get("stop_reason")
            stop_string = hit or (reason if isinstance(reason, str) and reason in config.stop else None)
            finish = "length" if ch.get("finish_reason") == "length" else "stop"
            out.append(Completion(text, finish, 0, stop_string))
        usage = data.get("usage") or {}
        if len(out) == 1:
            out[0].tokens = int(usage.get("completion_tokens") or 0)
        return out, usage

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        t0 = time.perf_counter()
        completions_api = bool(prefix) and not self._use_chat_continue()
        seed = config.seed
        path, body = self._body(messages, config, prefix, config.n, seed, completions_api)
        got, usage = self._parse(self._post(path, body), config)
        if prefix and not completions_api and got and got[0].text.startswith(prefix):
            got = [Completion(c.text[len(prefix) :], c.finish_reason, c.tokens, c.stop_string) for c in got]
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        missing = config.n - len(got)
        if missing > 0:  # server dropped `n`: top up with concurrent single-sample requests
            base = seed if seed is not None else random.getrandbits(31)
            futs = []
            for i in range(len(got), config.n):
                p, b = self._body(messages, config, prefix, 1, base + i, completions_api)
                futs.append(self._pool.submit(self._post, p, b))
            for f in futs:
                extra, u = self._parse(f.result(), config)
                got += extra[:1]
                completion_tokens += int(u.get("completion_tokens") or 0)
        t1 = time.perf_counter()
        return GenerationResult(
            got[: config.n],
            Usage(
                prompt_tokens=prompt_tokens,
                cached_prompt_tokens=cached,
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
