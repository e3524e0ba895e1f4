"""Routine mistakes end in one line naming file/line/field and exit 2, before any work starts."""

from __future__ import annotations

import socket
from pathlib import Path

from .helpers import assert_one_line_error, run_cli, write_tasks


def _dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_eval_unknown_set(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run_cli("eval", "--model", "smollm2-135m", "-s", "gsm8k-tset:2", "--out", out)
    assert_one_line_error(r, "unknown task set 'gsm8k-tset'", "gsm8k-test")
    assert not out.exists()  # nothing started


def test_generate_truncated_task_file(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 3)
    tasks.write_bytes(tasks.read_bytes()[:-20])  # a killed writer's half line
    out = tmp_path / "g.jsonl"
    r = run_cli("generate", "-t", tasks, "--teacher", "smollm2-135m", "--out", out, "--retriever", "")
    assert_one_line_error(r, f"{tasks}:3", "invalid JSON")
    assert not out.exists()


def test_generate_empty_task_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "g.jsonl"
    r = run_cli("generate", "-t", empty, "--teacher", "smollm2-135m", "--out", out, "--retriever", "")
    assert_one_line_error(r, str(empty), "no tasks")
    assert not out.exists()


def test_eval_missing_record_field_names_line_and_field(tmp_path: Path) -> None:
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"id": "a", "question": "q?", "answer": "1"}\n{"id": "b", "question": "q2?"}\n')
    r = run_cli("eval", "--model", "smollm2-135m", "-s", tasks, "--out", tmp_path / "run")
    assert_one_line_error(r, f"{tasks}:2", "field 'answer'")


def test_eval_bad_limit(tmp_path: Path) -> None:
    r = run_cli("eval", "--model", "smollm2-135m", "-s", "gsm8k-test:ten", "--out", tmp_path / "run")
    assert_one_line_error(r, "limit 'ten'")


def test_eval_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    out = tmp_path / "run"
    r = run_cli("eval", "--model", f"llamacpp:{missing}", "-s", "gsm8k-test:1", "--out", out, "--mode", "cot")
    assert_one_line_error(r, str(missing))
    assert not (out / "results.jsonl").exists()


def test_pipeline_typo_in_stage_name(tmp_path: Path) -> None:
    r = run_cli("pipeline", "smoke", "--stages", "genrate,eval", "--workdir", tmp_path / "w")
    assert_one_line_error(r, "genrate")
    assert not (tmp_path / "w" / "generate").exists()


def test_pipeline_unknown_config() -> None:
    assert_one_line_error(run_cli("pipeline", "demoo"), "config not found: demoo")


def test_filter_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "traj.jsonl"
    src.write_text('{"not": "read"}\n')
    before = src.read_bytes()
    assert_one_line_error(run_cli("filter", src, "--out", src), "output path is the input")
    assert src.read_bytes() == before  # not emptied, not rewritten
    assert_one_line_error(
        run_cli("filter", src, "--out", tmp_path / "." / "traj.jsonl"), "output path is the input"
    )


def test_index_search_against_dead_server_fails() -> None:
    url = _dead_url()
    r = run_cli("index", "search", url, "capital of France")
    assert_one_line_error(r, url)


def test_generate_output_equal_to_task_file_is_refused(tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", 2)
    before = tasks.read_bytes()
    r = run_cli(
        "generate", "-t", f"{tasks}:1", "--teacher", "smollm2-135m", "--out", tasks, "--retriever", ""
    )
    assert_one_line_error(r, "output path is the input")
    assert tasks.read_bytes() == before
