"""BM25 (bm25s, Lucene scoring) with a stemmed, stop-worded analyzer; built once, memory-mapped at load.

We tokenize ourselves (one analyzer for passages and queries, compact `array` token lists so a 1M-passage
build stays within a few GB) and let bm25s build and save its sparse score matrix. Queries with no known term
return no passages rather than arbitrary zero-score ones.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from agentdistill.common.progress import task_progress
from agentdistill.retrieval.corpus import Doc
from agentdistill.retrieval.docstore import DocStore, DocStoreWriter
from agentdistill.retrieval.types import Passage

BM25_DIR = "bm25"
BM25_PARAMS = {"method": "lucene", "k1": 1.5, "b": 0.75, "stemmer": "english", "stopwords": "en"}


class Analyzer:
    """Lowercase, split on word characters (2+), drop English stop words, Snowball-stem (cached per word)."""

    _split = re.compile(r"(?u)\b\w\w+\b").findall

    def __init__(self, stemmer: str | None = "english"):
        self.stopwords = frozenset(STOPWORDS_EN)
        self.stemmer = Stemmer.Stemmer(stemmer) if stemmer else None
        self._stems: dict[str, str] = {}

    def terms(self, text: str) -> list[str]:
        words = [w for w in self._split(text.lower()) if w not in self.stopwords]
        if self.stemmer is None:
            return words
        stems = self._stems
        missing = [w for w in words if w not in stems]
        if missing:
            if len(stems) > 2_000_000:  # bound the cache on huge vocabularies
                stems.clear()
            stems.update(zip(missing, self.stemmer.stemWords(missing), strict=True))
        return [stems[w] for w in words]


def passage_text(doc: Doc) -> str:
    return f"{doc.title}\n{doc.text}" if doc.title else doc.text


def build_bm25(docs: Iterable[Doc], out_dir: Path, *, progress: bool = True) -> int:
    """Write the passage store and the BM25 index under `out_dir`; return the passage count."""
    analyzer = Analyzer(BM25_PARAMS["stemmer"])
    vocab: dict[str, int] = {}
    token_ids: list[array] = []
    with DocStoreWriter(out_dir) as store, task_progress("Tokenizing passages", None, progress) as tick:
        for doc in docs:
            store.add(doc)
            token_ids.append(
                array("i", [vocab.setdefault(t, len(vocab)) for t in analyzer.terms(passage_text(doc))])
            )
            tick()
    if not token_ids:
        raise ValueError("cannot build a BM25 index over an empty corpus")
    vocab.setdefault("", len(vocab))  # bm25s' empty-query token
    model = bm25s.BM25(method=BM25_PARAMS["method"], k1=BM25_PARAMS["k1"], b=BM25_PARAMS["b"])
    with task_progress("Scoring BM25 matrix", 1, progress) as tick:
        model.index((token_ids, vocab), show_progress=False)
        tick()
    del token_ids
    model.save(str(out_dir / BM25_DIR), show_progress=False)
    return int(model.scores["num_docs"])


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k best positive scores, best first (argpartition: O(n), not a full sort)."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    return rows[scores[rows] > 0]


class BM25Retriever:
    """In-process BM25 search over an index dir built by `build_bm25` (memory-mapped by default)."""

    kind = "bm25"

    def __init__(self, index_dir: Path | str, *, mmap: bool = True, store: DocStore | None = None):
        index_dir = Path(index_dir)
        if not (index_dir / BM25_DIR / "params.index.json").is_file():
            raise FileNotFoundError(f"no BM25 index in {index_dir} (expected {index_dir / BM25_DIR})")
        self.model = bm25s.BM25.load(str(index_dir / BM25_DIR), mmap=mmap, show_progress=False)
        self.store = store or DocStore(index_dir)
        self.analyzer = Analyzer(BM25_PARAMS["stemmer"])
        self.num_docs = int(self.model.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray | None:
        vocab = self.model.vocab_dict
        ids = [vocab[t] for t in self.analyzer.terms(query) if t in vocab]
        return self.model.get_scores_from_ids(ids) if ids else None

    def rows(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.scores(query)
        if scores is None:
            return []
        return [(int(r), float(scores[r])) for r in top_rows(scores, k)]

    def search(self, query: str, k: int = 3) -> list[Passage]:
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]:
        out = []
        for query in queries:
            hits = []
            for row, score in self.rows(query, k):
                doc = self.store.get(row)
                hits.append(Passage(doc.id, doc.title, doc.text, score))
            out.append(hits)
        return out
