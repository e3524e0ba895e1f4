"""Every task is keyed by (set, id) in records, resume and summaries: a key given twice is refused before any
work starts, instead of one question silently replacing another (review: docs/reviews/bad-input-2026-12-02.md #1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.data import DataError, load_task_specs
from agentdistill.pipeline.config import TaskSlice
from agentdistill.pipeline.stages.base import load_slices

from .helpers import assert_one_line_error, run_cli, write_tasks

DEAD = "openai:m@http://127.0.0.1:9/v1"  # nothing listens: the run must stop before it is ever called


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "hotpot" / "test.jsonl", [{"question": f"q{i}", "answer": "x"} for i in range(2)])
    (tmp_path / "2wiki").mkdir()
    b = write_tasks(tmp_path / "2wiki" / "test.jsonl")  # ids t0, t1: the sets differ, the ids do not collide
    c = _jsonl(tmp_path / "musique" / "test.jsonl", [{"question": f"q{i}", "answer": "y"} for i in range(3)])
    assert len(load_task_specs([str(a), str(b)])) == 4
    out = tmp_path / "run"
    r = run_cli("eval", "--model", DEAD, "-s", a, "-s", b, "-s", c, "--mode", "cot", "--out", out)
    assert_one_line_error(
        r, str(a), str(c), "task '0' of set 'test'", "both files are named 'test'", "'dataset'"
    )
    assert not out.exists()
    r = run_cli(
        "generate", "-t", c, "-t", a, "--mode", "cot", "--teacher", DEAD, "--out", tmp_path / "t.jsonl"
    )
    assert_one_line_error(r, "both give task")
    assert not (tmp_path / "t.jsonl").exists()


def test_same_named_files_with_their_own_set_names_load(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "a" / "test.jsonl", [{"question": "q", "answer": "1", "dataset": "hotpot"}])
    b = _jsonl(tmp_path / "b" / "test.jsonl", [{"question": "q", "answer": "1", "dataset": "2wiki"}])
    tasks = load_task_specs([str(a), str(b)])
    assert [(t.dataset, t.id) for t in tasks] == [("hotpot", "0"), ("2wiki", "0")]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "dup.jsonl",
            '{"id": "1", "question": "a", "answer": "1"}\n{"id": 1, "question": "b", "answer": "2"}\n',
            ":2:",
        ),
        ("dup.csv", "id,question,answer\n7,a,1\n8,b,2\n7,c,3\n", ":4:"),
        (
            "dup.json",
            '[{"id": "x", "question": "a", "answer": "1"}, {"id": "x", "question": "b", "answer": "2"}]',
            "record 1",
        ),
    ],
)
def test_a_repeated_id_in_one_file_is_named(tmp_path: Path, name: str, text: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match="repeats") as err:
        load_task_specs([str(path)])
    assert str(path) in str(err.value) and where in str(err.value)
    out = tmp_path / "run"
    r = run_cli("eval", "--model", DEAD, "-s", path, "--mode", "cot", "--out", out)
    assert_one_line_error(r, str(path), where, "repeats")
    assert not out.exists()


def test_overlapping_slices_of_one_set_are_refused() -> None:
    for specs in (["gsm8k-test:3", "gsm8k-test:5"], ["gsm8k-test:2", "gsm8k-test:2"]):
        with pytest.raises(DataError, match=r"both give task '0' of set 'gsm8k-test'"):
            load_task_specs(specs)
    with pytest.raises(DataError, match="both give task"):
        load_slices([TaskSlice(set="math500", limit=2), TaskSlice(set="math500")])
    disjoint = load_slices([TaskSlice(set="math500", limit=2), TaskSlice(set="gsm-hard-500", limit=2)])
    assert len({(t.dataset, t.id) for t in disjoint}) == 4


def test_numbered_records_stay_distinct(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "plain.jsonl", [{"question": f"q{i}", "answer": str(i)} for i in range(5)])
    assert [t.id for t in load_task_specs([str(path)])] == ["0", "1", "2", "3", "4"]
