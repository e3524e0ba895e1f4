"""Merged HF model → GGUF for the llama.cpp backend (used when ``models.convert.hf_to_gguf`` is absent).

llama.cpp's ``convert_hf_to_gguf.py`` (and the ``gguf-py`` it was written against) ship inside the
llama-cpp-python sdist we already pin; we fetch that sdist once with pip, keep the two pieces in the cache,
convert to f16/bf16/q8_0 directly and reach other types with ``llama_cpp.llama_model_quantize``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LLAMA_CPP_PYTHON = "0.3.36"
DIRECT = {"f16", "bf16", "q8_0", "f32"}
QUANT_TYPES = {"q4_0": 2, "q4_1": 3, "q5_0": 8, "q5_1": 9, "q8_0": 7, "q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}


class ExportError(RuntimeError):
    """GGUF export failed; the message says at which stage and why."""


def converter_dir() -> Path:
    """Cached ``convert_hf_to_gguf.py`` + ``gguf-py`` from the llama-cpp-python sdist (fetched once)."""
    from agentdistill.models.registry import cache_dir

    out = cache_dir() / f"llama.cpp-convert-{LLAMA_CPP_PYTHON}"
    if (out / "convert_hf_to_gguf.py").is_file():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            raise ExportError(f"could not download the llama-cpp-python sdist: {proc.stderr[-500:]}")
        staging = Path(tmp) / "stage"
        prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
        with tarfile.open(sdists[0]) as tar:
            members = [
                m for m in tar.getmembers()
                if m.isfile() and (m.name == prefix + "convert_hf_to_gguf.py" or m.name.startswith(prefix + "gguf-py/"))
            ]
            for m in members:
                m.name = m.name[len(prefix):]
            tar.extractall(staging, members=members, filter="data")
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(out)
    return out


def hf_to_gguf(hf_dir: str | Path, out_path: str | Path, quant: str = "q8_0") -> Path:
    """Convert an HF model dir to a GGUF file of type ``quant`` (f16, bf16, q8_0, q4_k_m, …)."""
    quant = quant.lower()
    if quant not in DIRECT and quant not in QUANT_TYPES:
        raise ExportError(f"unknown GGUF type '{quant}'; choose from {', '.join(sorted(DIRECT | set(QUANT_TYPES)))}")
    hf_dir, out_path = Path(hf_dir), Path(out_path)
    if not (hf_dir / "config.json").is_file():
        raise ExportError(f"{hf_dir}: not an HF model dir (no config.json)")
    conv = converter_dir()
    direct = quant if quant in DIRECT else "f16"
    first = out_path if quant in DIRECT else out_path.with_suffix(".f16.gguf")
    env = {**os.environ, "PYTHONPATH": str(conv / "gguf-py") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(conv / "convert_hf_to_gguf.py"), str(hf_dir), "--outfile", str(first), "--outtype", direct]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not first.is_file():
        raise ExportError(f"convert_hf_to_gguf.py failed for {hf_dir}: {proc.stderr[-1500:]}")
    if first == out_path:
        return out_path
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    rc = llama_cpp.llama_model_quantize(str(first).encode(), str(out_path).encode(), params)
    first.unlink(missing_ok=True)
    if rc != 0:
        raise ExportError(f"llama_model_quantize to {quant} failed (code {rc})")
    return out_path
