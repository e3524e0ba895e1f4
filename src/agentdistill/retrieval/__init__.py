"""Retrieval: corpora, BM25 / dense / hybrid indexes, a Search-R1-compatible server and client, the search tool.

Heavy pieces (faiss, torch, FastAPI) are imported only by the modules that need them.
"""

from agentdistill.retrieval.corpus import CorpusError, Doc, default_corpus_path, read_corpus
from agentdistill.retrieval.index import IndexNotFoundError, build_index, open_index
from agentdistill.retrieval.loader import cache_dir, load_retriever
from agentdistill.retrieval.tool import SearchTool, format_passages
from agentdistill.retrieval.types import Passage, Retriever


def __getattr__(name: str) -> object:
    if name in ("HTTPRetriever", "RetrievalError"):
        from agentdistill.retrieval import client

        return getattr(client, name)
    raise AttributeError(name)


__all__ = [
    "CorpusError",
    "Doc",
    "HTTPRetriever",
    "IndexNotFoundError",
    "Passage",
    "RetrievalError",
    "Retriever",
    "SearchTool",
    "build_index",
    "cache_dir",
    "default_corpus_path",
    "format_passages",
    "load_retriever",
    "open_index",
    "read_corpus",
]
