"""`agentdistill filter`: keep correct, distinct trajectories (declarations only; the work is distill/filter.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail, user_errors


def filter_cmd(
    src: Annotated[Path, typer.Argument(help="trajectories (or CoT) JSONL from generate")],
    out: Annotated[Path, typer.Option(help="kept records JSONL (must not be the input)")],
    max_per_task: int = 1,
    keep_exec_errors: bool = True,
    mode: Annotated[str, typer.Option(help="agent | cot")] = "agent",
    judge: Annotated[
        str | None,
        typer.Option(
            help="LLM judge model spec: QA answers judged instead of exact "
            "match (verdicts cached beside --out)"
        ),
    ] = None,
) -> None:
    """Keep correct, fully parsed trajectories (up to M distinct per task); report what was dropped."""
    from agentdistill.distill.filter import run_filter
    from agentdistill.distill.settings import FilterSettings

    if mode not in ("agent", "cot"):
        fail(f"--mode must be agent or cot, got {mode!r}")
    # the settings model's bounds (--max-per-task >= 1), checked before any file is read or model loaded
    settings = FilterSettings(max_per_task=max_per_task, keep_exec_errors=keep_exec_errors)
    options = {"keep_exec_errors": settings.keep_exec_errors} if mode == "agent" else {}
    llm = None
    if judge:
        from agentdistill.grading.judge import LLMJudge
        from agentdistill.models.loading import load_llm

        llm = load_llm(judge)
        options["judge"] = LLMJudge(llm, out.parent / "judge_cache.jsonl")
    try:
        rep = run_filter(src, out, mode, settings.max_per_task, **options)
    finally:
        if llm is not None:
            llm.close()
    if rep.judge:
        console.print(f"judge ({judge}): {dict(rep.judge)}")
    table = Table(title=f"filter: kept {rep.kept} of {rep.total} ({rep.tasks_kept}/{rep.tasks} tasks)")
    table.add_column("dropped because")
    table.add_column("count", justify="right")
    for reason, n in rep.dropped.most_common():
        table.add_row(reason, str(n))
    console.print(table)


def register(root: typer.Typer) -> None:
    root.command("filter")(user_errors(filter_cmd))
