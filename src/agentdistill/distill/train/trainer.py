"""Train a student on SFT examples: TRL SFTTrainer + PEFT LoRA (or full FT), assistant-only loss.

Paper defaults (DESIGN.md §5): LoRA r=64, alpha=128, dropout 0.05 on all linear layers, lr 2e-4, 2 epochs,
effective batch 8. Efficiency on by default (issue 8): padding-free packing (sequence boundaries kept by
``position_ids`` → block-diagonal attention; assistant labels preserved per example), and a chunked linear
cross-entropy that never builds full-vocabulary logits for the batch. Outputs in ``out_dir``: ``adapter/``
(LoRA), ``merged/`` (plain HF model + tokenizer with its inference chat template), optionally ``model.gguf``,
and ``train_metrics.json``. A re-run resumes from the last checkpoint in ``out_dir/checkpoints``; the metrics'
``losses`` and ``train_seconds`` then cover the whole run, every attempt's (``train_runtime`` is HF's, this
attempt's only).

The data may be SFT examples, agent trajectories or CoT records (``generate --mode cot``): the latter two are
converted (``distill.sft``; forced final-answer trajectories are left out). Before the model is loaded, every
example is measured in tokens with the training chat template; examples longer than ``max_seq_len`` are
dropped (``over_length="drop"``) or the run is refused (``"refuse"``): nothing is ever trained cut
(``length_report.json`` and the metrics say how many were dropped and how long they were).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from agentdistill.common.files import atomic_dir, atomic_write_json, move_stale
from agentdistill.distill.settings import TrainSettings
from agentdistill.distill.sft import SFTDataError, read_sft_jsonl, records_to_sft, sniff_kind, write_sft_jsonl
from agentdistill.distill.train.length import LengthReport, example_lengths, fit_to_length

CLOCK = "train_clock.json"  # the run's wall seconds over all its attempts (progress.TrainClock)


class TrainConfig(TrainSettings):
    """Everything a training run needs: the settings (:class:`TrainSettings`, declared once in
    ``distill/settings.py``) plus the model, the data and the output dir. Unknown fields are rejected."""

    model: str = Field(description="HF dir, embedded name (smollm2-135m) or hub id")
    data: Path = Field(description="SFT JSONL ({'messages': [...]}) or a trajectories JSONL")
    out_dir: Path

    @field_validator("data")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not Path(v).is_file():
            raise ValueError(f"data file not found: {v}")
        return v


class TrainOutput(BaseModel):
    adapter_dir: Path | None
    merged_dir: Path | None
    gguf_path: Path | None
    metrics: dict[str, Any] = Field(default_factory=dict)


def _device(cfg: TrainConfig) -> str:
    import torch

    if cfg.device != "auto":
        return cfg.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _use_bf16(cfg: TrainConfig, device: str) -> bool:
    import torch

    from agentdistill.distill.train.model import cpu_supports_bf16

    if cfg.bf16 is not None:
        return cfg.bf16
    return torch.cuda.is_bf16_supported() if device == "cuda" else cpu_supports_bf16()


def prepare_data(cfg: TrainConfig) -> Path:
    """The SFT JSONL to train on: the given file, or one converted from trajectories / CoT records into
    ``out_dir/sft.jsonl`` (records left out, e.g. forced final answers, are counted in ``sft_skipped.json``)."""
    if sniff_kind(cfg.data) == "sft":
        return Path(cfg.data)
    out = Path(cfg.out_dir) / "sft.jsonl"
    examples, skipped = records_to_sft(cfg.data, cfg.student_prompt)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "sft_skipped.json").write_text(json.dumps(dict(skipped), indent=2))
    if not examples:
        raise _no_examples(cfg, skipped)
    write_sft_jsonl(examples, out)
    return out


def _no_examples(cfg: TrainConfig, skipped: Any) -> SFTDataError:
    return SFTDataError(f"{cfg.data}: no trajectories to train on (left out: {dict(skipped) or 'none'})")


def data_fingerprint(cfg: TrainConfig) -> str:
    """sha256 of the examples ``cfg.data`` converts to (before the length filter; its inputs, the tokenizer and
    ``max_seq_len``, are settings): what a run learns from. The data file's bytes are not it: a field the
    record schema gains (a new timing field, say) rewrites every kept line and changes none of the examples.
    Writes nothing. Raises ``SFTDataError`` for data that converts to no example."""
    if sniff_kind(cfg.data) == "sft":
        examples = read_sft_jsonl(Path(cfg.data))
    else:
        examples, skipped = records_to_sft(cfg.data, cfg.student_prompt)
        if not examples:
            raise _no_examples(cfg, skipped)
    return examples_sha256(examples)


def prepare_examples(cfg: TrainConfig) -> tuple[list[list[dict[str, str]]], LengthReport]:
    """The examples that will be trained on, measured with the tokenizer alone (no model load): over-length
    ones dropped or refused per ``cfg.over_length``. Raises ``OverLengthError`` / ``SFTDataError``."""
    from transformers import AutoTokenizer

    from agentdistill.distill.train.model import resolve_student
    from agentdistill.distill.train.template import training_chat_template

    examples = read_sft_jsonl(prepare_data(cfg))
    tok = AutoTokenizer.from_pretrained(resolve_student(cfg.model))
    template = cfg.chat_template or (training_chat_template(tok) if cfg.assistant_only_loss else None)
    return fit_to_length(examples, example_lengths(tok, examples, template), cfg.max_seq_len, cfg.over_length)


def last_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest *complete* ``checkpoint-N`` (its ``trainer_state.json``, written last by the Trainer, parses);
    a checkpoint torn by a kill mid-save is passed over, never resumed."""
    if not ckpt_dir.is_dir():
        return None
    found = []
    for d in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(d.name.split("-", 1)[1])
            json.loads((d / "trainer_state.json").read_text())
        except (ValueError, OSError):
            continue
        found.append((step, d))
    return str(max(found)[1]) if found else None


def build_trainer(
    cfg: TrainConfig, examples: list[list[dict[str, str]]], *, callbacks: list | None = None
) -> Any:
    """An SFTTrainer set up from ``cfg`` (exposed for tests and benchmarks: one place decides every knob)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from agentdistill.distill.loss import add_chunked_lm_head
    from agentdistill.distill.train.model import load_student, pick_attention, resolve_student
    from agentdistill.distill.train.template import training_chat_template

    device = _device(cfg)
    bf16 = _use_bf16(cfg, device)
    path = resolve_student(cfg.model)
    # On CUDA the weights live in bf16 for full FT too (fused AdamW keeps fp32 moments); LoRA on CPU trains in
    # fp32 weights with bf16 autocast
    dtype = torch.bfloat16 if (device == "cuda" and bf16 and not cfg.lora) else torch.float32
    model, tok = load_student(path, dtype=dtype, attn=cfg.attn_implementation or pick_attention(device))
    template = cfg.chat_template or (training_chat_template(tok) if cfg.assistant_only_loss else None)
    if template is not None:
        # TRL renders with the tokenizer's template; the inference template is restored before saving
        tok._agentdistill_inference_template = tok.chat_template
        tok.chat_template = template
    grad_ckpt = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else device == "cuda"
    accum = max(1, math.ceil(cfg.effective_batch / cfg.per_device_batch))
    args = SFTConfig(
        output_dir=str(Path(cfg.out_dir) / "checkpoints"),
        per_device_train_batch_size=cfg.per_device_batch,
        gradient_accumulation_steps=accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        bf16=bf16,
        fp16=False,
        use_cpu=device == "cpu",
        gradient_checkpointing=grad_ckpt,
        gradient_checkpointing_kwargs={"use_reentrant": False} if grad_ckpt else None,
        torch_compile=cfg.torch_compile,
        optim="adamw_torch_fused" if device == "cuda" else "adamw_torch",
        max_length=cfg.max_seq_len,
        packing=cfg.packing,
        packing_strategy="bfd",
        assistant_only_loss=cfg.assistant_only_loss,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=2,
        report_to="none",
        disable_tqdm=cfg.progress,
        dataloader_num_workers=0,
        dataset_num_proc=None,
    )
    peft_config = None
    if cfg.lora:
        peft_config = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target,
            task_type="CAUSAL_LM",
        )
    dataset = Dataset.from_list([{"messages": ex} for ex in examples])
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tok,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    if cfg.chunked_loss:
        base = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
        add_chunked_lm_head(base, cfg.loss_chunk_size)
    return trainer


def _save_tokenizer(tok: Any, out: Path) -> None:
    inference = getattr(tok, "_agentdistill_inference_template", None)
    if inference is not None:
        tok.chat_template = inference
    tok.save_pretrained(out)


def _export_gguf(merged: Path, out: Path, quant: str) -> Path:
    from agentdistill.models.convert import hf_to_gguf

    return Path(hf_to_gguf(merged, out, quant=quant))


def examples_sha256(examples: list[list[dict[str, str]]]) -> str:
    """Fingerprint of the examples a run trains on (after conversion and the length filter): the data file can
    change under the same path (a re-filtered kept set), and its checkpoints then belong to another run."""
    blob = json.dumps(examples, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _run_config(cfg: TrainConfig, examples_sha: str) -> dict[str, Any]:
    """What ``train_config.json`` holds: the settings and the fingerprint of the examples."""
    return {**json.loads(cfg.model_dump_json()), "examples_sha256": examples_sha}


def _retire_stale_checkpoints(out: Path, cfg: TrainConfig, examples_sha: str) -> None:
    """Checkpoints written under other settings or other examples must not be resumed: move them aside (a
    ``train_config.json`` without a fingerprint, from before it existed, counts as other examples), and the
    clock of that other run (``train_clock.json``) is not continued."""
    saved, ckpts = out / "train_config.json", out / "checkpoints"
    if not (saved.exists() and ckpts.is_dir()):
        return
    # changes that continue the same run (more steps or epochs, other outputs) keep the checkpoints
    ignore = {
        "resume",
        "progress",
        "logging_steps",
        "save_steps",
        "max_steps",
        "epochs",
        "merge",
        "export_gguf",
        "gguf_quant",
    }
    before = {k: v for k, v in json.loads(saved.read_text()).items() if k not in ignore}
    now = {k: v for k, v in _run_config(cfg, examples_sha).items() if k not in ignore}
    if before != now:
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        moved = move_stale(ckpts)
        (out / CLOCK).unlink(missing_ok=True)
        print(f"train: checkpoints made with other {', '.join(changed)} moved aside to {moved}", flush=True)


def train(cfg: TrainConfig) -> TrainOutput:
    """Run (or resume) training and write adapter / merged model / GGUF; returns their paths and metrics."""
    from agentdistill.distill.train.progress import RichProgress, TrainClock, logged_losses

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    examples, lengths = prepare_examples(cfg)
    (out / "length_report.json").write_text(json.dumps(lengths.as_dict(), indent=2))
    if lengths.dropped:
        print(f"train: {lengths.line()}", flush=True)
    examples_sha = examples_sha256(examples)
    _retire_stale_checkpoints(out, cfg, examples_sha)
    atomic_write_json(out / "train_config.json", _run_config(cfg, examples_sha))
    clock = TrainClock(out / CLOCK)
    callbacks: list[Any] = [clock] + ([RichProgress()] if cfg.progress else [])
    trainer = build_trainer(cfg, examples, callbacks=callbacks)
    resume = last_checkpoint(out / "checkpoints") if cfg.resume else None
    result = trainer.train(resume_from_checkpoint=resume)
    tok = trainer.processing_class
    adapter_dir = merged_dir = gguf_path = None
    if trainer.is_world_process_zero():
        model = trainer.model
        if cfg.lora:
            adapter_dir = out / "adapter"
            with atomic_dir(adapter_dir) as tmp:  # a kill mid-save leaves the old dir, never a half one
                model.save_pretrained(tmp)
                _save_tokenizer(tok, tmp)
            if cfg.merge:
                model = model.merge_and_unload()
        if cfg.merge or not cfg.lora:
            merged_dir = out / "merged"
            with atomic_dir(merged_dir) as tmp:  # a kill mid-save leaves the old dir, never a half one
                model.save_pretrained(tmp)
                _save_tokenizer(tok, tmp)
        if cfg.export_gguf and merged_dir is not None:
            gguf_path = _export_gguf(merged_dir, out / f"model-{cfg.gguf_quant}.gguf", cfg.gguf_quant)
    losses = logged_losses(trainer.state.log_history)  # the checkpoint's steps too, when resumed
    metrics = {
        "train_loss": result.training_loss,
        "global_step": result.global_step,
        "losses": losses,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "examples": len(examples),
        "over_length": lengths.as_dict(),
        "resumed_from": resume,
        **{k: v for k, v in result.metrics.items() if isinstance(v, int | float)},
        # HF's train_runtime is this attempt's; these cover every attempt of the run (resumed ones too)
        "train_seconds": round(clock.seconds, 1),
        "attempts": clock.attempts,
    }
    atomic_write_json(out / "train_metrics.json", metrics)
    return TrainOutput(adapter_dir=adapter_dir, merged_dir=merged_dir, gguf_path=gguf_path, metrics=metrics)
