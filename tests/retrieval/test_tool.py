from __future__ import annotations

from pathlib import Path

from agentdistill.retrieval.index import open_index
from agentdistill.retrieval.tool import SearchTool, format_passages, truncate
from agentdistill.retrieval.types import Passage


class Broken:
    """A retriever whose backend is down (what the tool sees when a remote call fails)."""

    def search(self, query: str, k: int = 3) -> list[Passage]:
        raise ConnectionError("retriever at http://127.0.0.1:9 refused the connection")

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]:
        raise ConnectionError("down")


def test_format_numbers_titles_and_truncates() -> None:
    passages = [
        Passage("1", "Alpha", "one two three four five six seven eight nine ten", 2.0),
        Passage("2", "", "short", 1.0),
    ]
    text = format_passages(passages, max_chars=20)
    blocks = text.split("\n\n")
    assert blocks[0].startswith("[1] Alpha\n") and blocks[1] == "[2] (untitled)\nshort"
    body = blocks[0].split("\n", 1)[1]
    assert body.endswith("…") and len(body) <= 20 and body.startswith("one two three")
    assert not body[:-1].endswith(" ")


def test_truncate_keeps_short_text_and_cuts_long_words() -> None:
    assert truncate("  a   b\nc ", 100) == "a b c"
    assert truncate("x" * 50, 10) == "x" * 9 + "…"


def test_tool_over_bm25(bm25_index: Path) -> None:
    tool = SearchTool(open_index(bm25_index), k=2, max_chars=40)
    out = tool("Which Shirley Temple role was Chief of Protocol?")
    assert out.startswith("[1] Shirley Temple\nShirley Temple Black was an American")
    assert "[2] " in out and "[3]" not in out
    assert tool("capital", k=1).count("[") == 1


def test_tool_empty_no_results_failure_bad_type(bm25_index: Path) -> None:
    tool = SearchTool(open_index(bm25_index))
    assert tool("   ") == "Search failed: the query is empty."
    assert tool("xyzzyqq") == "No results for 'xyzzyqq'."
    assert tool(["a", "b"]) == "Search failed: the query must be a string, got list."  # type: ignore[arg-type]
    failed = SearchTool(Broken())("anything")
    assert failed.startswith("Search failed: ConnectionError:") and "refused" in failed


def test_tool_rejects_bad_k_from_model_code(bm25_index: Path) -> None:
    """Small models write search("Washington Redskins", "birth_year"): a clear message, not a TypeError."""
    tool = SearchTool(open_index(bm25_index))
    for bad in ("birth_year", 0, 10_000, True, 2.5):
        out = tool("capital", bad)  # type: ignore[arg-type]
        assert out.startswith("Search failed: k must be a whole number from 1 to 20"), out
