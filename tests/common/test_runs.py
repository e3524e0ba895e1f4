"""The shared batch runner: keys with the set, refuses stale output, retries failures, resumes after a kill."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentdistill.common.jsonl import iter_jsonl
from agentdistill.common.runs import StaleOutputError, check_stamp, latest_by_key, record_key, run_batch


def _run(items, out: Path, work=None, failed=lambda r: r.get("error") is not None):  # noqa: ANN001, ANN202
    return run_batch(
        items,
        lambda it: record_key(*it),
        work or (lambda it: {"set": it[0], "id": it[1], "sample": it[2]}),
        out,
        record_key_of=lambda r: record_key(r["set"], r["id"], r["sample"]),
        to_json=lambda r: r,
        failed=failed,
    )


def test_same_task_id_in_two_sets_is_two_records(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    items = [("gsm8k-train", "0", 0), ("math-medium-train", "0", 0), ("gsm8k-train", "0", 1)]
    first = _run(items[:1], out)
    again = _run(items, out)  # the math-medium task with the same id is not "done"
    assert (first.new, again.new, again.skipped) == (1, 2, 1)
    assert [(r["set"], r["id"], r["sample"]) for _, r in iter_jsonl(out)] == [items[0], items[1], items[2]]


def test_failures_are_written_then_retried_and_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    items = [("s", str(i), 0) for i in range(3)]
    down = _run(items, out, work=lambda it: {"set": it[0], "id": it[1], "sample": 0, "error": "ConnectError"})
    assert down.failed == 3
    up = _run(items, out)
    assert (up.new, up.skipped, up.failed) == (3, 0, 0)
    records = [r for _, r in iter_jsonl(out)]
    assert len(records) == 6
    latest = latest_by_key(records, lambda r: record_key(r["set"], r["id"], r["sample"]))
    assert len(latest) == 3 and all(r.get("error") is None for r in latest)
    assert _run(items, out).new == 0


def test_stamp_refuses_other_settings_and_names_the_fields(tmp_path: Path) -> None:
    stamp = tmp_path / "out.jsonl.stamp.json"
    check_stamp(stamp, {"model": "a", "temperature": 0.0}, has_output=False)
    check_stamp(stamp, {"model": "a", "temperature": 0.0}, has_output=True)  # same settings: resume
    with pytest.raises(StaleOutputError, match=r"model: 'a' -> 'b'.*refusing to resume"):
        check_stamp(stamp, {"model": "b", "temperature": 0.0}, has_output=True)
    assert json.loads(stamp.read_text())["model"] == "a"  # the old stamp is kept


def test_output_without_stamp_is_not_resumed_unless_adopted(tmp_path: Path) -> None:
    stamp = tmp_path / "x.stamp.json"
    with pytest.raises(StaleOutputError, match="no settings stamp"):
        check_stamp(stamp, {"model": "a"}, has_output=True)
    assert not stamp.exists()
    check_stamp(stamp, {"model": "a"}, has_output=True, adopt_unstamped=True)  # the caller checked it
    with pytest.raises(StaleOutputError):  # from then on the stamp holds
        check_stamp(stamp, {"model": "b"}, has_output=True, adopt_unstamped=True)


@pytest.mark.parametrize(("text", "why"), [("{", "not valid JSON"), ("[1]", "not a JSON object (a list)")])
def test_a_stamp_that_is_not_a_json_object_is_named(tmp_path: Path, text: str, why: str) -> None:
    stamp = tmp_path / "out.jsonl.stamp.json"
    stamp.write_text(text)
    with pytest.raises(StaleOutputError, match=rf"{stamp}: {re.escape(why)}.*refusing to resume") as e:
        check_stamp(stamp, {"model": "a"}, has_output=True, what="out.jsonl")
    assert "other settings" not in str(e.value) and stamp.read_text() == text


def test_stamp_archive_moves_old_output_to_stale_n(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    check_stamp(run / "stamp.json", {"m": 1}, has_output=False)
    (run / "results.jsonl").write_text("{}\n")
    moved = check_stamp(run / "stamp.json", {"m": 2}, has_output=True, archive=run)
    assert moved == tmp_path / "run.stale-1" and (moved / "results.jsonl").exists()
    assert json.loads((run / "stamp.json").read_text()) == {"m": 2} and not (run / "results.jsonl").exists()


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from agentdistill.common.runs import record_key, run_batch

    def work(it):
        time.sleep(0.05)
        return {"set": "s", "id": str(it), "sample": 0, "pad": "x" * 20000}

    run_batch(list(range(200)), lambda i: record_key("s", str(i)), work, Path(sys.argv[1]),
              record_key_of=lambda r: record_key(r["set"], r["id"], r["sample"]), to_json=lambda r: r)
""")


def test_kill_then_resume_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 5):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = out.read_bytes().count(b"\n")
    assert 5 <= before < 200
    env = {**os.environ, "AGENTDISTILL_PROGRESS_SECONDS": "0"}
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"resuming {out}: {before} of 200 already done, skipped" in done.stderr  # the resume is announced
    ids = [r["id"] for _, r in iter_jsonl(out)]
    assert sorted(ids, key=int) == [str(i) for i in range(200)]


@pytest.mark.parametrize("workers", [1, 3])
def test_an_after_write_error_stops_the_batch_and_keeps_what_was_written(
    tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "out.jsonl"
    items = [("s", str(i), 0) for i in range(40)]
    started: list[str] = []

    def work(it):  # noqa: ANN001, ANN202
        started.append(it[1])
        time.sleep(0.01)
        return {"set": it[0], "id": it[1], "sample": 0}

    def after_write(rec):  # noqa: ANN001, ANN202
        if rec["id"] == "2":
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        run_batch(items, lambda it: record_key(*it), work, out, record_key_of=lambda r: record_key(r["set"], r["id"]),
                  to_json=lambda r: r, workers=workers, after_write=after_write)  # fmt: skip
    assert [r["id"] for _, r in iter_jsonl(out)] == ["0", "1", "2"]  # in order, the stopping one included
    assert len(started) <= 3 + 2 * workers  # queued items never started
