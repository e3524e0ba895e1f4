"""`agentdistill index build|search|info` and the top-level `agentdistill serve-retriever`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command("build")
def build(
    corpus: Path = typer.Argument(..., help="JSONL(.gz) corpus: {id, title, text} or {id, contents} per line."),
    out: Path = typer.Option(..., "--out", "-o", help="Index directory to create."),
    kind: str = typer.Option("bm25", "--kind", help="bm25 | dense | hybrid"),
    model: str = typer.Option(None, "--model", help="Dense model: 'minilm' (bundled) or an HF id/dir."),
    faiss: str = typer.Option("flat", "--faiss", help="Dense index type: flat | hnsw | ivf (large corpora)."),
    query_prefix: str = typer.Option("", "--query-prefix", help="Override the query prefix (e5: 'query: ')."),
    passage_prefix: str = typer.Option("", "--passage-prefix", help="Override the passage prefix."),
    batch_size: int = typer.Option(64, "--batch-size", help="Encoding batch size (dense)."),
    device: str = typer.Option(None, "--device", help="Encoding device (cpu, cuda)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing index dir."),
) -> None:
    """Build a retrieval index once; search and serve load it memory-mapped."""
    from agentdistill.retrieval.corpus import CorpusError
    from agentdistill.retrieval.dense import DenseUnavailable
    from agentdistill.retrieval.index import build_index

    try:
        meta = build_index(corpus, out, kind, model=model, faiss=faiss, query_prefix=query_prefix,
                           passage_prefix=passage_prefix, batch_size=batch_size, device=device, overwrite=force)
    except (CorpusError, DenseUnavailable, FileExistsError, ValueError) as exc:
        _fail(str(exc))
    err.print(f"built {meta['kind']} index of {meta['num_docs']:,} passages in {meta['build_seconds']:.1f}s "
              f"({meta['bytes'] / 1e6:.1f} MB) → {out}")


@app.command("search")
def search(
    index: str = typer.Argument(..., help="Index dir, 'default', corpus file, or http(s):// server URL."),
    query: list[str] = typer.Argument(..., help="One or more queries."),
    k: int = typer.Option(3, "-k", help="Passages per query."),
    max_chars: int = typer.Option(600, "--max-chars", help="Characters of text per passage."),
    as_json: bool = typer.Option(False, "--json", help="Print passages as JSON lines."),
) -> None:
    """Search an index and print what the agent's search tool would see."""
    from dataclasses import asdict

    from agentdistill.retrieval.index import IndexNotFoundError
    from agentdistill.retrieval.loader import load_retriever
    from agentdistill.retrieval.tool import SearchTool

    try:
        retriever = load_retriever(index)
    except (IndexNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        for q, hits in zip(query, retriever.batch_search(list(query), k), strict=True):
            print(json.dumps({"query": q, "passages": [asdict(p) for p in hits]}, ensure_ascii=False))
        return
    tool = SearchTool(retriever, k=k, max_chars=max_chars)
    for q in query:
        print(f"# {q}\n{tool(q)}\n")


@app.command("info")
def info(index: Path = typer.Argument(..., help="Index dir.")) -> None:
    """Print an index's metadata (kind, passages, size, model)."""
    from agentdistill.retrieval.index import IndexNotFoundError, read_meta

    try:
        print(json.dumps(read_meta(index), indent=2))
    except IndexNotFoundError as exc:
        _fail(str(exc))


def serve_retriever(
    index: str = typer.Argument(..., help="Index dir (or 'default', or a corpus file to index first)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (keep loopback unless you mean it)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port."),
    max_batch: int = typer.Option(128, "--max-batch", help="Most queries merged into one batch search."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve an index over HTTP with Search-R1's /retrieve API (POST {queries, topk, return_scores})."""
    from agentdistill.retrieval.index import IndexNotFoundError
    from agentdistill.retrieval.server import serve

    try:
        serve(index, host, port, max_batch=max_batch, log_level=log_level)
    except (IndexNotFoundError, ValueError) as exc:
        _fail(str(exc))


def register(root: typer.Typer) -> None:
    """Top-level `serve-retriever`."""
    root.command("serve-retriever")(serve_retriever)
