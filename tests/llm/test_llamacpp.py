"""llama.cpp backend on the real SmolLM2-135M GGUF: one model instance per module keeps this fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdistill.llm import GenerationConfig, GenerationError
from agentdistill.llm.llamacpp import LlamaCppLLM
from agentdistill.models import load_llm

Q = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]
OPEN = [{"role": "user", "content": "Write a short poem about the sea."}]
# A system prompt longer than two prefill chunks, shared by several prompts (as an agent's is).
SHARED = [
    {
        "role": "system",
        "content": " ".join(
            f"Rule {i}: answer the user's question truthfully, briefly and in plain words, citing no sources."
            for i in range(1, 16)
        ),
    }
]
SIX = [
    "What is the capital of France?",
    "Name a large animal that lives in the sea.",
    "What colour is the sky on a clear day?",
    "How many legs does a spider have?",
    "Who wrote Romeo and Juliet?",
    "What is two plus three?",
]


@pytest.fixture(scope="module")
def llm(tiny_gguf: Path):
    model = LlamaCppLLM(tiny_gguf, name="smollm2-135m", n_ctx=2048)
    yield model
    model.close()


def test_load_llm_embedded_name_uses_llamacpp(tiny_gguf: Path) -> None:
    with load_llm("smollm2-135m", n_ctx=512) as m:
        assert isinstance(m, LlamaCppLLM) and m.name == "smollm2-135m" and m.n_ctx == 512
        r = m.generate(Q, GenerationConfig(max_tokens=8))
        assert r.completions[0].tokens > 0


def test_greedy_generation_and_usage(llm: LlamaCppLLM) -> None:
    r = llm.generate(Q, GenerationConfig(max_tokens=32))
    assert "Paris" in r.text
    c = r.completions[0]
    assert c.finish_reason == "stop" and c.stop_string is None  # ended by <|im_end|>, not by length
    assert "<|im_end|>" not in c.text
    assert r.usage.prompt_tokens == len(llm.tokenize(llm.render(Q)))
    assert r.usage.completion_tokens == c.tokens > 0
    assert r.usage.seconds >= r.usage.decode_seconds > 0


def test_max_tokens_gives_length(llm: LlamaCppLLM) -> None:
    r = llm.generate(
        [{"role": "user", "content": "Write a long story about a dragon."}], GenerationConfig(max_tokens=5)
    )
    assert r.completions[0].finish_reason == "length" and r.completions[0].tokens == 5


def test_stop_string_cuts_text(llm: LlamaCppLLM) -> None:
    full = llm.generate(Q, GenerationConfig(max_tokens=32)).text
    stop = "Paris"
    assert stop in full
    r = llm.generate(Q, GenerationConfig(max_tokens=32, stop=("zzz-never", stop)))
    c = r.completions[0]
    assert c.text == full[: full.index(stop)]
    assert c.stop_string == stop and c.finish_reason == "stop"


def test_prefix_is_continued_not_repeated(llm: LlamaCppLLM) -> None:
    prefix = "Thought: The capital of France is"
    r = llm.generate(Q, GenerationConfig(max_tokens=16), prefix=prefix)
    assert not r.text.lstrip().startswith("Thought")
    assert "Paris" in r.text.split(".")[0]
    assert r.usage.prompt_tokens == len(llm.tokenize(llm.render(Q) + prefix))
    assert r.usage.prompt_tokens > len(llm.tokenize(llm.render(Q)))


def test_n_samples_distinct_with_temperature(llm: LlamaCppLLM) -> None:
    r = llm.generate(OPEN, GenerationConfig(max_tokens=24, temperature=1.0, n=4, seed=7))
    texts = [c.text for c in r.completions]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert r.usage.completion_tokens == sum(c.tokens for c in r.completions)


def test_n_samples_identical_when_greedy(llm: LlamaCppLLM) -> None:
    r = llm.generate(Q, GenerationConfig(max_tokens=16, temperature=0.0, n=3, seed=1))
    assert len(r.completions) == 3 and len({c.text for c in r.completions}) == 1


def test_seed_determinism(llm: LlamaCppLLM) -> None:
    cfg = GenerationConfig(max_tokens=24, temperature=0.9, top_p=0.9, n=2, seed=123)
    a = [c.text for c in llm.generate(Q, cfg).completions]
    b = [c.text for c in llm.generate(Q, cfg).completions]
    other = [c.text for c in llm.generate(Q, GenerationConfig(**{**cfg.__dict__, "seed": 999})).completions]
    assert a == b
    assert other != a


def test_kv_cache_reused_across_turns(llm: LlamaCppLLM) -> None:
    chunk = llm.PREFILL_CHUNK
    llm.reset()
    first = llm.generate(SHARED + Q, GenerationConfig(max_tokens=24))
    assert first.usage.cached_prompt_tokens == 0 and first.usage.prompt_tokens > chunk
    turn2 = [
        *SHARED,
        *Q,
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And of Italy?"},
    ]
    second = llm.generate(turn2, GenerationConfig(max_tokens=24))
    # only whole prefill chunks of the previous prompt are reused: exact, and most of the prompt
    assert second.usage.cached_prompt_tokens == (first.usage.prompt_tokens // chunk) * chunk > 0
    assert second.usage.prompt_tokens - second.usage.cached_prompt_tokens < chunk + 40
    llm.reset()  # a cold instance prefills everything and gives the same greedy answer
    cold = llm.generate(turn2, GenerationConfig(max_tokens=24))
    assert cold.usage.cached_prompt_tokens == 0
    assert cold.usage.prompt_tokens == second.usage.prompt_tokens
    assert cold.text == second.text


def test_sampled_tokens_are_never_reused(llm: LlamaCppLLM) -> None:
    """Cells of sampled tokens were decoded one at a time (another batch shape than a prefill): not exact."""
    r = llm.generate(SHARED + Q, GenerationConfig(max_tokens=16, temperature=1.0, n=3, seed=5))
    chosen = r.completions[2].text
    turn2 = [*SHARED, *Q, {"role": "assistant", "content": chosen}, {"role": "user", "content": "Why?"}]
    nxt = llm.generate(turn2, GenerationConfig(max_tokens=16))
    assert 0 < nxt.usage.cached_prompt_tokens <= r.usage.prompt_tokens
    llm.reset()
    assert llm.generate(turn2, GenerationConfig(max_tokens=16)).text == nxt.text


def _ask(llm: LlamaCppLLM, question: str) -> str:
    messages = [*SHARED, {"role": "user", "content": question}]
    return llm.generate(messages, GenerationConfig(max_tokens=24, temperature=0.0)).text


def test_greedy_output_does_not_depend_on_the_cache(llm: LlamaCppLLM) -> None:
    """Issue 13 §5: six prompts sharing a system prompt give the same greedy output cold (after reset()), back
    to back in two orders, and after a longer conversation that computed the shared prefix."""
    cold = {}
    for q in SIX:
        llm.reset()
        cold[q] = _ask(llm, q)
    llm.reset()
    forward = {q: _ask(llm, q) for q in SIX}
    backward = {q: _ask(llm, q) for q in reversed(SIX)}
    talk = [
        *SHARED,
        {"role": "user", "content": SIX[0]},
        {"role": "assistant", "content": cold[SIX[0]]},
        {"role": "user", "content": "Tell me more, in two sentences."},
    ]
    more = llm.generate(talk, GenerationConfig(max_tokens=48))
    talk += [
        {"role": "assistant", "content": more.text},
        {"role": "user", "content": "Thanks. One more fact?"},
    ]
    llm.generate(talk, GenerationConfig(max_tokens=32, temperature=0.8, n=2, seed=1))
    after_talk = {q: _ask(llm, q) for q in SIX}
    assert forward == cold
    assert backward == cold
    assert after_talk == cold
    reused = llm.generate([*SHARED, {"role": "user", "content": SIX[1]}], GenerationConfig(max_tokens=4))
    assert reused.usage.cached_prompt_tokens >= llm.PREFILL_CHUNK  # the shared system prompt was reused


def test_more_samples_than_parallel_slots(tiny_gguf: Path) -> None:
    with LlamaCppLLM(tiny_gguf, n_ctx=256, max_parallel=2) as small:
        r = small.generate(OPEN, GenerationConfig(max_tokens=40, temperature=1.0, n=5, seed=3))
        assert len(r.completions) == 5 and len({c.text for c in r.completions}) >= 4


def test_prompt_too_long_is_a_clear_error(tiny_gguf: Path) -> None:
    with LlamaCppLLM(tiny_gguf, n_ctx=128) as small, pytest.raises(GenerationError, match="exceeds n_ctx"):
        small.generate([{"role": "user", "content": "word " * 400}], GenerationConfig(max_tokens=8))


def test_bad_message_is_a_clear_error(llm: LlamaCppLLM) -> None:
    with pytest.raises(GenerationError, match="message 0"):
        llm.generate([{"content": "no role"}], GenerationConfig(max_tokens=4))


def test_bad_spec_and_option_errors() -> None:
    with pytest.raises(GenerationError, match="cannot parse model spec"):
        load_llm("no-such-model")
    with pytest.raises(GenerationError, match="not supported by the llama.cpp backend"):
        load_llm("smollm2-135m", api_key="x")
