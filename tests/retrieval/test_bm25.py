from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.retrieval.bm25 import BM25Retriever
from agentdistill.retrieval.index import IndexNotFoundError, build_index, open_index, read_meta
from agentdistill.retrieval.types import Passage, Retriever


def test_build_writes_meta_and_files(bm25_index: Path) -> None:
    meta = read_meta(bm25_index)
    assert meta["kind"] == "bm25" and meta["num_docs"] == 8 and meta["bytes"] > 0
    assert (bm25_index / "bm25" / "data.csc.index.npy").is_file()
    assert (bm25_index / "docs.jsonl").is_file()


def test_mmap_load_and_search_finds_the_right_passage(bm25_index: Path, tiny_corpus: Path) -> None:
    retriever = open_index(bm25_index)
    assert isinstance(retriever, BM25Retriever) and isinstance(retriever, Retriever)
    # memory-mapped, not loaded: the score arrays are views on the files
    assert type(retriever.model.scores["data"]).__name__ == "memmap"
    hits = retriever.search("What is the capital of Germany?", k=3)
    assert hits[0] == Passage("p-berlin", "Berlin", hits[0].text, hits[0].score)
    assert hits[0].text.startswith("Berlin is the capital")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # stemming: "mountains" matches "mountain"; titles are indexed too
    assert retriever.search("highest mountains", k=1)[0].id == "p-everest"
    assert retriever.search("Corliss Archer", k=1)[0].id == "p-kiss"


def test_search_does_not_need_the_corpus_file(tmp_path: Path, tiny_corpus: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(tiny_corpus.read_bytes())
    build_index(corpus, tmp_path / "idx", progress=False)
    corpus.unlink()
    assert open_index(tmp_path / "idx").search("river Seine", 1)[0].id == "p-paris"


def test_no_known_terms_and_large_k(bm25_index: Path) -> None:
    retriever = open_index(bm25_index)
    assert retriever.search("the of and", 3) == []  # stop words only
    assert retriever.search("zzzqqq", 3) == []
    hits = retriever.search("capital", k=50)  # more than the corpus: only the matching passages
    assert {h.id for h in hits} == {"p-paris", "p-berlin"}
    batch = retriever.batch_search(["Nile river Africa", "Python programming"], k=1)
    assert [b[0].id for b in batch] == ["p-nile", "p-python"]


def test_build_refuses_existing_dir_unless_forced(bm25_index: Path, tiny_corpus: Path) -> None:
    with pytest.raises(FileExistsError, match="already exists"):
        build_index(tiny_corpus, bm25_index, progress=False)


def test_unknown_kind(tiny_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(tiny_corpus, tmp_path / "x", "sparse", progress=False)


def test_missing_or_incomplete_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="does not exist"):
        open_index(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    with pytest.raises(IndexNotFoundError, match="meta.json missing"):
        open_index(tmp_path / "half")
    (tmp_path / "half" / "meta.json").write_text(json.dumps({"kind": "weird"}))
    with pytest.raises(IndexNotFoundError, match="field 'kind'"):
        open_index(tmp_path / "half")


def test_bm25_index_cannot_open_as_dense(bm25_index: Path) -> None:
    with pytest.raises(ValueError, match="holds a bm25 index"):
        open_index(bm25_index, kind="dense")
