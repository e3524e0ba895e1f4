"""The retriever server's request caps, and fairness with one abusive caller beside 32 normal ones.

Behaviour, not timing: every oversized request is refused with 413 (never parsed or searched) and every normal
request is answered with the right passage while the abusive client keeps sending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from agentdistill.retrieval.index import open_index
from agentdistill.retrieval.server import create_app
from local_servers import serve_in_thread


class CountingIndex:
    """The real BM25 index, recording the longest query it was asked to search."""

    def __init__(self, inner):  # noqa: ANN001 - a Retriever
        self.inner, self.longest, self.kind, self.num_docs = inner, 0, "bm25", inner.num_docs

    def batch_search(self, queries: list[str], k: int):  # noqa: ANN201
        self.longest = max([self.longest, *map(len, queries)])
        return self.inner.batch_search(queries, k)

    def search(self, query: str, k: int = 3):  # noqa: ANN201
        return self.batch_search([query], k)[0]


@pytest.fixture(scope="module")
def limited(bm25_index: Path) -> Iterator[tuple[str, CountingIndex]]:
    index = CountingIndex(open_index(bm25_index))
    app = create_app(index, max_body_bytes=64 * 1024, max_query_chars=2000)
    with serve_in_thread(app) as url:
        yield url, index


def test_oversized_body_is_refused_with_413(limited: tuple[str, CountingIndex]) -> None:
    url, index = limited
    big = {"queries": ["Paris " * 200_000], "topk": 1}  # ~1.2 MB body
    r = httpx.post(url + "/retrieve", json=big, timeout=30)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert index.longest < 2000  # never searched


def test_long_query_under_the_body_cap_is_refused_with_413(limited: tuple[str, CountingIndex]) -> None:
    url, index = limited
    r = httpx.post(url + "/retrieve", json={"queries": ["Nile " * 1000], "topk": 1}, timeout=30)
    assert r.status_code == 413 and "query too long" in r.json()["error"]
    assert index.longest < 2000


def test_one_abusive_client_beside_32_normal_ones(limited: tuple[str, CountingIndex]) -> None:
    url, index = limited
    names = {"Paris": "p-paris", "Berlin": "p-berlin", "Everest": "p-everest", "Nile": "p-nile"}
    stop = threading.Event()
    abusive: list[tuple[int, str]] = []

    def abuse() -> None:
        body = {"queries": ["x" * (10 * 1024 * 1024)], "topk": 1}  # a 10 MB query, again and again
        with httpx.Client(timeout=60) as c:
            while not stop.is_set():
                r = c.post(url + "/retrieve", json=body)
                abusive.append((r.status_code, r.json().get("error", "")))

    def normal(i: int) -> list[bool]:
        ok = []
        with httpx.Client(timeout=60) as c:
            for j in range(6):
                name = list(names)[(i + j) % len(names)]
                r = c.post(url + "/retrieve", json={"queries": [name], "topk": 1})
                ok.append(r.status_code == 200 and r.json()["result"][0][0]["id"] == names[name])
        return ok

    bad = threading.Thread(target=abuse)
    bad.start()
    try:
        while not abusive:  # the abusive client is running before the normal ones start
            time.sleep(0.01)
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(normal, range(32)))
    finally:
        stop.set()
        bad.join(60)
    assert all(all(r) for r in results), "every normal request is answered correctly"
    assert sum(map(len, results)) == 32 * 6
    assert abusive and {code for code, _ in abusive} == {413}, "every abusive request is refused with 413"
    assert all(e.startswith("request body too large") for _, e in abusive)  # refused unread, never parsed
    assert index.longest < 2000, "no oversized query reached the index"
