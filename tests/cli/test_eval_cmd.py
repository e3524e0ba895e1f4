"""`agentdistill eval` with the real 135M model: stamps, resume after a kill, the openai: backend, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdistill.evaluate.records import load_run
from local_servers import start_llama_server

from .helpers import (
    assert_one_line_error,
    cli_command,
    run_cli,
    run_subprocess,
    write_tasks,
)

FAST = ("--mode", "cot", "--max-tokens", "32", "--n-ctx", "2048")


def _records(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def test_eval_refuses_to_resume_other_settings_and_announces_resume(tiny_gguf: Path, tmp_path: Path) -> None:
    tasks, run = write_tasks(tmp_path / "t.jsonl", 2), tmp_path / "run"
    first = run_subprocess("eval", "--model", "smollm2-135m", "-s", tasks, "--out", run, *FAST)
    assert first.code == 0, first.stderr[-2000:]
    assert len(_records(run)) == 2
    again = run_subprocess("eval", "--model", "smollm2-135m", "-s", tasks, "--out", run, *FAST)
    assert again.code == 0 and "resuming" in again.stderr and "2 of 2 already done, skipped" in again.stderr
    other = run_cli(
        "eval",
        "--model",
        "smollm2-135m",
        "-s",
        tasks,
        "--out",
        run,
        "--mode",
        "cot",
        "--max-tokens",
        "48",
        "--n-ctx",
        "2048",
    )
    assert_one_line_error(other, "max_tokens: 32 -> 48", "refusing to resume")
    assert len(_records(run)) == 2  # nothing appended


def test_eval_resumes_after_a_kill(tiny_gguf: Path, tmp_path: Path) -> None:
    tasks, run = write_tasks(tmp_path / "t.jsonl", 5), tmp_path / "run"
    args = ("eval", "--model", "smollm2-135m", "-s", tasks, "--out", run, *FAST)
    proc = subprocess.Popen(cli_command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = run / "results.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _records(run)
    assert 1 <= len(first) < 5
    done = run_subprocess(*args)
    assert done.code == 0, done.stderr[-2000:]
    recs = _records(run)
    assert sorted(r["task"]["id"] for r in recs) == [f"t{i}" for i in range(5)]  # none lost, none twice
    assert recs[: len(first)] == first
    summary = json.loads((run / "summary.json").read_text())
    assert summary["per_set"]["t"]["n"] == 5


@pytest.fixture(scope="module")
def servers(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list]:
    logs = tmp_path_factory.mktemp("llama-servers")
    started = [start_llama_server(tiny_gguf, logs / f"s{i}.log") for i in range(2)]
    yield started
    for proc, _ in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def _eval_cot(url: str, tasks: Path, run: Path):  # noqa: ANN202 - the CLI's result
    return run_subprocess("eval", "--model", f"openai:tiny@{url}", "-s", tasks, "--out", run, "--mode", "cot",
                          "--max-tokens", "24")  # fmt: skip


def test_eval_with_openai_backend_down_then_up(servers: list, tmp_path: Path) -> None:
    """n_ctx is not forced on the openai: backend; an unreachable endpoint is a failure, not a wrong answer."""
    _, (_, url) = servers  # server B: the failover test kills A
    tasks, run = write_tasks(tmp_path / "t.jsonl", 2), tmp_path / "run"
    dead = "http://127.0.0.1:9/v1"  # discard port: connection refused
    down = _eval_cot(dead, tasks, run)
    assert down.code == 1 and "2 question(s) failed" in down.stderr, down.stderr[-2000:]
    recs = _records(run)
    assert len(recs) == 2 and all(r["failure"] for r in recs)
    summary = json.loads((run / "summary.json").read_text())["per_set"]["t"]
    assert summary["n"] == 0 and summary["failed"] == 2 and summary["accuracy"] == 0.0
    assert any("2 question(s) failed" in w for w in load_run(run).warnings)  # the report counts them
    up = _eval_cot(url, tasks, run)
    assert up.code == 0, up.stderr[-2000:]
    recs = _records(run)
    assert len(recs) == 4 and not any(r["failure"] for r in recs[2:])  # retried, appended
    summary = json.loads((run / "summary.json").read_text())["per_set"]["t"]
    assert summary["n"] == 2 and summary["failed"] == 0
    loaded = load_run(run)
    assert len(loaded.records) == 2 and not loaded.warnings  # the retries replace the failures


def test_pipeline_with_an_openai_teacher(servers: list, tmp_path: Path) -> None:
    """A pipeline config may name an OpenAI-compatible server: its n_ctx is not forced on the backend."""
    _, (_, url) = servers
    work = tmp_path / "w"
    r = run_subprocess(
        "pipeline",
        "smoke",
        "--stages",
        "generate",
        "--workdir",
        work,
        "--set",
        f"teacher.model=openai:tiny@{url}",
        "--set",
        "generate.mode=cot",
        "--set",
        "generate.tasks=[{set: gsm8k-train, limit: 1}]",
        "--set",
        "generate.max_tokens=24",
        "--set",
        "retriever=''",
    )
    assert r.code == 0, r.stderr[-3000:]
    recs = [json.loads(x) for x in (work / "generate" / "cot.jsonl").read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["error"] is None and recs[0]["model"] == "tiny"


def test_eval_fails_over_when_an_endpoint_dies_mid_run(servers: list, tmp_path: Path) -> None:
    (proc_a, url_a), (_, url_b) = servers
    tasks, run = write_tasks(tmp_path / "t.jsonl", 6), tmp_path / "run"
    args = (
        "eval",
        "--model",
        f"openai:tiny@{url_a},{url_b}",
        "-s",
        tasks,
        "--out",
        run,
        "--mode",
        "cot",
        "--max-tokens",
        "24",
    )
    env = {**os.environ, "AGENTDISTILL_PROGRESS_SECONDS": "0"}
    proc = subprocess.Popen(
        cli_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    results = run / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (results.exists() and results.read_bytes().count(b"\n") >= 1):
        time.sleep(0.05)
    proc_a.kill()  # endpoint A dies mid-run
    proc_a.wait()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    recs = _records(run)
    assert len(recs) == 6 and not any(r["failure"] for r in recs), [r["failure"] for r in recs]


def test_eval_concurrency_on_an_embedded_model_serves_it_and_resumes_in_process(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    """--concurrency N on a local GGUF: a managed llama-server with N slots, same model name, same stamp."""
    tasks, run = write_tasks(tmp_path / "t.jsonl", 3), tmp_path / "run"
    batched = run_subprocess(
        "eval", "--model", "smollm2-135m", "-s", tasks, "--out", run, "--concurrency", "2", *FAST
    )
    assert batched.code == 0, batched.stderr[-2000:]
    assert "--concurrency 2: serving smollm2-135m with llama-server" in batched.stderr
    records = _records(run)
    assert len(records) == 3 and {r["model"] for r in records} == {"smollm2-135m"}
    again = run_subprocess("eval", "--model", "smollm2-135m", "-s", tasks, "--out", run, *FAST)
    assert again.code == 0 and "3 of 3 already done, skipped" in again.stderr  # concurrency is in no stamp
    assert "llama-server" not in again.stderr
