"""transformers backend on the 135M model dequantized from its GGUF (tiny_hf_dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
import transformers  # noqa: F401 - pinned: a failed import fails the suite

from agentdistill.llm import GenerationConfig, GenerationError
from agentdistill.models import load_llm

Q = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]


@pytest.fixture(scope="module")
def llm(tiny_hf_dir: Path):
    model = load_llm(f"hf:{tiny_hf_dir}", n_threads=2)
    yield model
    model.close()


def test_greedy_generation_and_stop(llm) -> None:
    r = llm.generate(Q, GenerationConfig(max_tokens=16))
    assert "Paris" in r.text and r.completions[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 10 and r.usage.completion_tokens == r.completions[0].tokens > 0
    s = llm.generate(Q, GenerationConfig(max_tokens=16, stop=("Paris",)))
    assert s.completions[0].stop_string == "Paris" and s.text == r.text[: r.text.index("Paris")]


def test_prefix_and_n_samples(llm) -> None:
    r = llm.generate(Q, GenerationConfig(max_tokens=6), prefix="Thought: The capital of France is")
    assert "Paris" in r.text and not r.text.lstrip().startswith("Thought")
    poem = [{"role": "user", "content": "Write a short poem about the sea."}]
    many = llm.generate(poem, GenerationConfig(max_tokens=10, n=3, temperature=1.0, seed=1))
    assert len(many.completions) == 3 and len({c.text for c in many.completions}) == 3
    assert all(c.finish_reason == "length" and c.tokens == 10 for c in many.completions)
    again = llm.generate(poem, GenerationConfig(max_tokens=10, n=3, temperature=1.0, seed=1))
    assert [c.text for c in again.completions] == [c.text for c in many.completions]


def test_hf_dir_saved_plain(tiny_hf_dir: Path) -> None:
    import json

    cfg = json.loads((tiny_hf_dir / "config.json").read_text())
    assert "quantization_config" not in cfg
    assert (tiny_hf_dir / "model.safetensors").exists()
    assert "generation" in (tiny_hf_dir / "chat_template.jinja").read_text()


def test_gguf_to_hf_is_cached(tiny_gguf: Path, tiny_hf_dir: Path) -> None:
    from agentdistill.models.convert import cached_hf_dir

    before = (tiny_hf_dir / "model.safetensors").stat().st_mtime_ns
    assert cached_hf_dir(tiny_gguf) == tiny_hf_dir
    assert (tiny_hf_dir / "model.safetensors").stat().st_mtime_ns == before


def test_missing_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="cannot resolve model"):
        load_llm(f"hf:{tmp_path / 'nope'}")
