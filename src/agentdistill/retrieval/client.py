"""Client for a Search-R1-compatible `/retrieve` server, implementing the Retriever protocol.

Lets many agent workers (or machines) share one index process. Retries connection errors and 5xx with
backoff; a 4xx is the caller's mistake and is raised at once with the server's message.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from agentdistill.retrieval.corpus import split_contents
from agentdistill.retrieval.types import Passage


class RetrievalError(RuntimeError):
    pass


def _passage(item: Any) -> Passage:
    doc, score = (item["document"], item.get("score", 0.0)) if "document" in item else (item, 0.0)
    title = doc.get("title")
    if isinstance(title, str) and "text" in doc:
        text = doc["text"]
    else:
        title, text = split_contents(doc.get("contents", ""))
    return Passage(str(doc.get("id", "")), title, text, float(score))


class HTTPRetriever:
    """`HTTPRetriever("http://127.0.0.1:8000")` (or the full `.../retrieve` URL)."""

    kind = "http"

    def __init__(self, url: str, timeout: float = 30.0, retries: int = 2, backoff: float = 0.5):
        url = url.rstrip("/")
        self.base = url[: -len("/retrieve")] if url.endswith("/retrieve") else url
        self.url = self.base + "/retrieve"
        self.retries, self.backoff = retries, backoff
        self._client = httpx.Client(timeout=timeout)

    def search(self, query: str, k: int = 3) -> list[Passage]:
        return self.batch_search([query], k)[0]

    def batch_search(self, queries: list[str], k: int = 3) -> list[list[Passage]]:
        if not queries:
            return []
        body = self._post({"queries": list(queries), "topk": k, "return_scores": True})
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list) or len(result) != len(queries):
            raise RetrievalError(
                f"{self.url}: malformed response (expected 'result' with {len(queries)} lists)"
            )
        try:
            return [[_passage(item) for item in hits] for hits in result]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise RetrievalError(f"{self.url}: malformed passage in response ({exc})") from None

    def health(self) -> dict[str, Any]:
        response = self._client.get(self.base + "/health")
        response.raise_for_status()
        return response.json()

    def _post(self, payload: dict[str, Any]) -> Any:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code >= 500:
                last = RetrievalError(
                    f"{self.url}: server error {response.status_code}: {response.text[:200]}"
                )
                continue
            if response.status_code >= 400:
                try:
                    message = response.json().get("error", response.text)
                except ValueError:
                    message = response.text
                raise RetrievalError(f"{self.url}: {response.status_code} {message}")
            return response.json()
        raise RetrievalError(f"{self.url}: request failed after {self.retries + 1} attempts: {last}")

    def close(self) -> None:
        self._client.close()
