"""Pack a pipeline workdir's small outputs into one .tar.gz to commit (and unpack it on another machine).

Kept: JSONL records (trajectories, CoT answers, kept sets, eval results, judge verdicts), settings stamps,
summaries, stage times and reports — everything a resumed run needs to skip finished work. Left out: trained
weights, GGUF exports and checkpoints (the train stage rebuilds them from the kept sets with the recorded seed).

    python scripts/snapshot_run.py pack runs/study results/study/runs/study-outputs.tar.gz
    python scripts/snapshot_run.py unpack results/study/runs/study-outputs.tar.gz runs/study
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tarfile
from pathlib import Path

KEEP_SUFFIXES = {".jsonl", ".json", ".md", ".html", ".png", ".yaml"}
SKIP_DIRS = {"checkpoints", "merged", "adapter", "hf", "logs"}
MAX_BYTES = 20 * 1024 * 1024  # a single file above this is not a small output


def small_outputs(workdir: Path) -> list[Path]:
    """The files to keep, sorted (a stable archive for the same tree)."""
    out = []
    for p in sorted(workdir.rglob("*")):
        rel = p.relative_to(workdir)
        if not p.is_file() or SKIP_DIRS & set(rel.parts[:-1]) or ".stale-" in str(rel):
            continue
        if p.suffix in KEEP_SUFFIXES and p.stat().st_size <= MAX_BYTES:
            out.append(p)
    return out


def pack(workdir: Path, archive: Path) -> int:
    files = small_outputs(workdir)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for p in files:
            info = tar.gettarinfo(str(p), arcname=str(p.relative_to(workdir)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(p, "rb") as fh:
                tar.addfile(info, fh)
    tmp.replace(archive)  # atomic: a killed pack never leaves a torn archive
    manifest = {
        "command": " ".join(["python", *sys.argv]) if sys.argv and sys.argv[0] else "snapshot_run.pack",
        "packed": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [round(x, 2) for x in os.getloadavg()],
        "workdir": str(workdir),
        "records": {  # JSONL files and their line counts: what a resumed run will skip
            str(p.relative_to(workdir)): p.read_bytes().count(b"\n") for p in files if p.suffix == ".jsonl"
        },
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
