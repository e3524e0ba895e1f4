"""Pack a pipeline workdir's small outputs into one .tar.gz to commit (and unpack it on another machine).

Kept: JSONL records (trajectories, CoT answers, kept sets, eval results, judge verdicts) whatever their size,
settings stamps, summaries, stage times and reports — everything a resumed run needs to skip finished work. Left
out: trained weights, GGUF exports and checkpoints (the train stage rebuilds them from the kept sets with the
recorded seed), and any other file over ``MAX_BYTES`` — named on stderr and in the manifest's ``left_out``, never
dropped silently. A JSONL file is packed up to its last complete line, so packing a run that is still writing is
safe: the torn line a live writer may leave stays behind (the resumed run generates it again).

    python scripts/snapshot_run.py pack runs/study results/study/runs/study-outputs.tar.gz
    python scripts/snapshot_run.py unpack results/study/runs/study-outputs.tar.gz runs/study
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import tarfile
from pathlib import Path

KEEP_SUFFIXES = {".jsonl", ".json", ".md", ".html", ".png", ".yaml"}
SKIP_DIRS = {"checkpoints", "merged", "adapter", "hf", "logs"}
MAX_BYTES = 20 * 1024 * 1024  # a file other than a JSONL record above this is not a small output
RECORDS = ".jsonl"  # records: always carried, however large (a resumed run would redo them otherwise)


def small_outputs(workdir: Path) -> tuple[list[Path], list[str]]:
    """The files to keep, sorted (a stable archive for the same tree), and the kept kinds left out for their size
    (``"PATH (N bytes > MAX_BYTES)"``)."""
    out, left_out = [], []
    for p in sorted(workdir.rglob("*")):
        rel = p.relative_to(workdir)
        if not p.is_file() or SKIP_DIRS & set(rel.parts[:-1]) or ".stale-" in str(rel):
            continue
        if p.suffix not in KEEP_SUFFIXES:
            continue
        size = p.stat().st_size
        if p.suffix == RECORDS or size <= MAX_BYTES:
            out.append(p)
        else:
            left_out.append(f"{rel} ({size} bytes > {MAX_BYTES})")
    return out, left_out


def _complete_lines(p: Path) -> bytes:
    """A JSONL file's bytes up to its last newline (a live writer's torn last line is not a record yet)."""
    data = p.read_bytes()
    return data[: data.rfind(b"\n") + 1]


def pack(workdir: Path, archive: Path) -> int:
    """Pack ``workdir``'s small outputs into ``archive`` (atomically) and write the manifest beside it.

    Returns the number of files packed; files left out for their size are named on stderr."""
    files, left_out = small_outputs(workdir)
    for entry in left_out:
        print(f"warning: left out of the snapshot: {entry}", file=sys.stderr)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    lines: dict[str, int] = {}
    with tarfile.open(tmp, "w:gz") as tar:
        for p in files:
            rel = str(p.relative_to(workdir))
            info = tar.gettarinfo(str(p), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            data = _complete_lines(p) if p.suffix == RECORDS else p.read_bytes()
            info.size = len(data)
            if p.suffix == RECORDS:
                lines[rel] = data.count(b"\n")
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(archive)  # atomic: a killed pack never leaves a torn archive
    manifest = {
        "command": " ".join(["python", *sys.argv]) if sys.argv and sys.argv[0] else "snapshot_run.pack",
        "packed": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [round(x, 2) for x in os.getloadavg()],
        "workdir": str(workdir),
        "records": lines,  # JSONL files and their line counts: what a resumed run will skip
        "left_out": left_out,
    }
    manifest_path = archive.with_name(archive.name.removesuffix(".tar.gz") + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return len(files)


def unpack(archive: Path, workdir: Path) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        tar.extractall(workdir, filter="data")  # refuses absolute paths and '..'
    return len(members)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["pack", "unpack"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    a = ap.parse_args()
    if not a.src.exists():
        sys.exit(f"error: {a.src} does not exist")
    n = pack(a.src, a.dst) if a.action == "pack" else unpack(a.src, a.dst)
    print(f"{a.action}: {n} files, {a.src} -> {a.dst}")


if __name__ == "__main__":
    main()
