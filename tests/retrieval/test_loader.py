from __future__ import annotations

from pathlib import Path

import pytest

from agentdistill.retrieval import SearchTool, load_retriever
from agentdistill.retrieval.index import IndexNotFoundError, read_meta
from agentdistill.retrieval.loader import cache_dir, cached_index


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTDISTILL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_corpus_file_is_indexed_once_into_the_cache(cache: Path, tiny_corpus: Path) -> None:
    assert cache_dir() == cache
    first = cached_index(tiny_corpus, progress=False)
    assert first.parent == cache / "indexes" and read_meta(first)["num_docs"] == 8
    stamp = (first / "meta.json").stat().st_mtime_ns
    assert cached_index(tiny_corpus, progress=False) == first
    assert (first / "meta.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert [p.name for p in (cache / "indexes").iterdir()] == [first.name]  # no temp dirs left
    retriever = load_retriever(str(tiny_corpus), progress=False)
    assert retriever.search("Corliss Archer", 1)[0].id == "p-kiss"


def test_index_dir_spec(bm25_index: Path) -> None:
    assert load_retriever(str(bm25_index)).search("Berlin", 1)[0].id == "p-berlin"


def test_unknown_spec_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="expected 'default', an index dir"):
        load_retriever(str(tmp_path / "nothing-here"))


def test_default_is_bm25_over_the_bundled_corpus(cache: Path) -> None:
    from agentdistill.retrieval.corpus import default_corpus_path

    assert Path(default_corpus_path()).is_file(), "the bundled corpus ships with the package"
    retriever = load_retriever("default", progress=False)
    assert retriever.num_docs > 10_000  # type: ignore[attr-defined]
    out = SearchTool(retriever)("Kiss and Tell 1945 film Corliss Archer")
    assert out.startswith("[1] Kiss and Tell (1945 film)")
