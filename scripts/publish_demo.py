"""Publish a finished demo workdir into results/demo: per-run eval summaries, the generate/filter/train
summaries and stage times (each with a ``run`` block: command, date, load, source workdir), the report, and every
record packed by ``snapshot_run``.

    python scripts/publish_demo.py [--work runs/demo] [--out results/demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

from snapshot_run import pack


def _write(src: Path, dst: Path, run: dict, pick=None) -> None:
    obj = json.loads(src.read_text())
    obj = pick(obj) if pick else obj
    dst.write_text(json.dumps({**obj, "run": run}, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/demo"))
    ap.add_argument("--out", type=Path, default=Path("results/demo"))
    a = ap.parse_args()
    if not (a.work / "stage_seconds.json").is_file():
        sys.exit(f"error: {a.work} holds no finished pipeline run (no stage_seconds.json)")
    run = {
        "command": " ".join(["python", *sys.argv]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [round(x, 2) for x in os.getloadavg()],
        "source": str(a.work),
    }
    a.out.mkdir(parents=True, exist_ok=True)
    for d in sorted((a.work / "eval").iterdir()):
        if (d / "summary.json").is_file() and ".stale-" not in d.name:
            _write(d / "summary.json", a.out / f"eval_{d.name}.json", run)
    _write(a.work / "generate" / "summary.json", a.out / "generate_summary.json", run)
    _write(a.work / "filter" / "report.json", a.out / "filter_report.json", run)
    _write(a.work / "stage_seconds.json", a.out / "stage_seconds.json", run)
    done = a.work / "train" / "DONE.json"
    _write(
        done,
        a.out / "train_metrics.json",
        run,
        lambda d: {
            # the trained model under the workdir, not this machine's absolute path
            "model_spec": str(a.work / "train" / d["model_spec"].split("/train/", 1)[-1]),
            "metrics": d["metrics"],
        },
    )
    for name in ("report.md", "report.html", "accuracy.png"):
        shutil.copyfile(a.work / "report" / name, a.out / name)
    n = pack(a.work, a.out / "demo-outputs.tar.gz")
    print(f"published {a.work} -> {a.out} ({n} record files packed)")


if __name__ == "__main__":
    main()
