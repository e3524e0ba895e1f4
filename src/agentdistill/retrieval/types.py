"""Passages and the retriever protocol shared by BM25, dense, hybrid and the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str
    score: float = 0.0


@runtime_checkable
class Retriever(Protocol):
    def search(self, query: str, k: int = 3) -> list[Passage]: ...

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]: ...
