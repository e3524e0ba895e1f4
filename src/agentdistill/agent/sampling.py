"""One generation call for a step: n raw candidates, each ended at the format's end marker, summed usage.

Stop strings (``parse.STEP_STOP``) end a step at ``<end_code>`` or at a hallucinated ``Observation:`` line, never
at a fence: a fence in the thought or inside a string literal does not end the step (issue 13 §1). The raw text
keeps ``<end_code>`` so the record is the model's text as written; an ``Observation:`` stop is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentdistill.llm.types import LLM, Completion, GenerationConfig, Message, Usage


@dataclass
class RawCandidate:
    raw: str  # prefix + continuation (+ terminator)
    tokens: int
    finish_reason: str


def _terminated(text: str, completion: Completion) -> str:
    return text + "<end_code>" if completion.stop_string == "<end_code>" else text


def generate_candidates(
    llm: LLM, messages: list[Message], config: GenerationConfig, prefix: str = ""
) -> tuple[list[RawCandidate], Usage]:
    """Sample ``config.n`` step candidates with one call (the n share one prefill where the backend can)."""
    result = llm.generate(messages, config, prefix=prefix)
    out = [
        RawCandidate(raw=_terminated(prefix + c.text, c), tokens=c.tokens, finish_reason=c.finish_reason)
        for c in result.completions
    ]
    return out, result.usage
