"""transformers backend: HF dirs, hub ids and embedded GGUFs (dequantized once into the cache).

For trained students and GPUs. ``n`` samples are drawn in one batched ``generate``; the prompt is
prefilled once (batch 1) and its KV cache repeated ``n`` times, instead of prefilling ``n`` copies.
"""

from __future__ import annotations

import threading
import time
from typing import Any

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


class TransformersLLM:
    """A causal LM run by transformers (CPU by default, CUDA when available).

    ``target`` is a ready HF model dir or hub id; resolving embedded names and GGUF files is `models`' job
    (`agentdistill.models.load_llm`).
    """

    def __init__(
        self,
        target: str,
        *,
        name: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        lora_path: str | None = None,
        chat_template: str | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if n_threads:
            torch.set_num_threads(n_threads)
        self.name = name or target
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path = target
        torch_dtype: Any = (
            getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device != "cpu" else torch.float32)
        )
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(self.device)
        except (OSError, ValueError) as exc:
            raise GenerationError(f"transformers could not load {target!r} ({path}): {exc}") from exc
        if lora_path:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, lora_path).merge_and_unload()
        self.model.eval()
        if chat_template:
            self.tokenizer.chat_template = chat_template
        if self.tokenizer.chat_template is None:
            from agentdistill.llm.chat_template import CHATML_TEMPLATE

            self.tokenizer.chat_template = CHATML_TEMPLATE
        self.n_ctx = n_ctx or getattr(self.model.config, "max_position_embeddings", 4096)
        self._pad = self.tokenizer.pad_token_id
        if self._pad is None:
            self._pad = self.tokenizer.eos_token_id
        self._lock = threading.Lock()

    def render(self, messages: list[Message], prefix: str = "") -> str:
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # jinja errors, bad roles
            raise GenerationError(f"chat template failed to render the messages: {exc}") from exc
        return text + prefix

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise GenerationError(f"message {i} must be a dict with 'role' and 'content', got {m!r:.120}")
        with self._lock:
            return self._generate(messages, config, prefix)

    def _generate(self, messages: list[Message], config: GenerationConfig, prefix: str) -> GenerationResult:
        import torch

        t0 = time.perf_counter()
        ids = self.tokenizer(self.render(messages, prefix), return_tensors="pt", add_special_tokens=False)
        input_ids = ids["input_ids"].to(self.device)
        plen = input_ids.shape[1]
        if plen + config.max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"prompt of {plen} tokens + max_tokens {config.max_tokens} exceeds {self.n_ctx}"
            )
        if config.seed is not None:
            torch.manual_seed(config.seed)
        n = config.n
        kwargs: dict[str, Any] = {
            "max_new_tokens": config.max_tokens,
            "do_sample": config.temperature > 0,
            "pad_token_id": self._pad,
        }
        if config.temperature > 0:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
        if config.stop:
            kwargs.update(stop_strings=list(config.stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            past = None
            if plen > 1:  # prefill the prompt once, then share its KV cache across the n rows
                out = self.model(input_ids[:, :-1], use_cache=True)
                past = out.past_key_values
                if n > 1:
                    past.batch_repeat_interleave(n)
            t1 = time.perf_counter()
            seqs = self.model.generate(
                input_ids=input_ids.repeat(n, 1),
                attention_mask=torch.ones((n, plen), dtype=torch.long, device=self.device),
                past_key_values=past,
                **kwargs,
            )
        t2 = time.perf_counter()
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        completions = []
        for row in seqs[:, plen:].tolist():
            toks = []
            for t in row:
                toks.append(t)
                if t in eos_ids:
                    break
            while toks and toks[-1] == self._pad and self._pad not in eos_ids:
                toks.pop()
            text = self.tokenizer.decode(toks, skip_special_tokens=True)
            text, hit = truncate_at_stop(text, config.stop)
            ended = hit is not None or (toks and toks[-1] in eos_ids)
            finish = "stop" if ended or len(toks) < config.max_tokens else "length"
            completions.append(Completion(text, finish, len(toks), hit))
        usage = Usage(prompt_tokens=plen, cached_prompt_tokens=0,
                      completion_tokens=sum(c.tokens for c in completions),
                      prefill_seconds=t1 - t0, decode_seconds=t2 - t1, seconds=t2 - t0)  # fmt: skip
        return GenerationResult(completions, usage)

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]

    def __enter__(self) -> TransformersLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["TransformersLLM"]
