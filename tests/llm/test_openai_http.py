"""HTTP backend against real llama.cpp servers (python -m llama_cpp.server) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp.server.app  # noqa: F401 - pinned ([server] extra): a failed import fails the suite
import pytest

from agentdistill.llm import GenerationConfig, GenerationError
from agentdistill.llm.openai_http import OpenAIHTTPLLM
from agentdistill.models import load_llm
from local_servers import free_port, start_llama_server

Q = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]
OPEN = [{"role": "user", "content": "Write a short poem about the sea."}]


@pytest.fixture(scope="module")
def servers(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    logs = tmp_path_factory.mktemp("servers")
    started = [start_llama_server(tiny_gguf, logs / f"server{i}.log") for i in range(2)]
    yield [url for _, url in started]
    for proc, _ in started:
        proc.terminate()
        proc.wait(timeout=20)


def test_generation_and_stop(servers: list[str]) -> None:
    with load_llm(f"openai:smollm2@{servers[0]}") as llm:
        r = llm.generate(Q, GenerationConfig(max_tokens=32))
        assert "Paris" in r.text and r.usage.prompt_tokens > 0
        s = llm.generate(Q, GenerationConfig(max_tokens=32, stop=("Paris",)))
        assert "Paris" not in s.text and s.text == r.text[: r.text.index("Paris")]


def test_prefix_continued_via_completions(servers: list[str]) -> None:
    with load_llm(f"openai:smollm2@{servers[0]}") as llm:
        assert not llm._use_chat_continue()  # llama.cpp server: auto picks client-side template
        r = llm.generate(Q, GenerationConfig(max_tokens=12), prefix="Thought: The capital of France is")
        assert not r.text.lstrip().startswith("Thought") and "Paris" in r.text


def test_n_emulated_with_distinct_seeds(servers: list[str]) -> None:
    with load_llm(f"openai:smollm2@{servers[0]}") as llm:
        r = llm.generate(OPEN, GenerationConfig(max_tokens=24, n=3, temperature=1.0, seed=11))
        assert len(r.completions) == 3 and len({c.text for c in r.completions}) == 3
        again = llm.generate(OPEN, GenerationConfig(max_tokens=24, n=3, temperature=1.0, seed=11))
        assert [c.text for c in again.completions] == [c.text for c in r.completions]


def test_load_balanced_over_two_servers(servers: list[str]) -> None:
    with load_llm(f"openai:smollm2@{servers[0]},{servers[1]}", max_concurrency=4) as llm:
        assert isinstance(llm, OpenAIHTTPLLM)
        r = llm.generate(Q, GenerationConfig(max_tokens=8, n=4, temperature=0.8, seed=1))
        assert len(r.completions) == 4
        stats = llm.stats()
        assert all(v["requests"] >= 1 for v in stats.values()), stats


def test_closed_port_gives_clear_error_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAIHTTPLLM("m", [url], retries=2, backoff=0.01, timeout=2)
    with pytest.raises(GenerationError, match=f"no answer from {url}.*3 attempts.*ConnectError"):
        llm.generate(Q, GenerationConfig(max_tokens=4))
    assert llm.stats()[url]["failures"] == 3


def test_dead_endpoint_is_skipped(servers: list[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with OpenAIHTTPLLM("m", [dead, servers[1]], retries=2, backoff=0.01) as llm:
        for _ in range(3):
            assert llm.generate(Q, GenerationConfig(max_tokens=4)).completions
        assert llm.stats()[servers[1]]["requests"] == 3 and llm.stats()[dead]["failures"] == 1


def test_bad_spec() -> None:
    with pytest.raises(GenerationError, match="openai spec must be"):
        load_llm("openai:no-url")
    with pytest.raises(GenerationError, match="http"):
        load_llm("openai:m@ftp://x")
