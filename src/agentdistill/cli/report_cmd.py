"""`agentdistill report RUN_DIR... --out DIR`: results table on the terminal, Markdown + HTML on disk."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from agentdistill.cli._common import console, make_console
from agentdistill.evaluate.records import RunInputError, discover_run_dirs, load_run
from agentdistill.evaluate.report_table import ResultsTable, accuracy_cell, column_n, results_table
from agentdistill.evaluate.report_viewer import DEFAULT_MAX_TRAJECTORIES

err_console = make_console(stderr=True)


def rich_results_table(table: ResultsTable, title: str = "Accuracy (%) [95% Wilson interval]") -> Table:
    """The results table for the terminal: one section per model, like the paper; n per set in the header
    (or per cell when rows differ)."""
    out = Table(title=title, title_justify="left", header_style="bold")
    out.add_column("Model", style="bold")
    out.add_column("Method")
    ns = {c.name: column_n(table, c.name) for c in table.columns}
    for col in table.columns:
        header = col.name + (f" (n={ns[col.name]})" if ns[col.name] else "")
        out.add_column(header, justify="right", style="dim" if col.is_average else None)
    groups = table.groups()
    for g, (model, rows) in enumerate(groups):
        for i, row in enumerate(rows):
            out.add_row(
                model if i == 0 else "",
                row.label,
                *[accuracy_cell(row, c.name, with_n=ns[c.name] is None) for c in table.columns],
                end_section=i == len(rows) - 1 and g < len(groups) - 1,
            )
    return out


def report(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Eval run directories (each with results.jsonl / summary.json), or folders of them."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for report.md, report.html, accuracy.png."),
    title: str = typer.Option("agentdistill report", "--title", help="Report title."),
    max_trajectories: int = typer.Option(
        DEFAULT_MAX_TRAJECTORIES,
        "--max-trajectories",
        min=0,
        help="Questions embedded per run in the viewer.",
    ),
    judge: str = typer.Option(
        None,
        "--judge",
        help="LLM judge model spec: judge each run's QA answers "
        "(judge.jsonl / judge_summary.json in the run dir, cached) and show them beside EM.",
    ),
    compare: list[str] = typer.Option(
        None,
        "--compare",
        help="'LABEL A vs LABEL B': lead the report with the paired test of A − B, pooled per domain and "
        "overall (repeatable).",
    ),
) -> None:
    """Write a Markdown and a self-contained HTML report (results table, charts, trajectory viewer)."""
    from agentdistill.evaluate.compare import parse_pair
    from agentdistill.evaluate.report import write_report

    try:
        pairs = [parse_pair(c) for c in compare or []]
    except ValueError as e:
        err_console.print(f"[red]error:[/red] --compare {e}", markup=True, highlight=False)
        raise typer.Exit(code=2) from None

    try:
        runs = [load_run(d) for d in discover_run_dirs(run_dirs)]
    except RunInputError as e:
        err_console.print(f"[red]error:[/red] {e}", markup=True, highlight=False)
        raise typer.Exit(code=1) from None
    for run in runs:
        for w in run.warnings:
            err_console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    named = {x for pair in pairs for x in pair}
    missing = sorted(named - {r.label for r in runs})
    shared = sorted(x for x in named if sum(r.label == x for r in runs) > 1)
    if missing or shared:  # before any judging: a typo in a label costs nothing
        labels = ", ".join(repr(r.label) for r in runs)
        problem = f"names no run {missing}" if missing else f"names a label more than one run has {shared}"
        err_console.print(f"[red]error:[/red] --compare {problem} (runs: {labels})", highlight=False)
        raise typer.Exit(code=2)
    judged = []
    if judge:  # before the report is written, so it can show the verdicts beside EM
        from agentdistill.cli.eval_cmd import run_judge

        judged = [
            (run, run_judge(judge, run.run_dir / "results.jsonl", out / "judge_cache.jsonl"))
            for run in runs
            if run.run_dir is not None and (run.run_dir / "results.jsonl").exists()
        ]
    paths = write_report(runs, out, title, max_trajectories=max_trajectories, comparisons=pairs)
    table = rich_results_table(results_table(runs))
    if not console.is_terminal:  # piped / CI log: print the table whole rather than wrapped to 80 columns
        console.width = max(
            console.width, console.measure(table, options=console.options.update_width(400)).maximum
        )
    console.print(table)
    if judged:
        from agentdistill.cli.eval_cmd import print_judge_summary

        for run, summary in judged:
            print_judge_summary(summary, f"{run.label}: QA judged by {summary['judge_model']}")
    console.print(f"Markdown: {paths.markdown}")
    console.print(f"HTML report: [bold]{paths.html}[/bold]")


def register(root: typer.Typer) -> None:
    """Add the `report` command to the root app."""
    root.command("report")(report)
