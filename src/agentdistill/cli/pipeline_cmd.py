"""`agentdistill pipeline`: every stage from one config (declarations only; the work is pipeline/runner.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from agentdistill.cli._common import console, fail, user_errors


def pipeline_cmd(
    config: Annotated[
        str,
        typer.Argument(
            help="a YAML config file, or a built-in name: demo, compare, study, study-ftp, paper, smoke"
        ),
    ],
    stages: Annotated[str | None, typer.Option(help="comma-separated subset, e.g. eval,report")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override KEY=VALUE (dotted, YAML value)")
    ] = None,
    workdir: Annotated[Path | None, typer.Option(help="override the config's workdir")] = None,
) -> None:
    """Run generate → filter → train → eval → report from one config, resuming finished work."""
    from agentdistill.pipeline.config import load_config
    from agentdistill.pipeline.runner import run_pipeline

    overrides, given = {}, {}
    for item in set_ or []:
        key, eq, value = item.partition("=")
        if not eq or not all(part.strip() for part in key.split(".")):
            fail(f"--set expects KEY=VALUE (KEY dotted, e.g. generate.max_steps=3), got {item!r}")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            why = getattr(exc, "problem", None) or str(exc)
            fail(f"--set {item!r}: the value is not valid YAML ({why})")
        given[key] = f"--set {item!r}"
    if workdir is not None:
        overrides["workdir"] = str(workdir)
        given["workdir"] = "--workdir"
    cfg = load_config(config, overrides, given=given)
    # an unknown stage name is a ConfigError from the runner's plan, before any stage runs
    _print_results(run_pipeline(cfg, tuple(s.strip() for s in stages.split(",")) if stages else None))


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
    root.command("pipeline")(user_errors(pipeline_cmd))
