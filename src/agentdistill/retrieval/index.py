"""Index dirs: build one from a corpus file (bm25 | dense | hybrid) and open one as a Retriever.

Layout: `meta.json` (written last, so a dir without it is an unfinished build), `docs.jsonl` +
`docs.offsets.npy` (passage store), `bm25/` (bm25s files), `dense/` (faiss index + encoder config).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from agentdistill.retrieval.bm25 import BM25_PARAMS, BM25Retriever, build_bm25
from agentdistill.retrieval.corpus import read_corpus
from agentdistill.retrieval.docstore import DocStore, write_docstore
from agentdistill.retrieval.types import Retriever

META_FILE = "meta.json"
INDEX_KINDS = ("bm25", "dense", "hybrid")
FORMAT = "agentdistill-index/1"


class IndexNotFoundError(FileNotFoundError):
    """The path is not a (complete) index dir; the message says what is missing and how to build one."""


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_index(
    corpus: Path | str,
    out: Path | str,
    kind: str = "bm25",
    *,
    model: str | None = None,
    faiss: str = "flat",
    query_prefix: str = "",
    passage_prefix: str = "",
    batch_size: int = 64,
    progress: bool = True,
    overwrite: bool = False,
    device: str | None = None,
) -> dict[str, Any]:
    """Build an index dir from a JSONL(.gz) corpus and return its metadata (also saved as meta.json)."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    corpus, out = Path(corpus), Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} already exists and is not empty (pass overwrite=True / --force)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _build(
            corpus,
            out,
            kind,
            model=model,
            faiss=faiss,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            batch_size=batch_size,
            progress=progress,
            device=device,
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # no half-built index left behind
        raise


def _build(
    corpus: Path,
    out: Path,
    kind: str,
    *,
    model: str | None,
    faiss: str,
    query_prefix: str,
    passage_prefix: str,
    batch_size: int,
    progress: bool,
    device: str | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    docs = read_corpus(corpus)
    meta: dict[str, Any] = {"format": FORMAT, "kind": kind, "corpus": str(corpus.resolve())}
    if kind in ("bm25", "hybrid"):
        num_docs = build_bm25(docs, out, progress=progress)
        meta["bm25"] = dict(BM25_PARAMS)
    else:
        num_docs = write_docstore(out, docs)
        if num_docs == 0:
            raise ValueError(f"{corpus}: the corpus has no passages")
    meta["bm25_seconds"] = round(time.perf_counter() - started, 3)
    if kind in ("dense", "hybrid"):
        from agentdistill.retrieval.dense import DEFAULT_DENSE_MODEL, DenseConfig, build_dense

        dense_started = time.perf_counter()
        config = DenseConfig(
            model=model or DEFAULT_DENSE_MODEL,
            faiss=faiss,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
        )
        config = build_dense(
            DocStore(out), out, config, batch_size=batch_size, progress=progress, device=device
        )
        meta["dense"] = {
            "model": config.model,
            "faiss": config.faiss,
            "dim": config.dim,
            "query_prefix": config.query_prefix,
            "passage_prefix": config.passage_prefix,
        }
        meta["dense_seconds"] = round(time.perf_counter() - dense_started, 3)
    meta["num_docs"] = num_docs
    meta["build_seconds"] = round(time.perf_counter() - started, 3)
    meta["bytes"] = dir_size(out)
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta


def read_meta(index_dir: Path | str) -> dict[str, Any]:
    index_dir = Path(index_dir)
    if not index_dir.exists():
        raise IndexNotFoundError(
            f"index not found: {index_dir} does not exist (build one with `agentdistill index build CORPUS --out DIR`)"
        )
    meta_path = index_dir / META_FILE
    if not meta_path.is_file():
        raise IndexNotFoundError(
            f"{index_dir} is not an agentdistill index ({META_FILE} missing: not built, or the build was interrupted)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise IndexNotFoundError(f"{meta_path}: invalid JSON ({exc.msg})") from None
    if meta.get("kind") not in INDEX_KINDS:
        raise IndexNotFoundError(f"{meta_path}: field 'kind' must be one of {', '.join(INDEX_KINDS)}")
    return meta


def open_index(
    index_dir: Path | str, *, kind: str | None = None, mmap: bool = True, device: str | None = None
) -> Retriever:
    """Open an index dir as a Retriever; `kind` picks one side of a hybrid index ('bm25' or 'dense')."""
    index_dir = Path(index_dir)
    meta = read_meta(index_dir)
    kind = kind or meta["kind"]
    built = meta["kind"]
    if kind not in INDEX_KINDS or (built != "hybrid" and kind != built):
        raise ValueError(f"{index_dir} holds a {built} index; cannot open it as {kind}")
    store = DocStore(index_dir)
    if kind == "bm25":
        return BM25Retriever(index_dir, mmap=mmap, store=store)
    from agentdistill.retrieval.dense import DenseRetriever

    dense = DenseRetriever(index_dir, store=store, device=device, mmap=mmap)
    if kind == "dense":
        return dense
    from agentdistill.retrieval.hybrid import HybridRetriever

    return HybridRetriever(BM25Retriever(index_dir, mmap=mmap, store=store), dense)
