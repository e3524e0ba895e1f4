"""Atomic writes: a kill mid-write leaves the old file (or dir), never a torn or empty one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agentdistill.common.files import (
    SamePathError,
    atomic_dir,
    atomic_write_json,
    move_stale,
    refuse_same_path,
    sha256_file,
)


def test_atomic_json_replaces_whole(tmp_path: Path) -> None:
    p = tmp_path / "summary.json"
    atomic_write_json(p, {"a": 1})
    atomic_write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert [x.name for x in tmp_path.iterdir()] == ["summary.json"]  # no temp file left behind


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from agentdistill.common import files

    real = os.fdopen
    class Slow:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *a): return self.f.__exit__(*a)
        def write(self, data):
            self.f.write(data[:10]); self.f.flush(); print("writing", flush=True); time.sleep(60)
        def flush(self): self.f.flush()
        def fileno(self): return self.f.fileno()
    files.os.fdopen = lambda fd, mode: Slow(real(fd, mode))
    files.atomic_write_json(Path(sys.argv[1]), {"new": "x" * 1000})
""")


def test_kill_during_summary_write_keeps_the_old_summary(tmp_path: Path) -> None:
    p = tmp_path / "summary.json"
    atomic_write_json(p, {"old": True})
    script = tmp_path / "w.py"
    script.write_text(KILLED_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(p)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(p.read_text()) == {"old": True}


def test_atomic_dir_keeps_old_dir_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "merged"
    with atomic_dir(target) as tmp:
        (tmp / "model.safetensors").write_text("v1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "model.safetensors").write_text("half")
        raise RuntimeError("killed mid-save")
    assert (target / "model.safetensors").read_text() == "v1"
    with atomic_dir(target) as tmp:
        (tmp / "config.json").write_text("{}")
    assert sorted(x.name for x in target.iterdir()) == ["config.json"]  # replaced whole, not merged
    assert sorted(x.name for x in tmp_path.iterdir()) == ["merged"]


def test_move_stale_counts_up(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / "run").mkdir()
        move_stale(tmp_path / "run")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.stale-1", "run.stale-2"]


def test_same_path_refused_including_links(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text("x\n")
    os.link(src, tmp_path / "b.jsonl")
    for out in (src, tmp_path / "." / "a.jsonl", tmp_path / "b.jsonl"):
        with pytest.raises(SamePathError, match="output path is the input"):
            refuse_same_path(out, src)
    refuse_same_path(tmp_path / "c.jsonl", src)


def test_sha256_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    seen: list[int] = []
    assert (
        sha256_file(p, seen.append, chunk=2)
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert seen == [2, 1]
    time.sleep(0)
