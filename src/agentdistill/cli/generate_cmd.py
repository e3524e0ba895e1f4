"""`agentdistill generate`: teacher rollouts over task sets (declarations only; the work is distill/generate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail, model_and_retriever, user_errors

SUMMARY_COLUMNS = (
    "tasks",
    "attempts",
    "correct",
    "failed",
    "yield_per_100",
    "solved_pct",
    "steps",
    "tokens",
    "seconds",
)


def generate_cmd(
    tasks: Annotated[
        list[str], typer.Option("--tasks", "-t", help="task set name or file, optionally :LIMIT")
    ],
    teacher: Annotated[str, typer.Option(help="teacher model spec")] = "qwen2.5-coder-1.5b",
    out: Annotated[Path, typer.Option(help="output JSONL (appended; re-runs resume)")] = Path(
        "runs/generate/trajectories.jsonl"
    ),
    mode: Annotated[str, typer.Option(help="agent | cot")] = "agent",
    ftp: Annotated[bool, typer.Option("--ftp/--no-ftp", help="first-thought prefix")] = True,
    samples: Annotated[int, typer.Option(help="independent attempts per task")] = 1,
    stop_after_correct: Annotated[
        int | None,
        typer.Option(help="stop a task's attempts once this many are correct (attempts run in rounds)"),
    ] = None,
    sag_n: Annotated[int, typer.Option("--sag-n", "--sag", help="teacher-side SAG candidates per step")] = 1,
    temperature: Annotated[
        float, typer.Option(help="temperature of a single attempt (--samples 1, --sag-n 1)")
    ] = 0.0,
    max_steps: int = 5,
    max_tokens: Annotated[int, typer.Option(help="tokens per model turn (agent step or CoT answer)")] = 512,
    seed: int = 0,
    concurrency: int = 1,
    retriever: str = "default",
    n_ctx: Annotated[
        int | None, typer.Option(help="context size (in-process backends; default: theirs)")
    ] = None,
) -> None:
    """Teacher rollouts over a task set (agent ± first-thought prefix ± SAG, or CoT)."""
    from agentdistill.common.files import refuse_same_path
    from agentdistill.data import load_task_specs
    from agentdistill.data.loader import task_spec_files
    from agentdistill.distill.generate import GenerateSettings, generate

    if out.is_dir():
        fail(
            f"--out {out} is a directory; generate writes one JSONL file (e.g. --out {out / 'trajectories.jsonl'})"
        )
    task_list = load_task_specs(tasks)  # bad names/files fail here, before a model is loaded
    refuse_same_path(out, *task_spec_files(tasks))  # appending rollouts to a task file would ruin it
    s = GenerateSettings(
        mode=mode,
        ftp=ftp,
        samples=samples,
        stop_after_correct=stop_after_correct,
        sag_n=sag_n,
        temperature=temperature,
        max_steps=max_steps,
        max_tokens=max_tokens,
        seed=seed,
        concurrency=concurrency,
    )
    with model_and_retriever(teacher, n_ctx, s, retriever) as (llm, index, use_retriever):
        summary = generate(task_list, llm, out, s, index, stamp_extra={"retriever": use_retriever})
    table = Table(title=f"generate → {out}")
    for k in SUMMARY_COLUMNS:
        table.add_column(k, justify="right")
    d = summary.as_dict()
    table.add_row(*(f"{d[k]:.1f}" if isinstance(d[k], float) else str(d[k]) for k in SUMMARY_COLUMNS))
    console.print(table)
    if summary.failed:
        typer.echo(
            f"error: {summary.failed} attempt(s) failed (backend/sandbox error, see 'error' in {out}); "
            f"re-run the same command to retry them",
            err=True,
        )
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("generate")(user_errors(generate_cmd))
