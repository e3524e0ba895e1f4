"""The pipeline's train stage: SFT data from the kept records, then TRL training, skipped when unchanged."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

from agentdistill.common.jsonl import iter_jsonl
from agentdistill.pipeline.config import PipelineConfig

STAMP = "DONE.json"


def _file_sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sft_data(kept: Path, train_dir: Path, mode: str) -> Path:
    """Agent trajectories train as they are (TrainConfig converts them); CoT records become SFT JSONL here."""
    if mode == "agent":
        return kept
    from agentdistill.distill.sft import cot_to_sft, write_sft_jsonl

    out = train_dir / "sft_cot.jsonl"
    examples = (cot_to_sft(r["task"]["question"], r["text"], kind=r["task"]["kind"]) for _, r in iter_jsonl(kept))
    write_sft_jsonl(examples, out)
    return out


def run_train_stage(cfg: PipelineConfig, kept: Path, train_dir: Path, mode: str, skip_if_done: bool = True) -> str:
    """Train the student on ``kept``; return the model spec of the result (GGUF for llama.cpp, else HF dir)."""
    from agentdistill.distill.train import TrainConfig, train

    t = cfg.train
    settings = {"student": cfg.student.model, "train": t.model_dump(), "data": _file_sha(kept), "seed": cfg.seed}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    stamp = train_dir / STAMP
    if skip_if_done and stamp.exists():
        done = json.loads(stamp.read_text())
        if done.get("hash") == digest:
            return done["model_spec"]
    train_dir.mkdir(parents=True, exist_ok=True)
    tc = TrainConfig(
        model=cfg.student.model, data=_sft_data(kept, train_dir, mode), out_dir=train_dir / "student",
        lora=t.lora, lora_r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout,
        learning_rate=t.lr, epochs=t.epochs, per_device_batch=t.batch_size,
        effective_batch=t.batch_size * t.grad_accum, max_seq_len=t.max_seq_len, max_steps=t.max_steps,
        export_gguf=t.export_gguf, seed=cfg.seed, **t.extra,
    )
    out = train(tc)
    if out.gguf_path:
        spec = f"llamacpp:{Path(out.gguf_path).resolve()}"
    elif out.merged_dir:
        spec = f"hf:{Path(out.merged_dir).resolve()}"
    else:
        raise RuntimeError(f"training wrote neither a merged model nor a GGUF under {train_dir}")
    # ``run_id`` names this training run: eval results of an earlier model are retired when it changes
    stamp.write_text(json.dumps({"hash": digest, "run_id": uuid.uuid4().hex, "model_spec": spec,
                                 "metrics": out.metrics}, indent=2, default=str))
    return spec
