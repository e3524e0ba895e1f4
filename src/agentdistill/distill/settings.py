"""Typed settings of the distillation stages — generate, filter, train — each declared once.

The pipeline config composes these models (``pipeline/config.py``), the runners take them
(``distill/generate.py``, ``distill/filter.py``, ``distill/train/``), and the CLI's defaults are checked
against them (``tests/pipeline/test_cli_defaults.py``). Unknown fields are errors, never silently ignored.
A new setting's default reproduces the behaviour from before it existed: output stamped earlier then stays
valid (``pipeline.stages.base.check_settings``).
Agent-episode defaults (steps, tokens per turn, SAG) come from :mod:`agentdistill.agent.settings`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentdistill.agent.settings import MAX_STEPS, MAX_TOKENS, SAG_N


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateSettings(_Strict):
    """Teacher rollouts: ``samples`` attempts per task, agent (± first-thought prefix, ± SAG) or CoT.

    Sampling: a single greedy-ish attempt uses ``temperature``; whenever the teacher samples — several attempts
    (``samples > 1``) or several candidates per step (``sag_n > 1``) — it uses ``sample_temperature``. ``top_p``
    applies to every call.
    """

    mode: Literal["agent", "cot"] = "agent"
    ftp: bool = True  # first-thought prefix from the teacher's own CoT
    samples: int = Field(1, ge=1)  # independent attempts per task
    # rejection sampling with early stop: attempt k of a task runs only while fewer than this many of its
    # attempts 0..k-1 are correct (None: every attempt runs). Attempts run in rounds (all tasks' attempt 0,
    # then attempt 1 of the unsolved ones, ...), so which attempts run depends only on earlier records.
    stop_after_correct: int | None = Field(None, ge=1)
    sag_n: int = Field(SAG_N, ge=1)  # teacher-side SAG candidates per step
    temperature: float = Field(0.0, ge=0.0)
    sample_temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_steps: int = Field(MAX_STEPS, ge=1)
    max_tokens: int = Field(MAX_TOKENS, ge=1)
    prompt: str = "teacher"
    # ask once more for the answer after max_steps (agent/loop.py); off: a forced answer is never training data
    force_final_answer: bool = False
    seed: int = 0
    concurrency: int = Field(1, ge=1)  # episodes in flight (thread-safe backends only)

    @property
    def attempt_temperature(self) -> float:
        """The temperature every generation call of an attempt uses (see the class docstring)."""
        return self.sample_temperature if (self.samples > 1 or self.sag_n > 1) else self.temperature

    @property
    def needs_retriever(self) -> bool:
        """Agent rollouts search; CoT rollouts do not."""
        return self.mode == "agent"


class FilterSettings(_Strict):
    """Which teacher records become training data."""

    max_per_task: int = Field(1, ge=1)  # distinct correct trajectories kept per task
    keep_exec_errors: bool = True  # the student learns to recover from errors
    require_correct: bool = True  # false (smoke tests, ablations): keep trajectories whatever their outcome
    require_parsed: bool = True  # false (smoke tests): keep trajectories with unparsable steps too


class TrainSettings(_Strict):
    """How to train a student (DESIGN.md §5; paper: LoRA r=64, alpha=128, dropout 0.05, lr 2e-4, 2 epochs,
    effective batch 8). ``TrainConfig`` adds the model, data and output paths."""

    student_prompt: str = "student"
    # method
    lora: bool = True
    lora_r: int = 64
    lora_alpha: int = Field(128, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    lora_target: str | list[str] = "all-linear"
    learning_rate: float = Field(2e-4, gt=0.0)
    epochs: float = Field(2.0, gt=0.0)  # fractional epochs train part of the data
    effective_batch: int = 8  # per-device batch × gradient accumulation (× devices)
    per_device_batch: int = 1
    max_seq_len: int = 2048
    over_length: Literal["drop", "refuse"] = (
        "drop"  # examples longer than max_seq_len (distill/train/length.py)
    )
    max_steps: int = -1  # optimizer steps; -1: as many as ``epochs`` take
    warmup_ratio: float = Field(0.03, ge=0.0, le=1.0)
    lr_scheduler: str = "cosine"
    weight_decay: float = Field(0.0, ge=0.0)
    seed: int = 42
    assistant_only_loss: bool = True
    chat_template: str | None = None  # a training template with {% generation %} markers, overriding ours
    # efficiency
    # padding-free packing (opt-in): a row holds several examples up to max_seq_len tokens, and the batch then
    # counts rows, not examples — with ~500-token examples in 2048-token rows, "batch 8" is ~30 examples a step
    # and a quarter of the optimizer steps. Off by default so effective_batch means examples (the paper's 8).
    packing: bool = False
    chunked_loss: bool = True
    loss_chunk_size: int = 1024
    gradient_checkpointing: bool | None = None  # None: on for CUDA, off on CPU
    torch_compile: bool = False
    bf16: bool | None = None  # None: bf16 on CUDA if supported, bf16 autocast on CPUs with AVX512-BF16/AMX
    attn_implementation: str | None = None  # None: flash_attention_2 if installed on CUDA, else sdpa
    device: Literal["auto", "cpu", "cuda"] = "auto"
    accelerate: Literal["ddp", "fsdp", "zero3"] | None = None  # recorded; launching is the CLI's job
    # outputs
    merge: bool = True
    export_gguf: bool = False
    gguf_quant: str = "q8_0"  # one of models.convert.QUANT_TYPES (any case)
    save_steps: int = Field(200, ge=1)
    logging_steps: int = Field(1, ge=1)
    resume: bool = True
    progress: bool = True

    @field_validator("effective_batch", "per_device_batch", "max_seq_len", "lora_r", "loss_chunk_size")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, v: int) -> int:
        if v != -1 and v < 1:
            raise ValueError("must be >= 1, or -1 (as many as epochs take)")
        return v

    @field_validator("gguf_quant")
    @classmethod
    def _known_quant(cls, v: str) -> str:
        """Checked here, when the settings are made, not by the GGUF export after the whole training run."""
        from agentdistill.models.convert import QUANT_TYPES

        if v.lower() not in QUANT_TYPES:
            raise ValueError(f"unknown quant {v!r}; choose one of {', '.join(QUANT_TYPES)}")
        return v
