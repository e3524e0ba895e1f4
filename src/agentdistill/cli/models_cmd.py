"""`agentdistill models list | fetch | path | verify` and the `agentdistill chat` one-liner."""

from __future__ import annotations

import typer
from rich.table import Table

from agentdistill.cli._common import console, fail, make_console

app = typer.Typer(no_args_is_help=True)
err = make_console(stderr=True)


def _fail(msg: str) -> None:
    fail(msg)


@app.command("list")
def list_models() -> None:
    """Show the embedded models, their role, size and cache state."""
    from agentdistill.models.registry import MODELS, is_verified, model_path

    table = Table(title="Embedded models (GGUF assembled from PyPI wheels)")
    for col in ("name", "role", "model", "size", "packages", "cached"):
        table.add_column(col)
    for spec in MODELS.values():
        pk = spec.packages[0] if len(spec.packages) == 1 else f"{spec.packages[0]} … ({len(spec.packages)})"
        state = "[green]verified[/green]" if is_verified(spec.name) else (
            "[yellow]unverified[/yellow]" if model_path(spec.name).exists() else "-")  # fmt: skip
        table.add_row(spec.name, spec.role, spec.description, f"{spec.bytes / 1e6:,.0f} MB",
                      f"{pk}=={spec.version}", state)  # fmt: skip
    console.print(table)


@app.command()
def fetch(name: str = typer.Argument(..., help="embedded model name (see `models list`)")) -> None:
    """Download, assemble and checksum an embedded model (no-op when already verified)."""
    from agentdistill.models.registry import ModelError, ensure_model

    try:
        path = ensure_model(name, console=console)
    except ModelError as exc:
        _fail(str(exc))
    console.print(f"[green]ok[/green] {name}: {path}")


@app.command()
def path(name: str) -> None:
    """Print the GGUF path of an embedded model (fetching it if needed)."""
    from agentdistill.models.registry import ModelError, ensure_model

    try:
        print(ensure_model(name, console=err))
    except ModelError as exc:
        _fail(str(exc))


@app.command()
def verify(name: str) -> None:
    """Re-hash the cached file of an embedded model against its sha256."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from agentdistill.models.registry import ModelError, get_spec, verify_model

    try:
        spec = get_spec(name)
        with Progress(TextColumn(f"sha256 {name}"), BarColumn(), DownloadColumn(), console=console) as prog:
            task = prog.add_task("hash", total=spec.bytes)
            p = verify_model(name, progress=lambda k: prog.advance(task, k))
    except ModelError as exc:
        _fail(str(exc))
    console.print(f"[green]verified[/green] {p} ({spec.sha256[:16]}…)")


def register(root: typer.Typer) -> None:
    @root.command()
    def chat(
        model: str = typer.Argument(
            ..., help="model spec: embedded name, llamacpp:/x.gguf, hf:dir, openai:M@url"
        ),
        message: str = typer.Argument(..., help="the user message"),
        system: str | None = typer.Option(None, help="optional system prompt"),
        max_tokens: int = typer.Option(256),
        temperature: float = typer.Option(0.0),
        n_ctx: int | None = typer.Option(None, help="context size (llama.cpp)"),
    ) -> None:
        """One-shot chat with a model: prints the reply and token/time usage."""
        from agentdistill.llm import GenerationConfig, GenerationError
        from agentdistill.models import load_llm

        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": message}
        ]
        try:
            llm = load_llm(model, **({"n_ctx": n_ctx} if n_ctx else {}))
            r = llm.generate(msgs, GenerationConfig(max_tokens=max_tokens, temperature=temperature))
            llm.close()
        except GenerationError as exc:
            _fail(str(exc))
        console.print(r.text, markup=False, highlight=False)
        u = r.usage
        err.print(
            f"[dim]{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, {u.seconds:.2f}s[/dim]"
        )
