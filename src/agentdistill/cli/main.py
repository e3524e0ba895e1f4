"""The `agentdistill` command: a thin layer over the parts; each sub-command lives in its own module."""

from __future__ import annotations

import typer

from agentdistill.cli import (
    data_cmd,
    eval_cmd,
    filter_cmd,
    generate_cmd,
    index_cmd,
    models_cmd,
    pipeline_cmd,
    report_cmd,
    run_cmd,
    train_cmd,
)

app = typer.Typer(
    name="agentdistill",
    help="Distill LLM agents (thought + code + retrieval) into small language models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _global_options(
    unsafe_no_sandbox: bool = typer.Option(
        False,
        "--unsafe-no-sandbox",
        help="Run model-written code WITHOUT the kernel sandbox (bubblewrap, namespaces, seccomp): only rlimits "
        "and the Python guards remain. For machines whose kernel refuses user namespaces; you accept the risk.",
    ),
) -> None:
    if unsafe_no_sandbox:
        import os

        from agentdistill.sandbox.types import UNSAFE_ENV

        os.environ[UNSAFE_ENV] = "1"
        typer.echo(
            "warning: --unsafe-no-sandbox: model-written code runs without the kernel sandbox", err=True
        )


app.add_typer(models_cmd.app, name="models", help="Embedded and user models: list, fetch, verify.")
app.add_typer(data_cmd.app, name="data", help="Task sets: list, show.")
app.add_typer(index_cmd.app, name="index", help="Retrieval indexes: build, search.")
for module in (
    models_cmd,
    index_cmd,
    run_cmd,
    train_cmd,
    generate_cmd,
    filter_cmd,
    eval_cmd,
    pipeline_cmd,
    report_cmd,
):
    module.register(app)

from agentdistill.cli import import_cmd  # noqa: E402  (import-paper: agent/paper_import.py)

import_cmd.register(app)

if __name__ == "__main__":
    app()
