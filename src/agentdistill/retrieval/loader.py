"""`load_retriever(spec)`: the one entry point the agent and the CLI use to get a Retriever.

Specs: "default" (BM25 over the bundled closed corpus), "default-dense" / "default-hybrid", an index dir,
a corpus file (.jsonl / .jsonl.gz; indexed once into the cache), or an http(s):// URL of a /retrieve server.
Corpus indexes are cached under <cache>/indexes/<sha256 of corpus file>-<kind>, built into a temporary dir
and renamed into place, so concurrent first uses never see a half-built index.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from agentdistill.common.files import cache_dir, sha256_file
from agentdistill.retrieval.index import INDEX_KINDS, META_FILE, IndexNotFoundError, build_index, open_index
from agentdistill.retrieval.types import Retriever


def default_corpus() -> Path:
    from agentdistill.retrieval.corpus import default_corpus_path

    path = Path(default_corpus_path())
    if not path.is_file():
        raise IndexNotFoundError(f"the bundled corpus is missing: {path}")
    return path


def cached_index(corpus: Path | str, kind: str = "bm25", *, progress: bool = True) -> Path:
    """Index dir for `corpus` in the cache, building it on first use."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    corpus = Path(corpus)
    target = cache_dir() / "indexes" / f"{sha256_file(corpus)[:16]}-{kind}"
    if (target / META_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build_index(corpus, tmp, kind, progress=progress, overwrite=True)
        if target.exists() and not (target / META_FILE).is_file():
            shutil.rmtree(target, ignore_errors=True)  # debris of an older interrupted build
        try:
            tmp.rename(target)
        except OSError:  # another process won the race; its index is as good as ours
            if not (target / META_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_retriever(spec: str = "default", *, progress: bool = True, **options: object) -> Retriever:
    """Resolve a spec to a Retriever (see module docstring); `options` go to the HTTP client or index opener."""
    if spec.startswith(("http://", "https://")):
        from agentdistill.retrieval.client import HTTPRetriever

        return HTTPRetriever(spec, **options)  # type: ignore[arg-type]
    if spec == "default" or spec.startswith("default-"):
        kind = spec.partition("-")[2] or "bm25"
        return open_index(cached_index(default_corpus(), kind, progress=progress), **options)  # type: ignore[arg-type]
    path = Path(spec).expanduser()
    if path.is_dir():
        return open_index(path, **options)  # type: ignore[arg-type]
    if path.is_file() and path.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        return open_index(cached_index(path, "bm25", progress=progress), **options)  # type: ignore[arg-type]
    raise IndexNotFoundError(
        f"retriever {spec!r} not found: expected 'default', an index dir, a corpus .jsonl(.gz) file, or an "
        "http(s):// URL of a /retrieve server"
    )
