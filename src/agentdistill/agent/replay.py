"""ReplayLLM: returns scripted or recorded outputs instantly.

For measuring the agent's own overhead and for deterministic tests of agent logic (SAG votes, fork isolation,
max_steps). Never a replacement for real-model tests. Stop strings are applied to the scripted text exactly as
a real backend would, so recorded raw model outputs can be replayed unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agentdistill.llm.types import (
    Completion,
    GenerationConfig,
    GenerationError,
    GenerationResult,
    Message,
    Usage,
)


def _truncate(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    best: tuple[int, str] | None = None
    for stop in stops:
        if stop:
            i = text.find(stop)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, stop)
    return (text, None) if best is None else (text[: best[0]], best[1])


class ReplayLLM:
    """An LLM whose i-th ``generate`` call returns the i-th script entry.

    An entry is a string (every one of the ``n`` samples gets it) or a list of strings (sample j gets item
    j, cycling when ``n`` is larger). With ``cycle=True`` the script restarts when exhausted; otherwise an
    exhausted script raises ``GenerationError``. ``calls`` records (messages, config, prefix) of every call.
    Token counts are estimated as ``len(text) // 4`` (there is no tokenizer).
    """

    def __init__(self, script: Iterable[str | Sequence[str]], *, name: str = "replay", cycle: bool = False):
        self.script: list[str | list[str]] = [e if isinstance(e, str) else list(e) for e in script]
        if not self.script:
            raise ValueError("ReplayLLM needs at least one scripted output")
        self.name = name
        self.cycle = cycle
        self.position = 0
        self.calls: list[tuple[list[Message], GenerationConfig, str]] = []
        self._continuations: list[tuple[str, str]] = []  # (text emitted incl. stop, rest of the sample)

    @classmethod
    def from_trajectories(cls, path: str | Path, **kwargs: Any) -> ReplayLLM:
        """Replay the model outputs recorded in a trajectory JSONL file, step after step (prefix removed)."""
        from agentdistill.agent.records import read_trajectories  # agent depends on llm, not the reverse

        script: list[str | list[str]] = []
        for traj in read_trajectories(path):
            for step in traj.steps:
                if step.candidates:
                    script.append([c.raw[len(step.prefix) :] for c in step.candidates])
                else:
                    script.append(step.raw[len(step.prefix) :])
        return cls(script, name=kwargs.pop("name", f"replay:{Path(path).name}"), **kwargs)

    def generate(
        self, messages: list[Message], config: GenerationConfig, prefix: str = ""
    ) -> GenerationResult:
        start = time.perf_counter()
        # A continuation of a sample cut at a stop string (the agent re-prompts after a bare opening fence):
        # serve the rest of that same recorded sample instead of the next script entry.
        rest = next((r for emitted, r in self._continuations if prefix and prefix.endswith(emitted)), None)
        if rest is not None:
            self._continuations = []
            self.calls.append((list(messages), config, prefix))
            return self._result([rest] * config.n, config, messages, prefix, start)
        if self.position >= len(self.script):
            if not self.cycle:
                raise GenerationError(f"ReplayLLM: script exhausted after {len(self.script)} calls")
            self.position = 0
        entry = self.script[self.position]
        self.position += 1
        self.calls.append((list(messages), config, prefix))
        samples = (
            [entry] * config.n if isinstance(entry, str) else [entry[j % len(entry)] for j in range(config.n)]
        )
        return self._result(samples, config, messages, prefix, start)

    def _result(
        self, samples: list[str], config: GenerationConfig, messages: list[Message], prefix: str, start: float
    ) -> GenerationResult:
        completions = []
        self._continuations = []
        for sample in samples:
            text, stop = _truncate(sample, config.stop)
            if stop is not None and len(sample) > len(text) + len(stop):
                self._continuations.append((text + stop, sample[len(text) + len(stop) :]))
            tokens = max(1, len(text) // 4)
            finish = "stop"
            if tokens > config.max_tokens:
                text, stop, tokens, finish = text[: config.max_tokens * 4], None, config.max_tokens, "length"
            completions.append(Completion(text=text, finish_reason=finish, tokens=tokens, stop_string=stop))
        prompt_chars = sum(len(m.get("content", "")) for m in messages) + len(prefix)
        seconds = time.perf_counter() - start
        usage = Usage(
            prompt_tokens=prompt_chars // 4,
            completion_tokens=sum(c.tokens for c in completions),
            seconds=seconds,
            decode_seconds=seconds,
        )
        return GenerationResult(completions=completions, usage=usage)

    def close(self) -> None:
        pass
