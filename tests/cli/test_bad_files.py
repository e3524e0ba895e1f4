"""Files that cannot be read or written, and outputs that would destroy an input
(docs/reviews/bad-input-2026-12-02.md): one line naming the file, a non-zero exit, and no input lost. Each case
failed before (a traceback, or the input deleted with exit 0)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from agentdistill.agent import TrajectoryWriter, run_episode
from agentdistill.agent.replay import ReplayLLM
from agentdistill.common.files import SamePathError, atomic_file
from agentdistill.common.jsonl import JsonlError, iter_jsonl
from agentdistill.data.task import Task
from agentdistill.grading import grade

from .helpers import assert_one_line_error, run_cli

F = "```"
MATH = Task(id="m1", dataset="unit", kind="math", question="What is 2+2?", answer="4")


def _trajectories(path: Path) -> Path:
    """Two real trajectories (the agent loop, the real sandbox, graded as generate does): one correct, one
    wrong."""
    with TrajectoryWriter(path, fsync=False) as w:
        for answer in (4, 5):
            step = f"Thought: t\nCode:\n{F}py\nfinal_answer({answer})\n{F}<end_code>"
            traj = run_episode(MATH, ReplayLLM([step]), max_steps=2)
            traj.correct = grade(MATH, traj.final_answer).correct  # as generate grades an attempt
            w.write(traj)
    return path


def test_filter_keeps_an_input_named_like_its_scratch_file(tmp_path: Path) -> None:
    src = _trajectories(tmp_path / "X.tmp")  # the old scratch name of --out X.jsonl
    before = src.read_bytes()
    r = run_cli("filter", src, "--out", tmp_path / "X.jsonl")
    assert r.code == 0, r.stderr
    assert src.read_bytes() == before
    assert len(list(iter_jsonl(tmp_path / "X.jsonl"))) == 1  # the correct one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.jsonl", "X.tmp"]  # no scratch left


def test_filter_of_a_missing_file(tmp_path: Path) -> None:
    r = run_cli("filter", tmp_path / "nosuch.jsonl", "--out", tmp_path / "k.jsonl")
    assert_one_line_error(r, f"{tmp_path / 'nosuch.jsonl'}", "No such file")
    assert not (tmp_path / "k.jsonl").exists()


def test_filter_into_a_directory_that_cannot_exist(tmp_path: Path) -> None:
    src = _trajectories(tmp_path / "t.jsonl")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("filter", src, "--out", blocker / "k.jsonl")  # a file where a directory must be
    assert r.code == 2 and str(blocker) in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_import_paper_refuses_to_overwrite_its_log(tmp_path: Path) -> None:
    log = _trajectories(tmp_path / "log.jsonl")
    before = log.read_bytes()
    r = run_cli("import-paper", log, "--out", log)
    assert_one_line_error(r, "output path is the input")
    assert log.read_bytes() == before


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(JsonlError, match=rf"{bad}:2: not UTF-8"):
        list(iter_jsonl(bad))
    r = run_cli("filter", bad, "--out", tmp_path / "k.jsonl")
    assert_one_line_error(r, f"{bad}:")


def test_jsonl_lines_end_at_newline_only_and_a_bom_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes('\ufeff{"a": 1}\n{"b": "x\u2028y\u0085z"}\n'.encode())
    assert [r for _, r in iter_jsonl(path)] == [{"a": 1}, {"b": "x\u2028y\u0085z"}]


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("trunc.jsonl.gz", gzip.compress(b'{"question": "q", "answer": "a"}\n')[:20], "truncated"),
        ("plain.jsonl.gz", b'{"question": "q", "answer": "a"}\n', "Not a gzipped file"),
        ("bytes.jsonl", b'{"question": "q\xff", "answer": "a"}\n', "not UTF-8"),
    ],
)
def test_unreadable_task_files_are_named(tmp_path: Path, name: str, data: bytes, why: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    r = run_cli("data", "show", path)
    assert_one_line_error(r, str(path), why)


def test_a_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffquestion,answer\nWhat is 2+2?,4\n".encode())
    r = run_cli("data", "show", path)
    assert r.code == 0 and "What is 2+2?" in r.stdout, r.stderr


def test_atomic_file_replaces_only_on_success(tmp_path: Path) -> None:
    out, src = tmp_path / "out.jsonl", tmp_path / "in.jsonl"
    out.write_text("old\n")
    src.write_text("input\n")
    with pytest.raises(RuntimeError), atomic_file(out, src) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "in.jsonl",
        "out.jsonl",
    ]
    with atomic_file(out, src) as tmp:
        tmp.write_text("new\n")
    assert out.read_text() == "new\n"
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # a plain open's mode, not mkstemp's 0600
    with pytest.raises(SamePathError), atomic_file(src, src):
        pass
    assert src.read_text() == "input\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
