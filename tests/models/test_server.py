"""The managed llama-server: built from the pinned llama.cpp sources, real 135M model, real HTTP.

The binaries are built once per machine (`make test` builds them before pytest: `python -m
agentdistill.models.server`); the fixture builds them if that step was skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentdistill.llm.types import ContextOverflowError, GenerationConfig, GenerationError
from agentdistill.models.loading import load_llm
from agentdistill.models.server import SERVED_TIMEOUT, ServerError, ensure_server_binaries, serve_model

STOP = ("<|im_end|>", "<|endoftext|>")
MSGS = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three colours of the rainbow."},
]


@pytest.fixture(scope="module")
def bins() -> Any:
    return ensure_server_binaries()


def _alive(url: str) -> bool:
    try:
        return httpx.get(url.removesuffix("/v1") + "/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_binaries_are_cached_executables(bins: Any) -> None:
    for path in (bins.server, bins.batched_bench):
        assert path.is_file() and os.access(path, os.X_OK), path
    info = json.loads((bins.server.parent.parent / "built.json").read_text())
    assert info["version"] == bins.version
    assert "-DGGML_NATIVE=OFF" in info["flags"] and "-DGGML_AMX_INT8=OFF" in info["flags"]  # DESIGN.md §6
    assert ensure_server_binaries() == bins  # second call: the cache, no rebuild


def test_serve_model_health_log_and_stop(bins: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    with serve_model(str(tiny_gguf), parallel=2, n_ctx=1024, log_dir=tmp_path) as served:
        assert served.url.startswith("http://127.0.0.1:") and _alive(served.url)
        assert served.spec == f"openai:{served.name}@{served.url}"
        props = httpx.get(served.url.removesuffix("/v1") + "/props", timeout=5).json()
        assert props["total_slots"] == 2
    assert served.process.poll() is not None  # stopped when the block ended
    assert not _alive(served.url)
    log = served.log_path.read_text()
    assert served.log_path.parent == tmp_path and "--kv-unified" in log and "llama-server" in log


def test_greedy_matches_in_process_backend(bins: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    """Same prompt text (GGUF template rendered client-side), same weights: same greedy tokens."""
    cfg = GenerationConfig(max_tokens=40, temperature=0.0, stop=STOP)
    local = load_llm(f"llamacpp:{tiny_gguf}", n_ctx=1024)
    try:
        want, want_prefixed = local.generate(MSGS, cfg).text, local.generate(MSGS, cfg, prefix="The").text
    finally:
        local.close()
    llm = load_llm(f"server:{tiny_gguf}", parallel=2, n_ctx=1024, log_dir=str(tmp_path))
    try:
        got = llm.generate(MSGS, cfg)
        assert got.text == want and got.usage.completion_tokens > 0
        assert llm.generate(MSGS, cfg, prefix="The").text == want_prefixed
    finally:
        llm.close()
    assert not _alive(llm.served.url)  # close() stopped the server it owned


def test_n_samples_in_one_request_and_prefix_reuse(bins: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    llm = load_llm(f"server:{tiny_gguf}", parallel=4, n_ctx=1024, log_dir=str(tmp_path))
    try:
        res = llm.generate(MSGS, GenerationConfig(max_tokens=24, temperature=1.0, n=4, seed=7, stop=STOP))
        assert len(res.completions) == 4 and len({c.text for c in res.completions}) >= 2
        assert [s["requests"] for s in llm.stats().values()] == [1]  # the server honoured n: no top-up
        turn1 = llm.generate(MSGS, GenerationConfig(max_tokens=24, stop=STOP))
        msgs2 = [
            *MSGS,
            {"role": "assistant", "content": turn1.text},
            {"role": "user", "content": "And two more?"},
        ]
        turn2 = llm.generate(msgs2, GenerationConfig(max_tokens=8, stop=STOP))
        # the episode's earlier turn stays in a slot's KV cache: only the new tokens are prefilled
        assert turn2.usage.cached_prompt_tokens >= turn1.usage.prompt_tokens - 1 > 0
    finally:
        llm.close()


def _cached_after_another_prompt(tiny_gguf: Path, log_dir: Path, **options: Any) -> tuple[int, int]:
    """An agent-like prompt, a CoT-like prompt on the same single slot, then the agent-like prompt's family
    again (a first-thought-prefix rollout's pattern): (first request's prompt tokens, third's cached tokens)."""
    system = "You solve tasks by writing Python code. " + " ".join(
        f"Rule {i}: print what you use." for i in range(30)
    )
    agent = [{"role": "system", "content": system}, {"role": "user", "content": "What is 2 + 2?"}]
    cot = [
        {"role": "system", "content": "Think step by step."},
        {"role": "user", "content": "What is 3 + 3?"},
    ]
    again = [agent[0], {"role": "user", "content": "What is 5 + 5?"}]
    llm = load_llm(f"server:{tiny_gguf}", parallel=1, n_ctx=1024, log_dir=str(log_dir), **options)
    try:
        first = llm.generate(agent, GenerationConfig(max_tokens=4, stop=STOP))
        llm.generate(cot, GenerationConfig(max_tokens=4, stop=STOP))
        third = llm.generate(again, GenerationConfig(max_tokens=4, stop=STOP))
    finally:
        llm.close()
    return first.usage.prompt_tokens, third.usage.cached_prompt_tokens


def test_a_prompt_family_keeps_its_prefix_when_another_takes_the_slot(
    bins: Any, tiny_gguf: Path, tmp_path: Path
) -> None:
    prompt_tokens, cached = _cached_after_another_prompt(tiny_gguf, tmp_path)
    # the system prompt came back from the RAM cache
    assert prompt_tokens > 150 and cached >= prompt_tokens - 20
    prompt_tokens, cached = _cached_after_another_prompt(tiny_gguf, tmp_path, prompt_cache_mib=0)
    assert cached < 20  # without the prompt cache the CoT prompt evicted it: prefilled again


def test_a_negative_prompt_cache_is_refused(tiny_gguf: Path) -> None:
    with (
        pytest.raises(ServerError, match="prompt_cache_mib"),
        serve_model(str(tiny_gguf), prompt_cache_mib=-1),
    ):
        pass


def _generate_through_a_stall(llm: Any, seconds: float) -> Any:
    """Generate while the server process is stopped (SIGSTOP) for ``seconds``: stopped before the request is sent,
    so the request is in flight for the whole stall (the kernel still accepts the connection)."""
    pid = llm.served.process.pid
    os.kill(pid, signal.SIGSTOP)
    cont = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    cont.start()
    try:
        return llm.generate(MSGS, GenerationConfig(max_tokens=8, stop=STOP))
    finally:
        cont.join()


def test_a_slow_generation_is_waited_for_not_cut_and_retried(
    bins: Any, tiny_gguf: Path, tmp_path: Path
) -> None:
    # a reply comes when the whole generation is done: a loaded CPU makes it slow, not lost
    llm = load_llm(f"server:{tiny_gguf}", parallel=1, n_ctx=512, log_dir=str(tmp_path))
    try:
        assert llm._client.timeout.read == SERVED_TIMEOUT  # not the 120 s meant for remote APIs
        assert _generate_through_a_stall(llm, 4.0).text
        assert list(llm.stats().values()) == [{"requests": 1, "failures": 0}]  # no timeout, no retry
    finally:
        llm.close()
    short = load_llm(
        f"server:{tiny_gguf}", parallel=1, n_ctx=512, log_dir=str(tmp_path), timeout=1.0, retries=0
    )
    try:
        with pytest.raises(GenerationError, match="timed out|Timeout"):
            _generate_through_a_stall(short, 4.0)  # a caller's own short timeout still applies
    finally:
        short.close()


_CHILD = """
import sys
from agentdistill.models.server import start_server
s = start_server(sys.argv[1], parallel=1, n_ctx=512, log_dir=sys.argv[2])
print(s.url, s.process.pid, flush=True)
import time; time.sleep(600)
"""


def test_server_dies_with_the_run(bins: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    """SIGKILL of the process that started the server (no atexit runs) still ends the server."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tiny_gguf), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        url, pid = child.stdout.readline().split()  # type: ignore[union-attr]
        assert _alive(url)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _zombie(int(pid)):
            time.sleep(0.2)
        assert not _alive(url)
        assert not Path(f"/proc/{pid}").exists() or _zombie(int(pid))
    finally:
        if child.poll() is None:
            child.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_bad_specs_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match="not supported by the server backend"):
        load_llm("server:smollm2-135m", parallel=2, bogus=1)
    with pytest.raises(ServerError, match="GGUF file not found"):
        load_llm(f"server:{tmp_path / 'missing.gguf'}")
    with pytest.raises(ServerError, match="parallel must be >= 1"):
        load_llm("server:smollm2-135m", parallel=0)


def _content(obj: Any) -> Any:
    """A record without its wall-clock fields (timings and creation date differ between runs by nature)."""
    if isinstance(obj, dict):
        return {k: _content(v) for k, v in obj.items() if not (k.endswith("seconds") or k == "created_at")}
    if isinstance(obj, list):
        return [_content(v) for v in obj]
    return obj


def test_same_run_repeated_gives_identical_records(bins: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    """Agent rollouts through the server, run twice with the same settings (each with a fresh server)."""
    from agentdistill.data import load_tasks
    from agentdistill.distill.generate import GenerateSettings, generate

    tasks = load_tasks("gsm8k-test", limit=3)
    settings = GenerateSettings(ftp=False, sag_n=1, max_steps=2, max_tokens=48, concurrency=1)
    runs = []
    for i in range(2):
        llm = load_llm(f"server:{tiny_gguf}", parallel=2, n_ctx=2048, log_dir=str(tmp_path))
        try:
            generate(tasks, llm, tmp_path / f"run{i}.jsonl", settings)
        finally:
            llm.close()
        lines = (tmp_path / f"run{i}.jsonl").read_text().splitlines()
        runs.append(sorted((_content(json.loads(x)) for x in lines), key=lambda r: r["task"]["id"]))
    assert len(runs[0]) == 3 and any(r["steps"] for r in runs[0])
    assert sum(st["tokens"] for r in runs[0] for st in r["steps"]) > 0
    assert runs[0] == runs[1]


def test_a_request_past_the_context_is_a_context_overflow_not_an_outage(
    bins: Any, tiny_gguf: Path, tmp_path: Path
) -> None:
    """llama-server answers HTTP 400 "exceeds the available context size": the client raises
    ContextOverflowError (scored as a wrong answer by the agent loop, not retried as a failure) and keeps
    the endpoint in rotation."""
    llm = load_llm(f"server:{tiny_gguf}", parallel=1, n_ctx=256, log_dir=str(tmp_path))
    try:
        with pytest.raises(ContextOverflowError, match="HTTP 400") as err:
            llm.generate([{"role": "user", "content": "word " * 600}], GenerationConfig(max_tokens=8))
        assert "context" in str(err.value)
        assert [e.failures for e in llm.endpoints] == [0]
        assert llm.generate(MSGS, GenerationConfig(max_tokens=4, stop=STOP)).usage.completion_tokens > 0
    finally:
        llm.close()
