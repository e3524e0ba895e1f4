"""In-process llama.cpp backend (the CPU default), driven through the low-level batch API.

Why low-level: the high-level ``Llama`` API has no ``n``. Here one prefill of the prompt (sequence 0)
is shared by ``n`` sequences (``llama_memory_seq_cp`` in a unified KV cache), which are then decoded
together, one batch of ``n`` tokens per step, each with its own sampler chain and stop strings.

KV reuse, exact only: greedy output must not depend on what the cache held before (issue 13 §5). Floating
point results depend on how a token's KV was computed (batch shape, cell layout), so a prompt is always
prefilled from a clean cache in fixed chunks of ``PREFILL_CHUNK`` tokens aligned at position 0, and a new
call keeps only the *whole chunks* its prompt shares with the last prompt (seq 0): those cells hold exactly
what a cold prefill of the new prompt would compute. Everything else — the partial last chunk, sampled
tokens (decoded one at a time), other sequences — is dropped and recomputed. In an agent loop a turn
therefore re-prefills at most one chunk plus its new tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import threading
import time
from pathlib import Path

import llama_cpp
from llama_cpp._internals import LlamaModel

from agentdistill.llm.chat_template import render_prompt
from agentdistill.llm.stops import find_stop
from agentdistill.llm.types import (
    Completion,
    ContextOverflowError,
    GenerationConfig,
    GenerationError,
    GenerationResult,
    Message,
    Usage,
)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class _Seq:
    """One sample being decoded: its sampler chain, tokens and decoded text."""

    def __init__(self, seq_id: int, sampler: llama_cpp.llama_sampler_p, stops: tuple[str, ...]) -> None:
        self.seq_id = seq_id
        self.sampler = sampler
        self.stops = stops
        self.tokens: list[int] = []  # sampled tokens (the last one may not be in the KV cache)
        self.decoded = 0  # how many of `tokens` were fed to llama_decode
        self.raw = bytearray()
        self.checked = 0
        self.done: Completion | None = None

    def text(self) -> str:
        return self.raw.decode("utf-8", errors="ignore")


class LlamaCppLLM:
    """A GGUF model in this process. Not thread-safe by itself: calls are serialised by a lock."""

    PREFILL_CHUNK = 128  # tokens per prefill batch, and the granularity of exact KV reuse

    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        max_parallel: int = 16,
        n_gpu_layers: int = 0,
        lora_path: str | None = None,
        chat_template: str | None = None,
        verbose: bool = False,
    ) -> None:
        from llama_cpp import _logger

        _logger.set_verbose(verbose)  # llama.cpp logs every context build to stderr otherwise
        path = Path(model_path)
        if not path.is_file():
            raise GenerationError(f"GGUF model file not found: {path}")
        self.name = name or path.stem
        self.model_path = path
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        try:
            self._model = LlamaModel(path_model=str(path), params=mparams, verbose=verbose)
        except ValueError as exc:
            raise GenerationError(f"llama.cpp could not load {path}: {exc}") from exc
        self._vocab = self._model.vocab
        threads = n_threads or os.cpu_count() or 1
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = max_parallel + 1  # seq 0 holds the prompt, 1..max_parallel the samples
        cparams.kv_unified = True  # all sequences share the n_ctx cells (prompt cells are shared, not copied)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model.model, cparams)
        if self._ctx is None:
            self._model.close()
            raise GenerationError(f"llama.cpp could not create a context (n_ctx={n_ctx}) for {path}")
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._lora = None
        if lora_path:
            self._lora = llama_cpp.llama_adapter_lora_init(self._model.model, str(lora_path).encode())
            if self._lora is None:
                raise GenerationError(f"llama.cpp could not load the LoRA adapter {lora_path}")
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._lora)
            scales = (ctypes.c_float * 1)(1.0)
            if llama_cpp.llama_set_adapters_lora(self._ctx, adapters, 1, scales):
                raise GenerationError(f"llama.cpp could not apply the LoRA adapter {lora_path}")
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self.n_batch = llama_cpp.llama_n_batch(self._ctx)  # llama.cpp may clamp it to n_ctx
        self.max_parallel = max_parallel
        meta = self._model.metadata()
        self.chat_template = chat_template or meta.get("tokenizer.chat_template")
        self._bos_id = self._model.token_bos()
        self._bos = self._piece(self._bos_id, special=True) if self._bos_id >= 0 else ""
        eos = self._model.token_eos()
        self._eos = self._piece(eos, special=True) if eos >= 0 else ""
        self._add_bos = self._model.add_bos_token()
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, max_parallel), 0, 1)
        self._cache: dict[int, list[int]] = {}  # seq id -> tokens in the KV cache for it
        self._lock = threading.Lock()
        self._closed = False

    # -- text <-> tokens -------------------------------------------------------------------------
    def _piece(self, token: int, special: bool = False) -> str:
        return self._piece_bytes(token, special).decode("utf-8", errors="ignore")

    def _piece_bytes(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def tokenize(self, text: str) -> list[int]:
        add_bos = self._add_bos and not (self._bos and text.startswith(self._bos))
        return self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def render(self, messages: list[Message], prefix: str = "") -> str:
        """The exact prompt text: chat template with the generation prompt, then the raw prefix."""
        return render_prompt(self.chat_template, messages, prefix, bos_token=self._bos, eos_token=self._eos)

    # -- low-level decode --------------------------------------------------------------------------
    def _decode(self, items: list[tuple[int, int, int, bool]]) -> None:
        """Decode (token, pos, seq_id, want_logits) items as one batch."""
        b = self._batch
        b.n_tokens = len(items)
        for i, (tok, pos, seq, logits) in enumerate(items):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        rc = llama_cpp.llama_decode(self._ctx, b)
        if rc != 0:
            self._reset_cache()
            error = ContextOverflowError if rc == 1 else GenerationError
            raise error(
                f"llama_decode failed (code {rc}{': KV cache full, raise n_ctx' if rc == 1 else ''}; "
                f"n_ctx={self.n_ctx}, model {self.name})"
            )

    def _reset_cache(self) -> None:
        llama_cpp.llama_memory_clear(self._mem, True)
        self._cache = {}

    def _prepare_prompt(self, prompt: list[int]) -> int:
        """Make seq 0 hold ``prompt[:k]`` for the largest *exactly* reusable k; drop all other seqs. Returns k.

        k is a multiple of the prefill chunk within the prefix shared with the last prompt, and below
        ``len(prompt)`` (the last prompt token is always decoded: we need its logits). Cells of sampled
        tokens are never reused: they were computed in another batch shape than a prefill would use.
        """
        chunk = self._prefill_chunk()
        common = _common_prefix(self._cache.get(0, []), prompt)
        keep = (min(common, len(prompt) - 1) // chunk) * chunk
        for seq in range(1, self.max_parallel + 1):
            llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
        if keep == 0 or not llama_cpp.llama_memory_seq_rm(self._mem, 0, keep, -1):
            self._reset_cache()
            keep = 0
        self._cache = {0: prompt[:keep]} if keep else {}
        return keep

    def _prefill_chunk(self) -> int:
        return max(1, min(self.n_batch, self.PREFILL_CHUNK))

    def _prefill(self, prompt: list[int], start: int) -> None:
        """Decode ``prompt[start:]`` into seq 0 in chunks aligned at multiples of the prefill chunk."""
        chunk = self._prefill_chunk()
        for lo in range(start, len(prompt), chunk):
            hi = min(lo - lo % chunk + chunk, len(prompt))
            self._decode([(prompt[p], p, 0, p == len(prompt) - 1) for p in range(lo, hi)])
        self._cache[0] = list(prompt)

    def _sampler(self, config: GenerationConfig, seed: int) -> llama_cpp.llama_sampler_p:
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if config.temperature <= 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        else:  # temperature first, then top-p on the tempered distribution (as HF and vLLM do)
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(config.temperature))
            if config.top_p < 1.0:
                llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(config.top_p, 1))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _accept(self, s: _Seq, tok: int, max_tokens: int) -> None:
        """Record a sampled token and decide whether the sequence is finished."""
        s.tokens.append(tok)
        if llama_cpp.llama_vocab_is_eog(self._vocab, tok):
            s.done = Completion(s.text(), "stop", len(s.tokens), None)
            return
        s.raw += self._piece_bytes(tok)
        text = s.text()
        hit = find_stop(text, s.stops, s.checked)
        s.checked = len(text)
        if hit is not None:
            s.done = Completion(text[: hit[0]], "stop", len(s.tokens), hit[1])
        elif len(s.tokens) >= max_tokens:
            s.done = Completion(s.raw.decode("utf-8", errors="replace"), "length", len(s.tokens), None)

    def _run_wave(self, prompt_len: int, seqs: list[_Seq], max_tokens: int) -> None:
        """Sample the first token of every seq from the prompt logits, then decode them together."""
        for s in seqs:
            llama_cpp.llama_memory_seq_cp(self._mem, 0, s.seq_id, -1, -1)
            self._accept(s, llama_cpp.llama_sampler_sample(s.sampler, self._ctx, -1), max_tokens)
        while True:
            active = [s for s in seqs if s.done is None]
            if not active:
                return
            items = [(s.tokens[-1], prompt_len + len(s.tokens) - 1, s.seq_id, True) for s in active]
            self._decode(items)
            for i, s in enumerate(active):
                s.decoded = len(s.tokens)
                self._accept(s, llama_cpp.llama_sampler_sample(s.sampler, self._ctx, i), max_tokens)

    # -- public API ----------------------------------------------------------------------------------
    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        if self._closed:
            raise GenerationError(f"{self.name}: generate() after close()")
        if config.n < 1 or config.max_tokens < 1:
            raise GenerationError(
                f"n and max_tokens must be >= 1 (got n={config.n}, max_tokens={config.max_tokens})"
            )
        with self._lock:
            return self._generate(messages, config, prefix)

    def _generate(self, messages: list[Message], config: GenerationConfig, prefix: str) -> GenerationResult:
        t0 = time.perf_counter()
        prompt = self.tokenize(self.render(messages, prefix))
        if len(prompt) + config.max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"prompt of {len(prompt)} tokens + max_tokens {config.max_tokens} exceeds n_ctx {self.n_ctx} "
                f"of {self.name}; shorten the conversation or load with a larger n_ctx"
            )
        cached = self._prepare_prompt(prompt)
        self._prefill(prompt, cached)
        t1 = time.perf_counter()
        seed = config.seed if config.seed is not None else random.getrandbits(32)
        stops = tuple(config.stop)
        greedy = config.temperature <= 0
        n_distinct = 1 if greedy else config.n  # greedy samples are identical: decode one, copy it
        per_wave = max(1, min(self.max_parallel, (self.n_ctx - len(prompt)) // config.max_tokens))
        completions: list[Completion] = []
        last: list[_Seq] = []
        for lo in range(0, n_distinct, per_wave):
            if last:  # free the previous wave's cells before the next one
                for s in last:
                    llama_cpp.llama_memory_seq_rm(self._mem, s.seq_id, -1, -1)
            count = min(per_wave, n_distinct - lo)
            seqs = [_Seq(1 + j, self._sampler(config, seed + lo + j), stops) for j in range(count)]
            try:
                self._run_wave(len(prompt), seqs, config.max_tokens)
            finally:
                for s in seqs:
                    llama_cpp.llama_sampler_free(s.sampler)
            completions += [s.done for s in seqs if s.done is not None]
            last = seqs
        if greedy and config.n > 1:
            c = completions[0]
            completions = [
                Completion(c.text, c.finish_reason, c.tokens, c.stop_string) for _ in range(config.n)
            ]
        t2 = time.perf_counter()
        usage = Usage(
            prompt_tokens=len(prompt),
            cached_prompt_tokens=cached,
            completion_tokens=sum(c.tokens for c in completions),
            prefill_seconds=t1 - t0,
            decode_seconds=t2 - t1,
            seconds=t2 - t0,
        )
        return GenerationResult(completions, usage)

    def reset(self) -> None:
        """Forget the KV cache (the next call prefills its whole prompt)."""
        with self._lock:
            self._reset_cache()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        llama_cpp.llama_batch_free(self._batch)
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if self._lora is not None:
            llama_cpp.llama_adapter_lora_free(self._lora)
        self._model.close()

    def __enter__(self) -> LlamaCppLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        with contextlib.suppress(Exception):
            self.close()
