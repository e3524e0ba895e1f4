"""`agentdistill eval`: one model on test sets (declarations only; the work is evaluate/run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail, model_and_retriever, model_options, user_errors


def eval_cmd(
    model: Annotated[
        str, typer.Option(help="model spec (embedded name, llamacpp:PATH, hf:DIR, openai:M@URL)")
    ],
    sets: Annotated[list[str], typer.Option("--sets", "-s", help="test set name or file, optionally :LIMIT")],
    out: Annotated[Path, typer.Option(help="run directory (results.jsonl + summary.json)")],
    mode: str = "agent",
    sag_n: Annotated[int, typer.Option("--sag-n", "--sag", help="SAG candidates per step (1 = off)")] = 1,
    rag: bool = False,
    prompt: Annotated[str | None, typer.Option(help="prompt name or .j2 file (default: student)")] = None,
    label: str = "",
    max_steps: int = 5,
    max_tokens: Annotated[int, typer.Option(help="tokens per model turn (agent step or CoT answer)")] = 512,
    seed: int = 0,
    concurrency: int = 1,
    retriever: str = "default",
    n_ctx: Annotated[
        int | None, typer.Option(help="context size (in-process backends; default: theirs)")
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="LLM judge model spec for QA answers: verdicts beside EM in "
            "judge.jsonl / judge_summary.json (cached)"
        ),
    ] = None,
) -> None:
    """Evaluate a model on test sets (agent ± SAG, or CoT ± RAG); resumable, failures retried."""
    from agentdistill.data import load_task_specs
    from agentdistill.evaluate.run import EvalSettings, evaluate

    tasks = load_task_specs(sets)  # bad names/files fail here, before a model is loaded
    if prompt is not None:  # a missing or broken template fails here too, in either mode
        from agentdistill.agent.prompts import PromptError, load_prompt

        try:
            load_prompt(prompt)
        except PromptError as exc:
            fail(f"--prompt: {exc}")
        if mode == "cot":
            typer.echo(
                "note: --prompt is not used by --mode cot (CoT answers use the built-in cot prompt)", err=True
            )
    s = EvalSettings(
        label=label,
        mode=mode,
        sag_n=sag_n,
        rag=rag,
        prompt=prompt,
        max_steps=max_steps,
        max_tokens=max_tokens,
        seed=seed,
        concurrency=concurrency,
    )
    with model_and_retriever(model, n_ctx, s, retriever) as (llm, index, use_retriever):
        summary = evaluate(tasks, llm, out, s, index, stamp_extra={"retriever": use_retriever})
    table = Table(title=f"eval {label or model} → {out}")
    from agentdistill.evaluate.stats import rate_cell

    for col in ("set", "n", "accuracy [95% CI]", "F1", "failed", "steps", "parse err", "tok/task", "s/task"):
        table.add_column(col, justify="right")
    for name, m in summary.per_set.items():
        table.add_row(
            name,
            str(m.n),
            rate_cell(m.accuracy, m.n),
            "-" if m.f1 is None else f"{100 * m.f1:.1f}",
            str(m.failed),
            f"{m.mean_steps:.2f}",
            f"{100 * m.parse_error_rate:.1f}%",
            f"{m.tokens_per_task:.0f}",
            f"{m.seconds_per_task:.1f}",
        )
    console.print(table)
    if judge:
        print_judge_summary(run_judge(judge, out / "results.jsonl", out / "judge_cache.jsonl", n_ctx))
    failed = sum(m.failed for m in summary.per_set.values())
    if failed:
        typer.echo(
            f"error: {failed} question(s) failed (backend/sandbox error, see 'failure' in "
            f"{out / 'results.jsonl'}); not scored; re-run the same command to retry them",
            err=True,
        )
        raise typer.Exit(1)


def run_judge(spec: str, results: Path, cache: Path, n_ctx: int | None = None) -> dict:
    """Judge a run's QA predictions with the model ``spec`` (grading/judge.py); returns judge_summary.json."""
    from agentdistill.grading.judge import LLMJudge, judge_results_file
    from agentdistill.models.loading import load_llm

    llm = load_llm(spec, **model_options(n_ctx))
    try:
        return judge_results_file(results, LLMJudge(llm, cache))
    finally:
        llm.close()


def print_judge_summary(summary: dict, title: str = "") -> None:
    """QA accuracy by exact match and by the judge side by side, their agreement, unparsed verdicts."""
    from agentdistill.evaluate.stats import rate_cell

    table = Table(title=title or f"QA judged by {summary['judge_model']}")
    for col in ("set", "n", "EM [95% CI]", "judge [95% CI]", "verdicts", "agreement [95% CI]", "unparsed"):
        table.add_column(col, justify="right")
    for name, t in summary["per_set"].items():
        judged = int(t.get("judged", t["n"] - t["unparsed"]))  # agreement is over the judge's verdicts
        table.add_row(
            name,
            str(t["n"]),
            rate_cell(t["em_accuracy"], t["n"]),
            rate_cell(t["judge_accuracy"], t["n"]),
            str(judged),
            rate_cell(t["agreement"], judged),
            str(t["unparsed"]),
        )
    console.print(table)


def register(root: typer.Typer) -> None:
    root.command("eval")(user_errors(eval_cmd))
