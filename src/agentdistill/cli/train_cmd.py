"""`agentdistill train`: SFT (LoRA or full) on an SFT or trajectories JSONL; `--accelerate` launches multi-GPU."""

from __future__ import annotations

import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import typer

ACCELERATE_CONFIGS = ("ddp", "fsdp", "zero3")


def accelerate_config_path(name: str) -> Path:
    """Path of a shipped accelerate config (package data in distill/accelerate/)."""
    if name not in ACCELERATE_CONFIGS:
        raise typer.BadParameter(f"--accelerate must be one of {', '.join(ACCELERATE_CONFIGS)}, got {name!r}")
    return Path(str(resources.files("agentdistill.distill").joinpath("accelerate", f"{name}.yaml")))


def accelerate_command(name: str, argv: list[str], num_processes: int | None = None) -> list[str]:
    """`accelerate launch --config_file <shipped> [--num_processes N] -m agentdistill.cli.main train ...`."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config_path(name)),
    ]
    if num_processes:
        cmd += ["--num_processes", str(num_processes)]
    return cmd + ["-m", "agentdistill.cli.main", "train", *argv]


_FLAGS = {  # param: (flag when True, flag when False)
    "lora": ("--lora", "--full"),
    "packing": ("--packing", "--no-packing"),
    "chunked_loss": ("--chunked-loss", "--plain-loss"),
    "grad_ckpt": ("--grad-ckpt", "--no-grad-ckpt"),
    "compile_": ("--compile", None),
    "bf16": ("--bf16", "--fp32"),
    "export_gguf": ("--export-gguf", None),
}
_NOT_FORWARDED = {"accelerate", "num_processes", "print_launch"}
# TrainConfig fields whose CLI option has another name: a refused value names the option the user typed
OPTION_OF_FIELD = {
    "effective_batch": "--batch",
    "learning_rate": "--lr",
    "out_dir": "--out",
    "gradient_checkpointing": "--grad-ckpt",
    "torch_compile": "--compile",
}


def option_error(exc: Any) -> str:
    """A TrainConfig ``ValidationError`` as ``--option: problem``, named as on the command line."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    option = OPTION_OF_FIELD.get(field, "--" + field.replace("_", "-"))
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{option}: {first['msg']}{more}"


def forward_args(params: dict) -> list[str]:
    """The parsed options as a `train` argv for the launched workers (without the launch options)."""
    argv: list[str] = []
    for key, value in params.items():
        if key in _NOT_FORWARDED or value is None:
            continue
        if key in _FLAGS:
            flag = _FLAGS[key][0] if value else _FLAGS[key][1]
            if flag:
                argv.append(flag)
            continue
        argv += ["--" + key.replace("_", "-"), str(value)]
    return argv


def register(root: typer.Typer) -> None:
    from agentdistill.cli._common import user_errors

    @root.command("train")
    @user_errors  # a model that cannot be found or exported (ModelError), a file that cannot be read: one line
    def train_cmd(
        data: Path = typer.Option(
            ..., "--data", help="SFT JSONL ({'messages': [...]}) or a trajectories JSONL"
        ),
        model: str = typer.Option(..., "--model", help="HF dir, embedded name (smollm2-135m) or hub id"),
        out: Path = typer.Option(..., "--out", help="output dir (adapter/, merged/, checkpoints/, metrics)"),
        lora: bool = typer.Option(
            True, "--lora/--full", help="LoRA (paper: r=64, alpha=128) or full fine-tuning"
        ),
        lora_r: int = typer.Option(64, "--lora-r"),
        lora_alpha: int = typer.Option(128, "--lora-alpha"),
        lr: float = typer.Option(2e-4, "--lr"),
        epochs: float = typer.Option(2.0, "--epochs"),
        max_steps: int = typer.Option(
            -1, "--max-steps", help="stop after this many optimizer steps (-1: epochs)"
        ),
        batch: int = typer.Option(
            8, "--batch", help="effective batch (per-device batch × grad accumulation)"
        ),
        per_device_batch: int = typer.Option(1, "--per-device-batch"),
        max_seq_len: int = typer.Option(2048, "--max-seq-len"),
        packing: bool = typer.Option(
            False,
            "--packing/--no-packing",
            help="padding-free packing (faster on GPUs; --batch then counts packed rows, not examples)",
        ),
        chunked_loss: bool = typer.Option(True, "--chunked-loss/--plain-loss"),
        grad_ckpt: bool | None = typer.Option(
            None, "--grad-ckpt/--no-grad-ckpt", help="default: on for CUDA"
        ),
        compile_: bool = typer.Option(False, "--compile", help="torch.compile the model"),
        bf16: bool | None = typer.Option(None, "--bf16/--fp32", help="default: auto"),
        student_prompt: str = typer.Option("student", "--student-prompt"),
        export_gguf: bool = typer.Option(False, "--export-gguf", help="also write a GGUF for llama.cpp"),
        gguf_quant: str = typer.Option("q8_0", "--gguf-quant"),
        seed: int = typer.Option(42, "--seed"),
        accelerate: str | None = typer.Option(
            None, "--accelerate", help="ddp | fsdp | zero3: launch multi-GPU"
        ),
        num_processes: int | None = typer.Option(None, "--num-processes", help="GPUs for --accelerate"),
        print_launch: bool = typer.Option(
            False, "--print-launch", help="with --accelerate: print, don't run"
        ),
    ) -> None:
        """Fine-tune a student on SFT examples (assistant-only loss); writes adapter, merged model, GGUF."""
        params = dict(locals())
        from pydantic import ValidationError

        from agentdistill.distill.sft import SFTDataError

        if accelerate is not None:
            import os

            if os.environ.get("ACCELERATE_LAUNCHED") != "1" and "LOCAL_RANK" not in os.environ:
                cmd = accelerate_command(accelerate, forward_args(params), num_processes)
                if print_launch:
                    typer.echo(shlex.join(cmd))
                    return
                raise typer.Exit(subprocess.call(cmd, env={**os.environ, "ACCELERATE_LAUNCHED": "1"}))
        from agentdistill.distill.train import TrainConfig, train

        try:
            cfg = TrainConfig(
                model=model,
                data=data,
                out_dir=out,
                lora=lora,
                lora_r=lora_r,
                lora_alpha=lora_alpha,
                learning_rate=lr,
                epochs=epochs,
                max_steps=max_steps,
                effective_batch=batch,
                per_device_batch=per_device_batch,
                max_seq_len=max_seq_len,
                packing=packing,
                chunked_loss=chunked_loss,
                gradient_checkpointing=grad_ckpt,
                torch_compile=compile_,
                bf16=bf16,
                student_prompt=student_prompt,
                export_gguf=export_gguf,
                gguf_quant=gguf_quant,
                seed=seed,
                accelerate=accelerate,
            )
        except ValidationError as exc:
            typer.echo(f"error: {option_error(exc)}", err=True)
            raise typer.Exit(2) from None
        try:
            result = train(cfg)
        except (SFTDataError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        m = result.metrics
        typer.echo(f"steps {m.get('global_step')}  loss {m.get('first_loss')} → {m.get('last_loss')}")
        for label, path in (
            ("adapter", result.adapter_dir),
            ("merged", result.merged_dir),
            ("gguf", result.gguf_path),
        ):
            if path is not None:
                typer.echo(f"{label}: {path}")
