"""Hybrid retrieval: reciprocal-rank fusion (RRF, k=60) of BM25 and dense rankings over one passage store.

RRF needs no score calibration between the two retrievers: a passage's fused score is Σ 1/(k + rank).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentdistill.retrieval.bm25 import BM25Retriever
from agentdistill.retrieval.dense import DenseRetriever
from agentdistill.retrieval.types import Passage

RRF_K = 60


def rrf_fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists of rows (best first) into one list of (row, score), best first; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


class HybridRetriever:
    """BM25 + dense, fused with RRF over each one's top `depth` rows."""

    kind = "hybrid"

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever, *, rrf_k: int = RRF_K, depth: int = 50):
        self.bm25, self.dense, self.rrf_k, self.depth = bm25, dense, rrf_k, depth
        self.store = bm25.store
        self.num_docs = bm25.num_docs

    def search(self, query: str, k: int = 3) -> list[Passage]:
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]:
        depth = max(self.depth, k)
        dense_hits = self.dense.batch_rows(queries, depth)
        out = []
        for query, dense_rows in zip(queries, dense_hits, strict=True):
            if not query.strip():
                out.append([])
                continue
            sparse = [row for row, _ in self.bm25.rows(query, depth)]
            fused = rrf_fuse([sparse, [row for row, _ in dense_rows]], self.rrf_k)[:k]
            passages = []
            for row, score in fused:
                doc = self.store.get(row)
                passages.append(Passage(doc.id, doc.title, doc.text, score))
            out.append(passages)
        return out
