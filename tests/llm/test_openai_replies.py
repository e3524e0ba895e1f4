"""The openai: backend against a scripted real HTTP server (tests/local_servers.py): a 200 whose body is not a
completion is one GenerationError naming the URL and the problem; content parts are joined; the timeout bounds
a whole attempt, so a server that trickles bytes is cut off like one that stalls; an endpoint that accepts no
connection is an EndpointUnreachableError."""

from __future__ import annotations

import gzip
import json
import re
import time
from typing import Any

import pytest

from agentdistill.llm import GenerationConfig, GenerationError
from agentdistill.llm.openai_http import OpenAIHTTPLLM
from agentdistill.llm.types import EndpointUnreachableError
from local_servers import Scripted, chat_reply, free_port, scripted_server

Q = [{"role": "user", "content": "hi"}]
GEN = GenerationConfig(max_tokens=8)


def _choice(**fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": "stop", **fields}]}


BAD_BODIES = [
    ({"error": {"message": "model 'm' not found", "type": "invalid_request_error"}}, "model 'm' not found"),
    ({"object": "error", "message": "The model `m` does not exist.", "code": 404}, "The model `m` does not exist."),
    ({"id": "x"}, "response has no 'choices'"),
    ({"choices": []}, "response has an empty 'choices' list"),
    ([1, 2, 3], "response is a JSON array, not a completion object"),
    ('"ok"', "response is a JSON string, not a completion object"),  # sent as is: a JSON string
    (None, "response is a JSON null"),
    ({"choices": ["hello"]}, "'choices[0]' should be a valid dictionary"),
    ({"choices": {"0": {}}}, "'choices' should be a valid list"),
    ({"choices": [{"index": 0}]}, "'choices[0]' has neither 'message' nor 'text'"),
    ({**_choice(), "usage": {"completion_tokens": "lots"}}, "'usage.completion_tokens' should be a valid integer"),
    (_choice(index="a"), "'choices[0].index' should be a valid integer"),
    (_choice(message={"content": 5}), "'choices[0].message.content' should be a string or a list of content parts"),
    (_choice(message={"content": ["hi"]}), "'choices[0].message.content' part 0 should be an object"),
    (_choice(text=["a"], message=None), "'choices[0].text' should be a valid string"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "problem"), BAD_BODIES, ids=[p[:40] for _, p in BAD_BODIES])
def test_a_200_that_is_not_a_completion_names_the_url_and_the_problem(body: Any, problem: str) -> None:
    with scripted_server(lambda *_: Scripted(body)) as root:
        url = f"{root}/v1"
        with OpenAIHTTPLLM("m", [url], retries=0) as llm, pytest.raises(GenerationError) as info:
            llm.generate(Q, GEN)
    msg = str(info.value)
    assert msg.startswith(f"{url}/chat/completions: "), msg
    assert problem in msg, msg
    assert len(msg) < 700 and "\n" not in msg


def test_the_error_quotes_the_start_of_a_long_body() -> None:
    body = {"id": "x" * 5000}
    with (
        scripted_server(lambda *_: Scripted(body)) as root,
        OpenAIHTTPLLM("m", [root + "/v1"], retries=0) as llm,
        pytest.raises(GenerationError) as info,
    ):
        llm.generate(Q, GEN)
    assert re.search(r"\(body: \{\"id\": \"x+…\)$", str(info.value)) and len(str(info.value)) < 400


def test_content_parts_are_joined_and_odd_but_valid_replies_are_read() -> None:
    parts = [
        {"type": "text", "text": "Hello, "},
        {"type": "image_url", "image_url": {}},
        {"type": "text", "text": "world"},
    ]
    replies = {
        "parts": _choice(message={"role": "assistant", "content": parts}),
        "null": {**_choice(message={"content": None}), "usage": None},  # a tool call: no text
        "numeric": {**_choice(index="0"), "usage": {"completion_tokens": "7", "prompt_tokens_details": None}},
    }  # fmt: skip
    seen: list[str] = []

    def answer(method: str, path: str, body: Any) -> Scripted:
        seen.append(f"{method} {path}")
        return Scripted(replies[body["messages"][0]["content"]])

    with scripted_server(answer) as root, OpenAIHTTPLLM("m", [root + "/v1"], retries=0) as llm:
        got = {k: llm.generate([{"role": "user", "content": k}], GEN) for k in replies}
    assert got["parts"].text == "Hello, world"
    assert got["null"].text == "" and got["null"].usage.completion_tokens == 0
    assert got["numeric"].completions[0].tokens == 7
    assert seen == ["POST /v1/chat/completions"] * 3


def test_a_gzip_body_is_decoded() -> None:
    data = gzip.compress(json.dumps(chat_reply("zipped")).encode())
    with (
        scripted_server(lambda *_: Scripted(data, headers={"Content-Encoding": "gzip"})) as root,
        OpenAIHTTPLLM("m", [root + "/v1"], retries=0) as llm,
    ):
        assert llm.generate(Q, GEN).text == "zipped"


@pytest.mark.timeout(60)
def test_a_trickling_server_is_cut_off_at_the_timeout_like_a_stalled_one() -> None:
    """One byte every 0.2 s after the headers: every read is quick, the whole answer would take minutes."""
    body = json.dumps(chat_reply("slow " * 200))
    with scripted_server(lambda *_: Scripted(body, trickle=0.2)) as root:
        url = root + "/v1"
        with OpenAIHTTPLLM("m", [url], retries=1, backoff=0.01, timeout=2) as llm:
            start = time.monotonic()
            with pytest.raises(
                GenerationError, match=f"no answer from {url} after 2 attempts.*ReadTimeout"
            ) as info:
                llm.generate(Q, GEN)
            took = time.monotonic() - start
    assert took < 20, took  # a behaviour bound: two attempts of ~2 s each, not the minutes of the trickle
    assert "not complete after the 2 s timeout" in str(info.value)


@pytest.mark.timeout(60)
def test_a_slow_but_steady_answer_within_the_timeout_is_read() -> None:
    body = json.dumps(chat_reply("ok"))  # ~170 bytes at 0.002 s: well within 5 s
    with (
        scripted_server(lambda *_: Scripted(body, trickle=0.002)) as root,
        OpenAIHTTPLLM("m", [root + "/v1"], retries=0, timeout=5) as llm,
    ):
        assert llm.generate(Q, GEN).text == "ok"


def test_no_connection_is_an_endpoint_unreachable_error_and_a_timeout_is_not() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with OpenAIHTTPLLM("m", [dead], retries=1, backoff=0.01) as llm:
        with pytest.raises(
            EndpointUnreachableError, match=f"no answer from {dead} after 2 attempts.*ConnectError"
        ):
            llm.generate(Q, GEN)
        with pytest.raises(EndpointUnreachableError, match=dead):
            llm.check_reachable()
    with (
        scripted_server(lambda *_: Scripted("{}", trickle=1.0)) as root,
        OpenAIHTTPLLM("m", [root + "/v1"], retries=0, timeout=1) as llm,
        pytest.raises(GenerationError, match="ReadTimeout") as info,
    ):
        llm.generate(Q, GEN)
    assert not isinstance(info.value, EndpointUnreachableError)  # it connected: the server is there


def test_check_reachable_passes_on_any_http_answer() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with (
        scripted_server(lambda *_: Scripted({"detail": "Not Found"}, status=404)) as root,
        OpenAIHTTPLLM("m", [dead, root + "/v1"], retries=0) as llm,
    ):
        llm.check_reachable()  # one dead endpoint of two, the other answers (404): reachable
