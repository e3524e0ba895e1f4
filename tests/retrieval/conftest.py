"""A tiny corpus written by the tests, and indexes built over it once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.retrieval.index import build_index

PASSAGES = [
    ("p-paris", "Paris", "Paris is the capital and most populous city of France, on the river Seine."),
    ("p-berlin", "Berlin", "Berlin is the capital of Germany and its largest city by population."),
    ("p-cat", "Cat", "The cat is a small domesticated carnivorous mammal often kept as a house pet."),
    (
        "p-everest",
        "Mount Everest",
        "Mount Everest is Earth's highest mountain above sea level, in the Himalayas.",
    ),
    (
        "p-python",
        "Python (programming language)",
        "Python is a high-level programming language whose design emphasizes code readability.",
    ),
    (
        "p-temple",
        "Shirley Temple",
        "Shirley Temple Black was an American actress and diplomat who served as "
        "Chief of Protocol of the United States and ambassador to Ghana.",
    ),
    (
        "p-kiss",
        "Kiss and Tell (1945 film)",
        "Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer.",
    ),
    (
        "p-nile",
        "Nile",
        "The Nile is a major north-flowing river in northeastern Africa, flowing into the Mediterranean Sea.",
    ),
]


def write_corpus(path: Path, records: list[dict] | None = None) -> Path:
    records = records or [{"id": i, "title": t, "text": x} for i, t, x in PASSAGES]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "tiny.jsonl")


@pytest.fixture(scope="session")
def bm25_index(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("idx") / "bm25"
    build_index(tiny_corpus, out, "bm25", progress=False)
    return out


@pytest.fixture(scope="session")
def hybrid_index(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BM25 + dense (the real bundled all-MiniLM-L6-v2) over the tiny corpus."""
    import faiss  # noqa: F401 - pinned: a failed import fails the suite
    import sentence_transformers  # noqa: F401

    out = tmp_path_factory.mktemp("idx") / "hybrid"
    build_index(tiny_corpus, out, "hybrid", progress=False)
    return out
