"""`agentdistill index build|search|info` and the top-level `agentdistill serve-retriever`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from agentdistill.cli._common import fail

app = typer.Typer(no_args_is_help=True)
err = Console(stderr=True)


def _fail(message: str) -> None:
    fail(message)


@app.command("build")
def build(
    corpus: Path = typer.Argument(
        ..., help="JSONL(.gz) corpus: {id, title, text} or {id, contents} per line."
    ),
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
        meta = build_index(
            corpus,
            out,
            kind,
            model=model,
            faiss=faiss,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            batch_size=batch_size,
            device=device,
            overwrite=force,
        )
    except (CorpusError, DenseUnavailable, FileExistsError, ValueError) as exc:
        _fail(str(exc))
    err.print(
        f"built {meta['kind']} index of {meta['num_docs']:,} passages in {meta['build_seconds']:.1f}s "
        f"({meta['bytes'] / 1e6:.1f} MB) → {out}"
    )


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

    from agentdistill.retrieval.client import RetrievalError
    from agentdistill.retrieval.index import IndexNotFoundError
    from agentdistill.retrieval.loader import load_retriever
    from agentdistill.retrieval.tool import format_passages

    try:
        retriever = load_retriever(index)
        # search directly (not through the agent's tool, which turns failures into text): a dead server or a
        # bad index is an error with exit 2, never an exit-0 "Search failed" line
        results = retriever.batch_search([" ".join(q.split()) for q in query], k)
    except (IndexNotFoundError, RetrievalError, ValueError) as exc:
        _fail(str(exc))
    for q, hits in zip(query, results, strict=True):
        if as_json:
            print(json.dumps({"query": q, "passages": [asdict(p) for p in hits]}, ensure_ascii=False))
        else:
            print(f"# {q}\n{format_passages(hits, max_chars) if hits else f'No results for {q!r}.'}\n")


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
