"""Generation with the real 135M model: records, resume after a kill, no duplicates, no lost records."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentdistill.agent.records import read_trajectories
from agentdistill.agent.replay import ReplayLLM
from agentdistill.common.runs import StaleOutputError, record_key
from agentdistill.data import load_tasks
from agentdistill.distill.generate import GenerateSettings, attempt_seed, generate
from agentdistill.models.loading import load_llm

FAST = dict(max_steps=2, max_tokens=96)


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "agentdistill.cli.main",
        "generate",
        "-t",
        "gsm8k-train:4",
        "--teacher",
        "smollm2-135m",
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--max-tokens",
        "96",
        "--n-ctx",
        "4096",
        "--retriever",
        "",
        *extra,
    ]


def test_seeds_are_stable_and_distinct() -> None:
    assert attempt_seed(0, "a", 0) == attempt_seed(0, "a", 0)
    assert len({attempt_seed(0, "a", k) for k in range(8)}) == 8
    assert attempt_seed(0, "a", 0) != attempt_seed(1, "a", 0)


def test_generate_samples_and_resume_in_process(tiny_gguf: Path, tmp_path: Path) -> None:
    tasks = load_tasks("gsm8k-train", limit=2)
    out = tmp_path / "traj.jsonl"
    llm = load_llm("smollm2-135m", n_ctx=4096)
    try:
        s = GenerateSettings(samples=2, ftp=True, **FAST)
        summary = generate(tasks, llm, out, s)
        assert summary.attempts == 4 and summary.tasks == 2 and summary.skipped_resumed == 0
        again = generate(tasks, llm, out, s)  # everything done: nothing re-run
        assert again.skipped_resumed == 4 and again.attempts == 4
    finally:
        llm.close()
    trajs = read_trajectories(out)
    keys = [record_key(t.task.dataset, t.task.id, t.settings["sample"]) for t in trajs]
    assert sorted(keys) == sorted({record_key(t.dataset, t.id, k) for t in tasks for k in range(2)})
    for t in trajs:
        assert t.prefix and t.prefix.startswith("Thought: ")  # first-thought prefix was used
        assert t.steps[0].raw.startswith(t.prefix)
        assert t.correct in (True, False)
        assert t.settings["seed"] == attempt_seed(0, t.task.id, t.settings["sample"])


def test_killed_run_resumes_without_loss_or_duplicates(tiny_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "traj.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cli(out, "--no-ftp"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, (
        f"generation ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_trajectories(out)
    assert 1 <= len(first) < 4
    done = subprocess.run(_cli(out, "--no-ftp"), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    trajs = read_trajectories(out)
    ids = [t.task.id for t in trajs]
    assert len(ids) == 4 and len(set(ids)) == 4  # none lost, none duplicated
    assert [t.model_dump_json() for t in trajs[: len(first)]] == [t.model_dump_json() for t in first]


def test_stop_after_correct_runs_attempts_in_rounds(tmp_path: Path) -> None:
    """Rejection sampling with early stop: a solved task gets no more attempts; a resumed run does nothing."""
    t0, t1, t2 = load_tasks("gsm8k-train", limit=3)

    def cot(answer: str) -> str:
        return f"Working it out.\n\nAnswer: \\boxed{{{answer}}}"

    wrong = cot("-12345")
    # calls in order: round 0 = t0, t1, t2; round 1 = the unsolved t1, t2; round 2 = t2 only
    script = [cot(t0.answer), wrong, wrong, cot(t1.answer), wrong, wrong]
    llm = ReplayLLM(script)
    out = tmp_path / "cot.jsonl"
    s = GenerateSettings(mode="cot", samples=3, stop_after_correct=1, max_tokens=64)
    summary = generate([t0, t1, t2], llm, out, s)
    assert len(llm.calls) == 6 and summary.attempts == 6
    assert summary.correct == 2 and summary.tasks_solved == 2
    per_task: dict[str, list[tuple[int, bool]]] = {}
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        per_task.setdefault(rec["task"]["id"], []).append((rec["sample"], rec["correct"]))
    assert per_task == {
        t0.id: [(0, True)],
        t1.id: [(0, False), (1, True)],
        t2.id: [(0, False), (1, False), (2, False)],
    }
    idle = ReplayLLM([wrong])
    again = generate([t0, t1, t2], idle, out, s)  # all rounds done: no call at all
    assert again.attempts == 6 and again.skipped_resumed == 6 and idle.calls == []
    # without early stop every attempt runs: other settings, so the old output is refused
    with pytest.raises(StaleOutputError, match="stop_after_correct"):
        generate([t0, t1, t2], idle, out, GenerateSettings(mode="cot", samples=3, max_tokens=64))


def test_a_cot_attempt_past_the_context_is_final_and_wrong_not_retried(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    """A CoT attempt whose prompt + max_tokens exceed n_ctx (real 135M model) is written once as a wrong
    attempt with the reason; a resumed run does not redo it (it is not a backend failure)."""
    tasks = load_tasks("gsm8k-train", limit=1)
    out = tmp_path / "cot.jsonl"
    s = GenerateSettings(mode="cot", max_tokens=300)
    with load_llm("smollm2-135m", n_ctx=256) as llm:
        first = generate(tasks, llm, out, s)
        again = generate(tasks, llm, out, s)
    rec = json.loads(out.read_text())
    assert (
        rec["correct"] is False
        and rec["error"] is None
        and "exceeds n_ctx" in rec["settings"]["context_overflow"]
    )
    assert first.failed == 0 and again.skipped_resumed == 1 and len(out.read_text().splitlines()) == 1
