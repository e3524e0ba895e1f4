"""One generation call for a step: n raw candidates, cleanly ended code blocks, summed usage.

Stop strings (``prompts.STEP_STOP``) end a step at ``<end_code>``, at a hallucinated ``Observation:``, or at a
bare closing fence ``\\n```\\n``. A bare fence can also be an *opening* fence (```` ``` ```` with no language):
then the model is asked to continue once, with the fence as part of the prefix, until the closing fence.
The raw text keeps the step's terminator (``<end_code>`` or the closing fence) so the record is the model's
text as written; an ``Observation:`` stop is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentdistill.llm.types import LLM, Completion, GenerationConfig, Message, Usage

BARE_FENCE = "\n```\n"


@dataclass
class RawCandidate:
    raw: str  # prefix + continuation (+ terminator)
    tokens: int
    finish_reason: str


def _add_usage(total: Usage, part: Usage) -> None:
    total.prompt_tokens += part.prompt_tokens
    total.cached_prompt_tokens += part.cached_prompt_tokens
    total.completion_tokens += part.completion_tokens
    total.prefill_seconds += part.prefill_seconds
    total.decode_seconds += part.decode_seconds
    total.seconds += part.seconds


def _opens_block(text: str) -> bool:
    """True when a bare fence at the end of ``text`` would open (not close) a code block."""
    return text.count("```") % 2 == 0


def _terminated(text: str, completion: Completion) -> str:
    if completion.stop_string == "<end_code>":
        return text + "<end_code>"
    if completion.stop_string == BARE_FENCE:
        return text + "\n```"
    return text


def generate_candidates(
    llm: LLM, messages: list[Message], config: GenerationConfig, prefix: str = ""
) -> tuple[list[RawCandidate], Usage]:
    """Sample ``config.n`` step candidates with one call (plus one continuation per bare opening fence)."""
    usage = Usage()
    result = llm.generate(messages, config, prefix=prefix)
    _add_usage(usage, result.usage)
    out: list[RawCandidate] = []
    for completion in result.completions:
        text = prefix + completion.text
        tokens = completion.tokens
        finish = completion.finish_reason
        if completion.stop_string == BARE_FENCE and _opens_block(text):
            opened = text + BARE_FENCE
            cont_config = replace(
                config,
                n=1,
                max_tokens=max(1, config.max_tokens - tokens),
                stop=tuple(s for s in config.stop if s != BARE_FENCE) + ("\n```",),
            )
            more = llm.generate(messages, cont_config, prefix=opened)
            _add_usage(usage, more.usage)
            extra = more.completions[0]
            text = opened + extra.text + ("\n```" if extra.stop_string == "\n```" else "")
            if extra.stop_string == "<end_code>":
                text += "<end_code>"
            tokens += extra.tokens
            finish = extra.finish_reason
        else:
            text = _terminated(text, completion)
        out.append(RawCandidate(raw=text, tokens=tokens, finish_reason=finish))
    return out, usage
