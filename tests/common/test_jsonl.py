import json
from pathlib import Path

import pytest

from agentdistill.common.jsonl import JsonlAppender, JsonlError, iter_jsonl, repair_tail


def test_append_resume_and_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path, key=lambda r: r["id"]) as out:
        out.write({"id": "a", "v": 1})
        out.write({"id": "b", "v": 2})
    with path.open("a") as f:  # a writer killed mid-line
        f.write('{"id": "c", "v"')
    with JsonlAppender(path, key=lambda r: r["id"]) as out:
        assert out.done == {"a", "b"}  # the torn record is not counted as done
        out.write({"id": "c", "v": 3})
    ids = [r["id"] for _, r in iter_jsonl(path)]
    assert ids == ["a", "b", "c"]


def test_repair_tail_whole_file_torn(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"partial": ')
    assert repair_tail(path) == len('{"partial": ')
    assert path.read_text() == ""
    path.write_text('{"a": 1}\n')
    assert repair_tail(path) == 0


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"a": 1}) + "\n[1, 2]\n")
    with pytest.raises(JsonlError, match=r"bad.jsonl:2: expected a JSON object"):
        list(iter_jsonl(path))
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(JsonlError, match=r"bad.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))
