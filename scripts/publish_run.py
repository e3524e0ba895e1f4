"""Publish a finished pipeline workdir into a results folder: per-run eval summaries (with the judge's, when
there is one), each arm's generate/filter/train summaries, stage times, the report with its ledger and failure
reading, and every record packed by ``snapshot_run``. Each JSON written carries a ``run`` block (command, date,
load, source workdir); no machine paths.

    python scripts/publish_run.py --work runs/demo --out results/demo
    python scripts/publish_run.py --work runs/study --out results/study \
        --archive results/study/runs/study-outputs.tar.gz
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

REPORT_FILES = (
    "report.md",
    "report.html",
    "accuracy.png",
    "ledger.md",
    "ledger.json",
    "failures.md",
    "failures.json",
)


def _write(obj: dict, dst: Path, run: dict) -> None:
    dst.write_text(json.dumps({**obj, "run": run}, indent=2) + "\n", encoding="utf-8")


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def train_summary(done: dict) -> dict:
    """What a train stage's DONE.json says about the run, without machine paths: the model's path under the
    stage folder (``model_path``; older stamps kept an absolute ``model_spec``), weights sha256, metrics."""
    spec = str(done.get("model_spec", ""))
    path = done.get("model_path") or (spec.rpartition("/train/")[2] if "/train/" in spec else Path(spec).name)
    keep = ("run_id", "model_kind", "weights_sha256", "metrics", "rebuilds")
    return {"model_path": f"train/{path}", **{k: done[k] for k in keep if k in done}}


def publish(work: Path, out: Path, archive: Path, run: dict) -> list[Path]:
    """Write the results folder ``out`` from the workdir ``work``; return the files written (archive last).

    Raises ``FileNotFoundError`` when ``work`` holds no finished run (no ``report/report.md``)."""
    if not (work / "report" / "report.md").is_file():
        raise FileNotFoundError(f"{work} holds no finished pipeline run (no report/report.md)")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def emit(obj: dict, name: str) -> None:
        _write(obj, out / name, run)
        written.append(out / name)

    for d in sorted((work / "eval").iterdir()):
        if (d / "summary.json").is_file() and ".stale-" not in d.name:
            judge = d / "judge_summary.json"
            emit(
                {**_read(d / "summary.json"), **({"judge": _read(judge)} if judge.is_file() else {})},
                f"eval_{d.name}.json",
            )
    for arm, prefix in ((work, ""), (work / "cot", "cot_")):
        for rel, name in (
            ("generate/summary.json", "generate_summary"),
            ("filter/report.json", "filter_report"),
        ):
            if (arm / rel).is_file():
                emit(_read(arm / rel), f"{prefix}{name}.json")
        if (arm / "train" / "DONE.json").is_file():
            emit(train_summary(_read(arm / "train" / "DONE.json")), f"{prefix}train_metrics.json")
    if (work / "stage_seconds.json").is_file():
        emit(_read(work / "stage_seconds.json"), "stage_seconds.json")
    for name in REPORT_FILES:
        src = work / "report" / name
        if not src.is_file():
            continue
        if name.endswith(".json"):  # the report's JSON companions get the provenance block too
            obj = _read(src)
            emit(obj if isinstance(obj, dict) else {"data": obj}, name)
        else:
            shutil.copyfile(src, out / name)
            written.append(out / name)
    pack(work, archive)
    return [*written, archive]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/demo"))
    ap.add_argument("--out", type=Path, default=Path("results/demo"))
    ap.add_argument("--archive", type=Path, default=None, help="default: OUT/<name of OUT>-outputs.tar.gz")
    a = ap.parse_args(argv)
    run = {
        "command": " ".join(["python", "scripts/publish_run.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load": [round(x, 2) for x in os.getloadavg()],
        "source": str(a.work),
    }
    try:
        files = publish(a.work, a.out, a.archive or a.out / f"{a.out.name}-outputs.tar.gz", run)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"published {a.work} -> {a.out} ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
