"""A model endpoint that answers badly or not at all, through the real CLI and a scripted real HTTP server
(tests/local_servers.py): a 200 that is not a completion is named (URL and problem) by `chat`, `run`, `generate`
and `eval`, with no traceback and a non-zero exit; a dead endpoint stops `generate` and `eval` after 3 attempts
in a row, keeping the records written, and the next run resumes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_servers import Scripted, chat_reply, free_port, scripted_server

from .helpers import assert_one_line_error, run_cli, write_tasks

NO_CHOICES = {"id": "x"}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture
def bad_server() -> Any:
    with scripted_server(lambda *_: Scripted(NO_CHOICES)) as root:
        yield root + "/v1"


def test_chat_names_the_url_and_the_problem(bad_server: str) -> None:
    r = run_cli("chat", f"openai:m@{bad_server}", "hi")
    assert_one_line_error(
        r, f"{bad_server}/chat/completions: response has no 'choices'", '(body: {"id": "x"})'
    )


def test_chat_shows_an_error_object_sent_with_200() -> None:
    body = {"error": {"message": "model 'm' not found", "code": 404}}
    with scripted_server(lambda *_: Scripted(body)) as root:
        r = run_cli("chat", f"openai:m@{root}/v1", "hi")
    assert_one_line_error(
        r, f"{root}/v1/chat/completions: the server answered with an error: model 'm' not found"
    )


def test_chat_joins_content_parts() -> None:
    parts = [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": parts}}]}
    with scripted_server(lambda *_: Scripted(body)) as root:
        r = run_cli("chat", f"openai:m@{root}/v1", "hi")
    assert r.code == 0 and r.stdout.strip() == "Hello there", (r.stdout, r.stderr)


def test_run_shows_the_problem_and_exits_1(bad_server: str) -> None:
    r = run_cli("run", "What is 2+2?", "--model", f"openai:m@{bad_server}", "--retriever", "none")
    assert r.code == 1, (r.stdout[-2000:], r.stderr[-2000:])
    flat = re.sub(r"[\s│╭╮╰╯─]+", "", r.stdout)  # the error panel, unwrapped
    assert (
        "GenerationError" in flat
        and re.sub(r"\s", "", f"{bad_server}/chat/completions:responsehasno'choices'") in flat
    )
    assert "Traceback" not in r.stdout + r.stderr and "IndexError" not in r.stdout


def test_generate_and_eval_record_the_problem(bad_server: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 2)
    out = tmp_path / "g.jsonl"
    gen = run_cli(
        "generate", "-t", tasks, "--mode", "cot", "--teacher", f"openai:m@{bad_server}", "--out", out
    )
    assert gen.code == 1 and "2 attempt(s) failed" in gen.stderr, gen.stderr[-2000:]
    want = f"GenerationError: {bad_server}/chat/completions: response has no 'choices'"
    assert [r["error"] for r in _lines(out)] == [f'{want} (body: {{"id": "x"}})'] * 2
    run = tmp_path / "run"
    ev = run_cli("eval", "--model", f"openai:m@{bad_server}", "-s", tasks, "--out", run, "--mode", "cot")
    assert ev.code == 1 and "2 question(s) failed" in ev.stderr, ev.stderr[-2000:]
    assert all(r["failure"].startswith(want) for r in _lines(run / "results.jsonl"))


@pytest.mark.timeout(120)
def test_generate_stops_on_a_dead_endpoint_and_resumes(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 8)
    out = tmp_path / "g.jsonl"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    args = ("generate", "-t", tasks, "--mode", "cot", "--out", out, "--concurrency", "3")
    r = run_cli(*args, "--teacher", f"openai:m@{dead}")
    assert_one_line_error(
        r, "stopped: the model endpoint is unreachable", f"no answer from {dead}", str(out), alone=False
    )
    recs = _lines(out)
    assert len(recs) == 3 and all(x["error"].startswith("EndpointUnreachableError: ") for x in recs)
    with scripted_server(lambda *_: Scripted(chat_reply("The answer is 4."))) as root:
        again = run_cli(*args, "--teacher", f"openai:m@{root}/v1")
    assert again.code == 0, again.stderr[-2000:]
    recs = _lines(out)
    assert len(recs) == 3 + 8 and not any(x["error"] for x in recs[3:])  # the 3 failures retried, 5 new


@pytest.mark.timeout(120)
def test_eval_stops_on_a_dead_endpoint_keeps_and_summarises_its_records(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 8)
    run = tmp_path / "run"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    r = run_cli("eval", "--model", f"openai:m@{dead}", "-s", tasks, "--out", run, "--mode", "cot")
    assert_one_line_error(
        r, "stopped: the model endpoint is unreachable", f"no answer from {dead}", alone=False
    )
    recs = _lines(run / "results.jsonl")
    assert len(recs) == 3 and all(x["failure"].startswith("EndpointUnreachableError: ") for x in recs)
    summary = json.loads((run / "summary.json").read_text())["per_set"]["t"]
    assert summary["failed"] == 3 and summary["n"] == 0
