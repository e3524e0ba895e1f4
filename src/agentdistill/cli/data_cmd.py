"""`agentdistill data list|show`: see which task sets are bundled and what their records look like."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail
from agentdistill.data import DataError, list_task_sets, load_tasks

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
def show_cmd(
    name: str = typer.Argument(..., help="set name or file path"),
    n: int = typer.Option(3, "-n", "--n", help="how many tasks to print"),
    field_map: str = typer.Option("", help='JSON mapping, e.g. {"question": "Q", "answer": "A"}'),
) -> None:
    """Print the first N tasks of a set (or of a user file)."""
    try:
        fmap = json.loads(field_map) if field_map else None
        tasks = load_tasks(name, field_map=fmap)
    except (DataError, json.JSONDecodeError) as exc:
        fail(str(exc))
    console.print(f"[bold]{name}[/bold]: {len(tasks)} tasks")
    for t in tasks[:n]:
        meta = {k: v for k, v in t.meta.items() if k not in ("solution", "code")}
        console.print(f"[cyan]{t.id}[/cyan] ({t.kind}) {t.question}")
        console.print(
            f"  answer: [green]{t.answer}[/green]" + (f"  aliases: {t.aliases}" if t.aliases else "")
        )
        if meta:
            console.print(f"  meta: {json.dumps(meta, ensure_ascii=False)[:300]}")
