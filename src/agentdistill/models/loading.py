"""``load_llm(spec, **options)``: resolve a model spec to ready weights, then build the `llm` backend for it.

Grammar (docs/CONTRACTS.md):

- ``smollm2-135m`` / ``qwen2.5-coder-0.5b`` / ``qwen2.5-coder-1.5b``: embedded GGUF, llama.cpp in-process
- ``llamacpp:/path/model.gguf`` (or ``llamacpp:<embedded name>``, or a bare ``*.gguf`` path): llama.cpp
- ``hf:/local/dir`` / ``hf:org/name`` / ``hf:<embedded name>``: transformers
- ``openai:MODEL@http://host:port/v1[,http://host2:port/v1]``: OpenAI-compatible HTTP
- ``server:<embedded name or .gguf>``: a managed llama-server (built from the pinned llama.cpp sources) driven
  through the HTTP backend; many episodes decoded together (`agentdistill.models.server`); close() stops it
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdistill.llm.types import LLM, GenerationError
from agentdistill.models.registry import MODELS, ModelError, ensure_model, resolve_model

_LLAMACPP_OPTS = {"n_ctx", "n_threads", "n_batch", "max_parallel", "n_gpu_layers", "lora_path", "chat_template",
                  "verbose", "name"}  # fmt: skip
_HF_OPTS = {"device", "dtype", "lora_path", "chat_template", "name", "n_ctx", "n_threads"}
_HTTP_OPTS = {
    "api_key",
    "max_concurrency",
    "timeout",
    "retries",
    "backoff",
    "name",
    "prefix_mode",
    "chat_template",
}


def _check(kind: str, options: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    bad = sorted(k for k in options if k not in allowed)
    if bad:
        raise GenerationError(f"option(s) {', '.join(bad)} not supported by the {kind} backend; allowed: "
                              f"{', '.join(sorted(allowed))}")  # fmt: skip
    return {k: v for k, v in options.items() if v is not None}


def _embedded_names() -> set[str]:
    return set(MODELS)


def _load_llamacpp(target: str, options: dict[str, Any]) -> LLM:
    from agentdistill.llm.llamacpp import LlamaCppLLM

    try:
        resolved = resolve_model(target)
    except ModelError as exc:
        raise GenerationError(str(exc)) from exc
    if resolved.kind != "gguf":
        raise GenerationError(f"llama.cpp needs a GGUF file or an embedded model name, got {target!r}")
    opts = _check("llama.cpp", options, _LLAMACPP_OPTS)
    opts.setdefault("name", target if target in _embedded_names() else resolved.path.stem)
    return LlamaCppLLM(resolved.path, **opts)


def _resolve_dir(target: str) -> str:
    """A HF dir or hub id for `target`: embedded names and GGUF files are dequantized once into the cache."""
    if target in MODELS:
        from agentdistill.models.convert import cached_hf_dir

        return str(cached_hf_dir(ensure_model(target)))
    try:
        r = resolve_model(target)
    except ModelError as exc:
        raise GenerationError(str(exc)) from exc
    if r.kind == "gguf":
        from agentdistill.models.convert import cached_hf_dir

        return str(cached_hf_dir(r.path))
    return r.ref


def _load_hf(target: str, options: dict[str, Any]) -> LLM:
    from agentdistill.llm.transformers_backend import TransformersLLM

    opts = _check("transformers", options, _HF_OPTS)
    opts.setdefault("name", target)
    return TransformersLLM(_resolve_dir(target), **opts)


def _load_http(target: str, options: dict[str, Any]) -> LLM:
    from agentdistill.llm.openai_http import OpenAIHTTPLLM

    model, sep, urls = target.rpartition("@")
    if not sep or not model or not urls:
        raise GenerationError(
            f"openai spec must be 'openai:MODEL@http://host:port/v1[,url2]', got 'openai:{target}'"
        )
    endpoints = [u.strip() for u in urls.split(",") if u.strip()]
    return OpenAIHTTPLLM(model, endpoints, **_check("openai", options, _HTTP_OPTS))


def served_spec(spec: str) -> str | None:
    """``server:<target>`` for a spec that names a local GGUF (embedded name, ``llamacpp:``/``gguf:`` path, bare
    ``*.gguf``), so it can be decoded in shared batches by a managed llama-server; None for any other spec
    (``hf:``, ``openai:``, already ``server:``). Does not check that the file exists (`load_llm` does)."""
    scheme, sep, rest = spec.strip().partition(":")
    if sep and scheme in {"llamacpp", "gguf"}:
        return f"server:{rest}"
    if not sep and (spec in _embedded_names() or spec.endswith(".gguf")):
        return f"server:{spec}"
    return None


# options of an in-process llama.cpp model that a managed llama-server takes too (models/server.py)
SERVED_OPTIONS = {"n_ctx", "n_threads", "n_batch", "lora_path", "name", "chat_template"}


def as_served(spec: str, options: dict[str, Any], parallel: int) -> tuple[str, dict[str, Any]] | None:
    """``(server spec, options)`` that load a local GGUF spec on a managed llama-server with ``parallel`` slots
    under the name the in-process backend gives it (so records and stamps do not change); None for a spec that
    is not a local GGUF. In-process-only options (``max_parallel``, ``n_gpu_layers``, ``verbose``) are dropped."""
    served = served_spec(spec)
    if served is None:
        return None
    target = served.removeprefix("server:")
    name = target if target in _embedded_names() else Path(target).stem
    kept = {k: v for k, v in options.items() if k in SERVED_OPTIONS}
    return served, {"name": name, **kept, "parallel": parallel}


def load_llm(spec: str, **options: Any) -> LLM:
    """Build the LLM a spec names. Options a backend does not take raise GenerationError."""
    if not isinstance(spec, str) or not spec.strip():
        raise GenerationError(f"model spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in {"llamacpp", "gguf"}:
        return _load_llamacpp(rest, options)
    if sep and scheme == "hf":
        return _load_hf(rest, options)
    if sep and scheme == "openai":
        return _load_http(rest, options)
    if sep and scheme == "server":
        from agentdistill.models.server import load_served_llm

        return load_served_llm(rest, **options)
    if spec in _embedded_names() or spec.endswith(".gguf"):
        return _load_llamacpp(spec, options)
    raise GenerationError(
        f"cannot parse model spec {spec!r}: use an embedded name ({', '.join(sorted(_embedded_names()))}), "
        "llamacpp:/path.gguf, hf:dir-or-id, openai:MODEL@http://host:port/v1, or server:<name or .gguf>"
    )
