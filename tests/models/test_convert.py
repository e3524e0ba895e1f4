"""HF → GGUF export round trip on the tiny model (dequantized HF dir → q8_0 GGUF → llama.cpp)."""

from __future__ import annotations

from pathlib import Path

import pytest
import transformers  # noqa: F401 - pinned: a failed import fails the suite

from agentdistill.llm import GenerationConfig
from agentdistill.models.convert import hf_to_gguf
from agentdistill.models.registry import ModelError


@pytest.mark.slow
def test_hf_to_gguf_round_trip(tiny_hf_dir: Path, tmp_path: Path) -> None:
    from agentdistill.llm.llamacpp import LlamaCppLLM

    out = hf_to_gguf(tiny_hf_dir, tmp_path / "smol-q8.gguf", quant="q8_0")
    assert out.read_bytes()[:4] == b"GGUF" and not (tmp_path / "smol-q8.f16.gguf").exists()
    with LlamaCppLLM(out, n_ctx=512) as llm:
        r = llm.generate([{"role": "user", "content": "What is the capital of France?"}],
                         GenerationConfig(max_tokens=16))  # fmt: skip
        assert "Paris" in r.text


def test_hf_to_gguf_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        hf_to_gguf(tmp_path, tmp_path / "x.gguf")
    with pytest.raises(ModelError, match="unknown quant"):
        hf_to_gguf(tmp_path, tmp_path / "x.gguf", quant="q3_zz")
