"""The bundled closed corpus (records {id, title, text}) used as the default for the `search` tool."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def default_corpus_path() -> Path:
    """Path of the bundled multi-hop corpus (JSONL.gz); see data/corpus/CARD.md."""
    return CORPUS_DIR / "multihop_corpus.jsonl.gz"


def iter_corpus(path: str | Path | None = None) -> Iterator[dict]:
    """Yield corpus records from a JSONL(.gz) file (default: the bundled corpus)."""
    p = Path(path) if path is not None else default_corpus_path()
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
