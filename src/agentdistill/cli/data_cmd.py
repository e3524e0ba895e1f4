"""`agentdistill data list|show`: see which task sets are bundled and what their records look like."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail, user_errors
from agentdistill.data import list_task_sets, load_tasks
from agentdistill.data.task import Task

EXAMPLE_MAP = '{"question": "Q", "answer": "A"}'

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Top-level commands of this module (none)."""


@app.command("list")
def list_cmd() -> None:
    """Show every bundled task set with its kind, split, size and source."""
    table = Table(title="bundled task sets")
    for col in ("name", "kind", "split", "count", "source", "description"):
        table.add_column(col, justify="right" if col == "count" else "left", no_wrap=col != "description")
    for info in list_task_sets():
        table.add_row(info.name, info.kind, info.split, str(info.count), info.source, info.description)
    console.print(table)


@app.command("show")
@user_errors
def show_cmd(
    name: str = typer.Argument(..., help="set name or file path"),
    n: int = typer.Option(3, "-n", "--n", help="how many tasks to print (0: only the count)"),
    field_map: str = typer.Option("", help='JSON mapping, e.g. {"question": "Q", "answer": "A"}'),
) -> None:
    """Print the first N tasks of a set (or of a user file)."""
    if n < 0:
        fail(f"-n: how many tasks to print must be >= 0, got {n}")
    tasks = load_tasks(name, field_map=parse_field_map(field_map) if field_map else None)
    console.print(f"[bold]{name}[/bold]: {len(tasks)} tasks")
    for t in tasks[:n]:
        meta = {k: v for k, v in t.meta.items() if k not in ("solution", "code")}
        console.print(f"[cyan]{t.id}[/cyan] ({t.kind}) {t.question}")
        console.print(
            f"  answer: [green]{t.answer}[/green]" + (f"  aliases: {t.aliases}" if t.aliases else "")
        )
        if meta:
            console.print(f"  meta: {json.dumps(meta, ensure_ascii=False)[:300]}")


def parse_field_map(text: str) -> dict[str, str]:
    """``--field-map`` JSON: an object from task field names to the file's column names. Anything else
    (not JSON, not an object, an unknown task field, a column that is not a string) exits with one line
    naming ``--field-map``."""
    try:
        fmap = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--field-map: not valid JSON ({exc.msg} at column {exc.colno}); expected e.g. {EXAMPLE_MAP}")
    if not isinstance(fmap, dict):
        fail(f"--field-map: expected a JSON object, e.g. {EXAMPLE_MAP}; got a {type(fmap).__name__}")
    fields = sorted(Task.model_fields)
    for key, column in fmap.items():
        if key not in fields:
            fail(f"--field-map: unknown task field {key!r} (task fields: {', '.join(fields)})")
        if not isinstance(column, str):
            fail(f"--field-map: the column for {key!r} must be a string, got {column!r}")
    return fmap
