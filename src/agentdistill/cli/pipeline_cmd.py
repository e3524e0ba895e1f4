"""`generate`, `filter`, `eval` and `pipeline`: the distillation stages as commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

console = Console()


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _parse_sets(values: list[str]) -> list[dict]:
    """`name` or `name:limit` → task slices."""
    out = []
    for v in values:
        name, _, limit = v.partition(":")
        out.append({"set": name, "limit": int(limit) if limit else None})
    return out


def generate_cmd(
    tasks: Annotated[list[str], typer.Option("--tasks", "-t", help="task set name or file, optionally :LIMIT")],
    teacher: Annotated[str, typer.Option(help="teacher model spec")] = "qwen2.5-coder-1.5b",
    out: Annotated[Path, typer.Option(help="output JSONL (appended; re-runs resume)")] = Path(
        "runs/generate/trajectories.jsonl"),
    mode: Annotated[str, typer.Option(help="agent | cot")] = "agent",
    ftp: Annotated[bool, typer.Option("--ftp/--no-ftp", help="first-thought prefix")] = True,
    samples: Annotated[int, typer.Option(help="independent attempts per task")] = 1,
    sag: Annotated[int, typer.Option(help="teacher-side SAG candidates per step")] = 1,
    temperature: Annotated[float, typer.Option(help="temperature with --samples 1")] = 0.0,
    max_steps: int = 5,
    max_tokens: int = 384,
    seed: int = 0,
    concurrency: int = 1,
    retriever: str = "default",
    n_ctx: int = 8192,
) -> None:
    """Teacher rollouts over a task set (agent ± first-thought prefix ± SAG, or CoT)."""
    from agentdistill.distill.generate import GenerateSettings, generate
    from agentdistill.models.loading import load_llm
    from agentdistill.pipeline.config import TaskSlice
    from agentdistill.pipeline.runner import load_slices
    from agentdistill.retrieval import load_retriever

    slices = [TaskSlice(**s) for s in _parse_sets(tasks)]
    s = GenerateSettings(mode=mode, ftp=ftp, samples=samples, sag=sag, temperature=temperature,
                         max_steps=max_steps, max_tokens=max_tokens, seed=seed, concurrency=concurrency)
    llm = load_llm(teacher, n_ctx=n_ctx)
    try:
        summary = generate(load_slices(slices), llm, out, s, load_retriever(retriever) if retriever else None)
    finally:
        llm.close()
    table = Table(title=f"generate → {out}")
    for k in ("tasks", "attempts", "correct", "yield_per_100", "solved_pct", "steps", "tokens", "seconds"):
        table.add_column(k, justify="right")
    d = summary.as_dict()
    table.add_row(*(f"{d[k]:.1f}" if isinstance(d[k], float) else str(d[k]) for k in
                    ("tasks", "attempts", "correct", "yield_per_100", "solved_pct", "steps", "tokens", "seconds")))
    console.print(table)


def filter_cmd(
    src: Annotated[Path, typer.Argument(help="trajectories (or CoT) JSONL from generate")],
    out: Annotated[Path, typer.Option(help="kept records JSONL")],
    max_per_task: int = 1,
    keep_exec_errors: bool = True,
    mode: str = "agent",
) -> None:
    """Keep correct, fully parsed trajectories (up to M distinct per task); report what was dropped."""
    from agentdistill.distill.filter import filter_cot, filter_trajectories

    if mode == "agent":
        rep = filter_trajectories(src, out, max_per_task, keep_exec_errors)
    else:
        rep = filter_cot(src, out, max_per_task)
    table = Table(title=f"filter: kept {rep.kept} of {rep.total} ({rep.tasks_kept}/{rep.tasks} tasks)")
    table.add_column("dropped because")
    table.add_column("count", justify="right")
    for reason, n in rep.dropped.most_common():
        table.add_row(reason, str(n))
    console.print(table)


def eval_cmd(
    model: Annotated[str, typer.Option(help="model spec (embedded name, llamacpp:PATH, hf:DIR, openai:M@URL)")],
    sets: Annotated[list[str], typer.Option("--sets", "-s", help="test set name or file, optionally :LIMIT")],
    out: Annotated[Path, typer.Option(help="run directory (results.jsonl + summary.json)")],
    mode: str = "agent",
    sag: int = 1,
    rag: bool = False,
    prompt: str = "student",
    label: str = "",
    max_steps: int = 5,
    max_tokens: int = 384,
    seed: int = 0,
    concurrency: int = 1,
    retriever: str = "default",
    n_ctx: int = 8192,
) -> None:
    """Evaluate a model on test sets (agent ± SAG, or CoT ± RAG); resumable."""
    from agentdistill.evaluate.run import EvalSettings, evaluate
    from agentdistill.models.loading import load_llm
    from agentdistill.pipeline.config import TaskSlice
    from agentdistill.pipeline.runner import load_slices
    from agentdistill.retrieval import load_retriever

    tasks = load_slices([TaskSlice(**s) for s in _parse_sets(sets)])
    s = EvalSettings(label=label, mode=mode, sag=sag, rag=rag, prompt=prompt, max_steps=max_steps,
                     max_tokens=max_tokens, seed=seed, concurrency=concurrency)
    needs_retriever = mode == "agent" or rag
    llm = load_llm(model, n_ctx=n_ctx)
    try:
        summary = evaluate(tasks, llm, out, s, load_retriever(retriever) if needs_retriever else None)
    finally:
        llm.close()
    table = Table(title=f"eval {label or model} → {out}")
    for col in ("set", "n", "accuracy", "F1", "steps", "parse err", "tok/task", "s/task"):
        table.add_column(col, justify="right")
    for name, m in summary.per_set.items():
        table.add_row(name, str(m.n), f"{100 * m.accuracy:.1f}", "-" if m.f1 is None else f"{100 * m.f1:.1f}",
                      f"{m.mean_steps:.2f}", f"{100 * m.parse_error_rate:.1f}%", f"{m.tokens_per_task:.0f}",
                      f"{m.seconds_per_task:.1f}")
    console.print(table)


def pipeline_cmd(
    config: Annotated[str, typer.Argument(help="a YAML config file, or a built-in name: demo, paper")],
    stages: Annotated[str | None, typer.Option(help="comma-separated subset, e.g. eval,report")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override KEY=VALUE (dotted, YAML value)")] = None,
    workdir: Annotated[Path | None, typer.Option(help="override the config's workdir")] = None,
) -> None:
    """Run generate → filter → train → eval → report from one config, resuming finished work."""
    from agentdistill.pipeline.config import ConfigError, load_config
    from agentdistill.pipeline.runner import run_pipeline

    overrides = {}
    for item in set_ or []:
        key, eq, value = item.partition("=")
        if not eq:
            _fail(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    if workdir is not None:
        overrides["workdir"] = str(workdir)
    try:
        cfg = load_config(config, overrides)
    except ConfigError as e:
        _fail(str(e))
    result = run_pipeline(cfg, tuple(stages.split(",")) if stages else None)
    _print_results(result)


def _print_results(result) -> None:  # noqa: ANN001 - PipelineResult, imported lazily
    from agentdistill.evaluate.records import load_run

    if result.run_dirs:
        from agentdistill.cli.report_cmd import rich_results_table
        from agentdistill.evaluate.report_table import results_table

        console.print(rich_results_table(results_table([load_run(d) for d in result.run_dirs])))
    times = Table(title="wall time per stage")
    times.add_column("stage")
    times.add_column("seconds", justify="right")
    for k, v in result.stage_seconds.items():
        times.add_row(k, f"{v:.0f}")
    console.print(times)
    if result.report_html:
        console.print(f"HTML report: [bold]{Path(result.report_html).resolve()}[/]")
        console.print(f"Markdown report: {Path(result.report_md).resolve()}")
    console.print(json.dumps({"workdir": str(result.workdir)}))


def register(root: typer.Typer) -> None:
    root.command("generate")(generate_cmd)
    root.command("filter")(filter_cmd)
    root.command("eval")(eval_cmd)
    root.command("pipeline")(pipeline_cmd)
