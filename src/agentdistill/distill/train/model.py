"""Where the student's weights come from, and which precision/attention to run them in.

A model spec is a local HF dir, an embedded model name (``smollm2-135m``, optionally ``hf:``-prefixed; its
GGUF is dequantized into a cached HF dir once) or a hub id (needs hub access).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def _convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """GGUF → plain HF dir (models.convert when present; else the DESIGN.md §6 recipe)."""
    try:
        from agentdistill.models.convert import gguf_to_hf
    except ImportError:
        gguf_to_hf = None
    if gguf_to_hf is not None:
        return Path(gguf_to_hf(gguf, out_dir))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # transformers refuses to save a "gguf-quantized" model otherwise
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.replace(out_dir)
    return out_dir


def resolve_student(spec: str) -> str:
    """A path or hub id that ``from_pretrained`` accepts; embedded names are converted once and cached."""
    name = spec.removeprefix("hf:")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    from agentdistill.models.registry import MODELS, cache_dir, ensure_model

    if name in MODELS:
        try:  # the models part's shared cache, when present
            from agentdistill.models.convert import cached_hf_dir

            return str(cached_hf_dir(ensure_model(name)))
        except ImportError:
            pass
        out = cache_dir() / "hf" / name
        if (out / "config.json").is_file():
            return str(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        return str(_convert_gguf(Path(ensure_model(name)), out))
    if Path(name).suffix == ".gguf":
        raise ValueError(
            f"model '{spec}': pass the GGUF through an embedded name or convert it to an HF dir first"
        )
    if name.count("/") != 1:
        raise ValueError(
            f"model '{spec}' is not a local dir, an embedded model ({', '.join(MODELS)}) nor a hub id (org/name)"
        )
    return name


def cpu_supports_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 autocast is faster than fp32 on this CPU (measured 1.5–2×)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_attention(device: str) -> str:
    """flash_attention_2 where installed on CUDA (true varlen for packed rows), else SDPA."""
    if device == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_student(path: str, *, dtype: Any, attn: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok
