"""The agent's `search(query) -> str` tool: numbered, titled, truncated passages a small model can read.

It never raises into the agent's code: an empty query, no hits or a failed remote call become one plain line,
so the model sees what happened as an observation and can try another query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agentdistill.retrieval.types import Passage, Retriever

log = logging.getLogger(__name__)
DEFAULT_MAX_CHARS = 600
MAX_K = 20  # model-written code picks k; keep observations bounded


def truncate(text: str, max_chars: int) -> str:
    """Cut to at most `max_chars` characters at a word boundary, marking the cut with '…'."""
    text = " ".join(text.split())
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    cut = text[: max(1, max_chars - 1)]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def format_passages(passages: Sequence[Passage], max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """'[1] Title\\ntext…' blocks separated by blank lines; each text cut to `max_chars` characters."""
    blocks = []
    for i, p in enumerate(passages, start=1):
        title = " ".join(p.title.split()) or "(untitled)"
        blocks.append(f"[{i}] {title}\n{truncate(p.text, max_chars)}")
    return "\n\n".join(blocks)


class SearchTool:
    """Callable search tool over any Retriever (in-process index or HTTP client)."""

    __name__ = "search"

    def __init__(
        self,
        retriever: Retriever,
        k: int = 3,
        max_chars: int = DEFAULT_MAX_CHARS,
        formatter: Callable[[Sequence[Passage]], str] | None = None,
    ):
        """``formatter``: passages -> observation text (default ``format_passages`` cut to ``max_chars``;
        the paper's turn format passes its own layout)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.retriever, self.k, self.max_chars = retriever, k, max_chars
        self.formatter = formatter

    def __call__(self, query: str, k: int | None = None) -> str:
        if not isinstance(query, str):
            return f"Search failed: the query must be a string, got {type(query).__name__}."
        query = " ".join(query.split())
        if not query:
            return "Search failed: the query is empty."
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K):
            return (
                f"Search failed: k must be a whole number from 1 to {MAX_K}, got {k!r}. Call search(query)."
            )
        try:
            passages = self.retriever.search(query, k or self.k)
        except Exception as exc:  # the tool must not crash the agent: report the failure as text
            log.warning("search %r failed: %s", query, exc)
            return f"Search failed: {type(exc).__name__}: {exc}".strip()
        if not passages:
            return f"No results for '{query}'."
        if self.formatter is not None:
            return self.formatter(passages)
        return format_passages(passages, self.max_chars)
