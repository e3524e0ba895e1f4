"""Dense and hybrid retrieval with the real bundled all-MiniLM-L6-v2 (tiny corpus, so it stays fast)."""

from __future__ import annotations

from pathlib import Path

from agentdistill.retrieval.hybrid import rrf_fuse
from agentdistill.retrieval.index import open_index, read_meta


def test_rrf_fuse() -> None:
    fused = rrf_fuse([[1, 2, 3], [3, 1, 4]], k=60)
    assert [row for row, _ in fused] == [1, 3, 2, 4]
    assert abs(fused[0][1] - (1 / 61 + 1 / 62)) < 1e-12


def test_dense_finds_paraphrase_without_word_overlap(hybrid_index: Path) -> None:
    meta = read_meta(hybrid_index)
    assert meta["dense"]["dim"] == 384 and meta["dense"]["model"] == "minilm"
    dense = open_index(hybrid_index, kind="dense")
    bm25 = open_index(hybrid_index, kind="bm25")
    query = "feline animal people keep at home"
    assert bm25.search(query, 1) == [] or bm25.search(query, 1)[0].id != "p-cat"
    hits = dense.search(query, k=3)
    assert hits[0].id == "p-cat" and hits[0].title == "Cat"
    assert hits[0].score > hits[1].score and hits[0].score <= 1.0 + 1e-5  # cosine on normalized vectors
    batch = dense.batch_search(["tallest peak on the planet", "German capital city"], k=1)
    assert [b[0].id for b in batch] == ["p-everest", "p-berlin"]


def test_hybrid_fuses_both(hybrid_index: Path) -> None:
    hybrid = open_index(hybrid_index)
    assert type(hybrid).__name__ == "HybridRetriever"
    hits = hybrid.search("Shirley Temple diplomat", k=3)
    assert hits[0].id == "p-temple"
    assert len({h.id for h in hits}) == 3
    assert hybrid.search("feline animal people keep at home", 1)[0].id == "p-cat"  # dense side contributes
    assert hybrid.search("", 3) == []
