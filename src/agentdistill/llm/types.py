"""The one generation interface every other part uses.

Messages are OpenAI-style chat dicts. A call returns ``n`` completions of the same prompt plus
usage and timing, so callers (agent, SAG, benchmarks) never depend on a backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings for one call. ``temperature == 0`` means greedy."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass
class Completion:
    """One sample. ``text`` is the continuation only (never the prefix), stop string removed."""

    text: str
    finish_reason: Literal["stop", "length"] = "stop"
    tokens: int = 0
    stop_string: str | None = None  # which stop string ended it, if any


@dataclass
class Usage:
    prompt_tokens: int = 0  # tokens of the full prompt (messages + prefix)
    cached_prompt_tokens: int = 0  # of those, how many were reused from the KV cache (not prefilled)
    completion_tokens: int = 0  # summed over the n samples
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    seconds: float = 0.0  # wall time of the whole call


@dataclass
class GenerationResult:
    completions: list[Completion]
    usage: Usage = field(default_factory=Usage)

    @property
    def text(self) -> str:
        return self.completions[0].text


class GenerationError(RuntimeError):
    """A backend could not serve a request (unreachable endpoint, unsupported option, bad model output)."""


class EndpointUnreachableError(GenerationError):
    """No endpoint of an HTTP backend accepted a connection (refused, unknown host, connect timeout) in any
    attempt of a request. Batch runs stop on a streak of these (`agentdistill.llm.reachability`)."""


def is_unreachable_failure(failure: str | None) -> bool:
    """Whether a recorded failure (``"ExcType: message"``, as generate and eval write it) is an
    :class:`EndpointUnreachableError`."""
    return bool(failure) and failure.startswith(f"{EndpointUnreachableError.__name__}:")


class ContextOverflowError(GenerationError):
    """The conversation does not fit the model's context: prompt + ``max_tokens`` > ``n_ctx`` (or the KV cache
    or the server's context is full). A property of the episode, not an outage: an agent that talks past its
    context has failed the question, and retrying with the same seed would fail the same way."""


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``prefix`` is an assistant-turn start that the model continues (first-thought prefix)."""

    name: str

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult: ...

    def close(self) -> None: ...
