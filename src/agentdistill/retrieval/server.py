"""Search-R1-compatible retriever service (FastAPI): POST /retrieve, GET /health.

Concurrent requests are merged by a micro-batcher: while one `batch_search` runs on the worker thread, new
requests queue up and go together in the next call, so many agent workers share one index efficiently
without adding latency when the server is idle.

One caller cannot stall the others: a request body over ``max_body_bytes`` (default 1 MiB) is refused with
413 while it streams in, before any parsing; a query over ``max_query_chars`` (default 4096) is refused with
413; a request holds at most ``max_queries`` queries (400 beyond).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agentdistill.retrieval.corpus import join_contents
from agentdistill.retrieval.types import Passage, Retriever

DEFAULT_TOPK = 3


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    queries: list[str] = Field(..., description="queries to search, answered in order")
    topk: int | None = Field(None, description="passages per query (default 3)")
    return_scores: bool = False


class BadRequest(ValueError):
    pass


class MicroBatcher:
    """Merge queued requests into one `batch_search` call (at most `max_batch` queries) on one worker thread."""

    def __init__(self, retriever: Retriever, max_batch: int = 128):
        self.retriever, self.max_batch = retriever, max_batch
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrieve")
        self.queue: asyncio.Queue[tuple[list[str], int, asyncio.Future]] | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.queries = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def search(self, queries: list[str], k: int) -> list[list[Passage]]:
        assert self.queue is not None, "batcher not started"
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self.queue.put((queries, k, future))
        return await future

    async def _run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0][0])
            while not self.queue.empty() and size < self.max_batch:
                batch.append(self.queue.get_nowait())
                size += len(batch[-1][0])
            queries = [q for qs, _, _ in batch for q in qs]
            k = max(k for _, k, _ in batch)
            try:
                results = await loop.run_in_executor(self.executor, self.retriever.batch_search, queries, k)
            except Exception as exc:  # fail the requests in this batch, keep serving
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.queries += len(queries)
            start = 0
            for qs, k_i, future in batch:
                if not future.done():
                    future.set_result([hits[:k_i] for hits in results[start : start + len(qs)]])
                start += len(qs)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return (
        "invalid request: "
        + "; ".join(parts)
        + ' (expected JSON {"queries": [str, ...], "topk": int, "return_scores": bool})'
    )


class TooLarge(ValueError):
    pass


class BodyLimit:
    """ASGI middleware: answer 413 to a request whose body exceeds ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit():
            size = int(declared) if int(declared) > self.max_bytes else 0
        while more:  # read the (bounded) body before the app sees it; past the limit, discard it unparsed
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if size > self.max_bytes:
                if not declared.isdigit():
                    size += len(chunk)
                if size > 64 * self.max_bytes and more:  # stop draining a huge upload: answer and close
                    break
                continue
            size += len(chunk)
            chunks.append(chunk)
        if size > self.max_bytes:
            await self._refuse(send, size)
            return
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: int) -> None:
        payload = f'{{"error": "request body too large: {size} bytes > limit {self.max_bytes}"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def create_app(
    retriever: Retriever,
    *,
    max_topk: int = 100,
    max_queries: int = 1024,
    max_batch: int = 128,
    max_body_bytes: int = 1 << 20,
    max_query_chars: int = 4096,
) -> FastAPI:
    """The FastAPI app; see the module docstring for the limits (413 / 400 beyond them)."""
    batcher = MicroBatcher(retriever, max_batch=max_batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="agentdistill retriever", lifespan=lifespan)
    app.state.batcher = batcher
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.exception_handler(TooLarge)
    async def on_large(request: Request, exc: TooLarge) -> JSONResponse:
        return JSONResponse(status_code=413, content={"error": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"error": _validation_message(exc)})

    @app.exception_handler(BadRequest)
    async def on_bad(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse(status_code=400, content={"error": str(exc)})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "kind": getattr(retriever, "kind", type(retriever).__name__),
            "num_docs": getattr(retriever, "num_docs", None),
            "batches": batcher.batches,
            "queries": batcher.queries,
        }

    @app.post("/retrieve")
    async def retrieve(request: RetrieveRequest) -> dict[str, Any]:
        k = DEFAULT_TOPK if request.topk is None else request.topk
        if not 1 <= k <= max_topk:
            raise BadRequest(f"invalid request: topk must be between 1 and {max_topk}, got {k}")
        if len(request.queries) > max_queries:
            raise BadRequest(
                f"invalid request: at most {max_queries} queries per request, got {len(request.queries)}"
            )
        longest = max((len(q) for q in request.queries), default=0)
        if longest > max_query_chars:
            raise TooLarge(f"query too long: {longest} characters > limit {max_query_chars}")
        results = await batcher.search(request.queries, k) if request.queries else []
        out = []
        for hits in results:
            docs = [{"id": p.id, "contents": join_contents(p.title, p.text)} for p in hits]
            if request.return_scores:
                out.append([{"document": d, "score": p.score} for d, p in zip(docs, hits, strict=True)])
            else:
                out.append(docs)
        return {"result": out}

    return app


def serve(
    spec: str, host: str = "127.0.0.1", port: int = 8000, *, max_batch: int = 128, log_level: str = "warning"
) -> None:
    """Open the index first (a missing one fails here, clearly), then serve until interrupted."""
    import uvicorn

    from agentdistill.retrieval.loader import load_retriever

    retriever = load_retriever(spec)
    uvicorn.run(create_app(retriever, max_batch=max_batch), host=host, port=port, log_level=log_level)
