"""Trajectory JSONL: durable appends, torn-line repair, validation errors naming file, line and field."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from agentdistill.agent.records import (
    Candidate,
    Step,
    Trajectory,
    TrajectoryFormatError,
    TrajectoryWriter,
    read_trajectories,
)
from agentdistill.data.task import Task


def _traj(i: int) -> Trajectory:
    task = Task(id=f"t{i}", dataset="unit", kind="qa", question="Q?", answer="A")
    step = Step(
        index=0,
        raw="Thought: x\nCode:\n```py\nfinal_answer('A')\n```",
        code="final_answer('A')",
        has_final_answer=True,
        final_answer="A",
        candidates=[Candidate(index=0, raw="r", valid=True, vote_key='["", "\'A\'"]', group_size=1)],
    )
    return Trajectory(
        task=task,
        model="m",
        steps=[step],
        final_answer="A",
        status="answered",
        messages=[{"role": "system", "content": "s"}],
    )


def test_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        for i in range(3):
            w.write(_traj(i))
    with TrajectoryWriter(path) as w:  # reopen appends
        w.write(_traj(3))
    got = read_trajectories(path)
    assert [t.task.id for t in got] == ["t0", "t1", "t2", "t3"]
    assert got[0].steps[0].candidates[0].group_size == 1
    assert path.read_text().count("\n") == 4


def test_truncated_last_line_reported_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.write(_traj(0))
        w.write(_traj(1))
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # a torn write: second line cut
    with pytest.warns(UserWarning, match=r"t\.jsonl:2: truncated last line"):
        got = read_trajectories(path)
    assert [t.task.id for t in got] == ["t0"]
    with pytest.raises(TrajectoryFormatError, match="truncated"):
        read_trajectories(path, truncated="error")
    with pytest.warns(UserWarning, match="removed a torn last line"):
        w = TrajectoryWriter(path)
    w.write(_traj(2))
    w.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [t.task.id for t in read_trajectories(path)] == ["t0", "t2"]


def test_bad_field_names_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = _traj(0).model_dump_json()
    bad = json.loads(good)
    bad["steps"][0]["raw"] = 123
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(TrajectoryFormatError, match=r"bad\.jsonl:2: field 'steps\.0\.raw'"):
        read_trajectories(path)


def test_bad_json_in_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n" + _traj(0).model_dump_json() + "\n")
    with pytest.raises(TrajectoryFormatError, match=r"bad\.jsonl:1: invalid JSON"):
        read_trajectories(path)


def test_bad_status_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    obj = json.loads(_traj(0).model_dump_json())
    obj["status"] = "done"
    path.write_text(json.dumps(obj) + "\n")
    with pytest.raises(TrajectoryFormatError, match="field 'status'"):
        read_trajectories(path)
