"""GGUF → HF checkpoint (for training and the transformers backend) and HF → GGUF (export to llama.cpp).

transformers 5.x loads a GGUF by dequantizing it to fp32 but refuses to save such a model; clearing
``model.hf_quantizer`` and ``config.quantization_config`` first gives a plain safetensors checkpoint.
Conversions are cached by the source checksum (a ``.source`` stamp in the output dir), so a second call
with the same input is instant.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from agentdistill.llm.chat_template import CHATML_TEMPLATE
from agentdistill.models.registry import ModelError, cache_dir

LLAMA_CPP_VERSION = "0.3.36"
QUANT_TYPES = {
    "f16": 1,
    "q8_0": 7,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 8,
    "q5_1": 9,
    "q4_k_m": 15,
    "q5_k_m": 17,
    "q6_k": 18,
}  # fmt: skip  (llama_ftype values)


def _fingerprint(path: Path) -> str:
    """Cheap identity of a model file: size + sha256 of its head and tail (stable for a given file)."""
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        h.update(f.read())
    return h.hexdigest()


def gguf_to_hf(gguf_path: str | Path, out_dir: str | Path, *, chat_template: str | None = None) -> Path:
    """Dequantize a GGUF into a plain HF dir (safetensors + tokenizer with a ChatML chat template)."""
    gguf = Path(gguf_path)
    out = Path(out_dir)
    if not gguf.is_file():
        raise ModelError(f"GGUF file not found: {gguf}")
    stamp = out / ".source"
    fp = _fingerprint(gguf)
    if (
        stamp.exists()
        and json.loads(stamp.read_text()).get("fingerprint") == fp
        and (out / "config.json").exists()
    ):
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:  # transformers raises many kinds here; name the file
        raise ModelError(f"transformers could not load {gguf}: {exc}") from exc
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    tok.chat_template = chat_template or CHATML_TEMPLATE
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    stamp.write_text(json.dumps({"gguf": str(gguf), "fingerprint": fp}))
    return out


def cached_hf_dir(gguf_path: str | Path) -> Path:
    """The HF dir of a GGUF in the shared cache (converted once per machine)."""
    gguf = Path(gguf_path)
    return gguf_to_hf(gguf, cache_dir() / "hf" / gguf.stem)


def _convert_script() -> Path:
    """convert_hf_to_gguf.py from the llama-cpp-python sdist (fetched once with pip into the cache)."""
    root = cache_dir() / "tools" / f"llama-cpp-python-{LLAMA_CPP_VERSION}"
    script = root / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
    if script.exists():
        return script
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
               f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-d", tmp]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            raise ModelError(f"could not download the llama-cpp-python sdist: {proc.stderr[-500:]}")
        import tarfile

        with tarfile.open(sdists[0]) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name and
                       ("/gguf-py/" in m.name or m.name.endswith(".py"))]  # fmt: skip
            tar.extractall(tmp, members=members, filter="data")
        src = Path(tmp) / sdists[0].name.removesuffix(".tar.gz")
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.move(str(src), root)
    return script


def hf_to_gguf(hf_dir: str | Path, out_path: str | Path, quant: str = "q8_0") -> Path:
    """Export a HF checkpoint dir to a GGUF file (f16 via convert_hf_to_gguf.py, then quantized)."""
    src, out = Path(hf_dir), Path(out_path)
    quant = quant.lower()
    if quant not in QUANT_TYPES:
        raise ModelError(f"unknown quant {quant!r}; choose one of {', '.join(QUANT_TYPES)}")
    if not (src / "config.json").exists():
        raise ModelError(f"{src} is not a HF model dir (no config.json)")
    out.parent.mkdir(parents=True, exist_ok=True)
    f16 = out if quant == "f16" else out.with_name(out.stem + ".f16.gguf")
    cmd = [sys.executable, str(_convert_script()), str(src), "--outfile", str(f16), "--outtype", "f16"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not f16.exists():
        raise ModelError(f"convert_hf_to_gguf.py failed for {src}: {(proc.stderr or proc.stdout)[-1500:]}")
    if quant == "f16":
        return out
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    rc = llama_cpp.llama_model_quantize(str(f16).encode(), str(out).encode(), params)
    f16.unlink(missing_ok=True)
    if rc != 0:
        raise ModelError(f"llama_model_quantize to {quant} failed (code {rc}) for {src}")
    return out
