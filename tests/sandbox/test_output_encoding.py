"""Text from the worker is valid Unicode on the host: a lone surrogate written by model code (``print('\\udc80')``,
an exception message, a final answer, a tool argument, or a JSON escape sent on the raw channel) must not reach
host code that encodes it as UTF-8 (trajectory JSONL, HTTP requests to the model server) and crash it."""

from __future__ import annotations

import json

import pytest

from agentdistill.sandbox import Sandbox

from .conftest import FAST

RAW_FINAL = (
    'import struct\nd = b\'{"op": "final", "value": {"\\\\udc80k": "v\\\\ud800"}}\'\n'
    "search.chan.sock.sendall(struct.pack('!I', len(d)) + d)\nprint('sent')"
)
RAW_BYTES = (
    'import struct\nd = b\'{"op": "final", "value": "\\xed\\xb2\\x80"}\'\n'
    "search.chan.sock.sendall(struct.pack('!I', len(d)) + d)\nprint('sent')"
)
CASES = [
    ("print", "print('a\\udc80b', '\\ud83d', '\\ud83d\\ude00')"),
    ("exception", "raise ValueError('bad \\udc80 value')"),
    ("exception_type", "raise type('E\\udc80', (Exception,), {})('x')"),
    ("final_answer", "final_answer({'k\\udc80': ['\\udfff']})"),
    ("tool_arg", "search('q\\udc80', key='\\ud800')"),
    ("raw_json_escape", RAW_FINAL),
    ("raw_surrogate_bytes", RAW_BYTES),
]


def _search(q: str = "", key: str = "") -> str:
    return f"passages about {q}{key}"


def _utf8(value: object) -> None:
    json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")  # what JsonlAppender and HTTP do


@pytest.mark.parametrize(("name", "code"), CASES, ids=[c[0] for c in CASES])
def test_every_string_from_the_worker_encodes_as_utf8(name: str, code: str):
    with Sandbox(tools={"search": _search}, config=FAST) as sb:
        r = sb.run(code)
        for value in (r.stdout, r.observation, r.final_answer, r.final_answer_text, r.tool_calls):
            _utf8(value)
        _utf8(r.error.__dict__ if r.error else None)
        if name == "print":
            assert r.stdout == "a\ufffdb \ufffd \U0001f600\n"  # a split pair joins again
        if name == "final_answer":
            assert r.final_answer == {"k\ufffd": ["\ufffd"]}
        if name == "tool_arg":
            assert r.tool_calls[0]["args"] == ["q\ufffd"], r.tool_calls
        assert sb.run("print(6 * 7)").stdout == "42\n"
