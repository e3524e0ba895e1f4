"""The /retrieve service on 127.0.0.1 (real uvicorn in a thread) and the HTTP client against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agentdistill.cli.main import app as cli_app
from agentdistill.retrieval.client import HTTPRetriever, RetrievalError
from agentdistill.retrieval.index import open_index
from agentdistill.retrieval.loader import load_retriever
from agentdistill.retrieval.server import create_app
from agentdistill.retrieval.tool import SearchTool
from local_servers import free_port, serve_in_thread


@pytest.fixture(scope="module")
def server_url(bm25_index: Path) -> Iterator[str]:
    with serve_in_thread(create_app(open_index(bm25_index), max_topk=20)) as url:
        yield url


def test_health(server_url: str) -> None:
    body = httpx.get(server_url + "/health").json()
    assert body["status"] == "ok" and body["num_docs"] == 8 and body["kind"] == "bm25"


def test_search_r1_wire_format(server_url: str) -> None:
    payload = {"queries": ["capital of Germany", "Nile"], "topk": 2, "return_scores": True}
    body = httpx.post(server_url + "/retrieve", json=payload).json()
    first = body["result"][0][0]
    assert set(first) == {"document", "score"} and first["score"] > 0
    assert first["document"]["id"] == "p-berlin"
    assert first["document"]["contents"].startswith('"Berlin"\nBerlin is the capital')
    assert body["result"][1][0]["document"]["id"] == "p-nile"
    plain = httpx.post(server_url + "/retrieve", json={"queries": ["Nile"], "topk": 1}).json()
    assert plain == {"result": [[{"id": "p-nile", "contents": plain["result"][0][0]["contents"]}]]}
    assert httpx.post(server_url + "/retrieve", json={"queries": []}).json() == {"result": []}


def test_client_round_trip_matches_in_process(server_url: str, bm25_index: Path) -> None:
    local = open_index(bm25_index)
    remote = load_retriever(server_url)
    assert isinstance(remote, HTTPRetriever)
    queries = ["Shirley Temple", "programming language readability", "the of"]
    assert remote.batch_search(queries, k=2) == local.batch_search(queries, k=2)
    assert remote.search("Mount Everest", 1)[0].title == "Mount Everest"
    assert HTTPRetriever(server_url + "/retrieve").search("Paris", 1)[0].id == "p-paris"
    tool = SearchTool(remote, k=1)
    assert tool("river Seine").startswith("[1] Paris\nParis is the capital")


def test_concurrent_requests_are_batched_and_answered_correctly(server_url: str) -> None:
    names = {
        "Paris": "p-paris",
        "Berlin": "p-berlin",
        "Everest": "p-everest",
        "Nile": "p-nile",
        "Python": "p-python",
    }
    client = HTTPRetriever(server_url)
    before = httpx.get(server_url + "/health").json()
    jobs = [(q, want, k) for _ in range(8) for k, (q, want) in enumerate(names.items(), start=1)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda job: client.search(job[0], job[2]), jobs))
    for (_, want, k), hits in zip(jobs, results, strict=True):
        assert hits[0].id == want and len(hits) <= k
    after = httpx.get(server_url + "/health").json()
    assert after["queries"] - before["queries"] == len(jobs)
    assert after["batches"] - before["batches"] <= len(jobs)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"topk": 3}, "queries: Field required"),
        ({"queries": "capital"}, "queries: Input should be a valid list"),
        ({"queries": ["a", 5]}, "queries.1: Input should be a valid string"),
        ({"queries": ["a"], "topk": "three"}, "topk: Input should be a valid integer"),
        ({"queries": ["a"], "topk": 0}, "topk must be between 1 and 20"),
        ({"queries": ["a"], "topk": 21}, "topk must be between 1 and 20"),
    ],
)
def test_bad_requests_get_400_with_message(server_url: str, payload: dict, fragment: str) -> None:
    response = httpx.post(server_url + "/retrieve", json=payload)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_invalid_json_body_is_400(server_url: str) -> None:
    response = httpx.post(
        server_url + "/retrieve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "invalid request" in response.json()["error"]


def test_client_raises_server_message_on_400(server_url: str) -> None:
    with pytest.raises(RetrievalError, match="topk must be between 1 and 20"):
        HTTPRetriever(server_url).search("Paris", k=50)


def test_client_against_dead_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = HTTPRetriever(url, timeout=2, retries=1, backoff=0.01)
    with pytest.raises(RetrievalError, match="failed after 2 attempts"):
        client.search("Paris")
    assert SearchTool(client)("Paris").startswith("Search failed: RetrievalError:")


def test_serve_retriever_missing_index_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app, ["serve-retriever", str(tmp_path / "nope"), "--port", str(free_port())]
    )
    assert result.exit_code == 2
    assert "not found" in result.output and "nope" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli_app, ["serve-retriever", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "not an agentdistill index" in result.output


def test_cli_build_and_search(tiny_corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "idx"
    result = runner.invoke(cli_app, ["index", "build", str(tiny_corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "8 passages" in result.output
    result = runner.invoke(cli_app, ["index", "search", str(out), "Mount Everest", "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["query"] == "Mount Everest" and line["passages"][0]["id"] == "p-everest"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "title": "x"}\n')
    result = runner.invoke(cli_app, ["index", "build", str(bad), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "bad.jsonl, line 1: field 'text' missing" in result.output
    assert not (tmp_path / "bad").exists()
