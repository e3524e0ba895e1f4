"""Provenance for results files: every benchmark script records how, when and where its figures were made.

``stamp = start_stamp()`` before measuring, ``finish_stamp(stamp)`` after; store the dict under ``"run"`` in the
results JSON. Fields: command (argv as run), date (UTC, ISO 8601), git commit (``$AGENTDISTILL_GIT_COMMIT`` where
the tree travels without .git, e.g. on the GPU machine), whether the tree had uncommitted changes, machine (cores,
platform, processor), load average (1/5/15 min) at start and end, finish date and wall seconds.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REQUIRED = ("command", "date", "git_commit", "load_start", "load_end")
_ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def start_stamp(argv: list[str] | None = None) -> dict:
    """Provenance at the start of a run (call before any measurement)."""
    argv = list(sys.argv if argv is None else argv)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": " ".join(["python", *argv]),
        "date": _now(),
        "git_commit": os.environ.get("AGENTDISTILL_GIT_COMMIT") or _git("rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(status) if status is not None else None,
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "load_start": list(os.getloadavg()),
        "_t0": time.monotonic(),
    }


def finish_stamp(stamp: dict) -> dict:
    """The stamp completed with the end time, wall seconds and the load average at the end."""
    out = dict(stamp)
    t0 = out.pop("_t0", None)
    out["finished"] = _now()
    out["wall_seconds"] = round(time.monotonic() - t0, 1) if t0 is not None else None
    out["load_end"] = list(os.getloadavg())
    return out


def write_results(path: Path, result: dict, stamp: dict) -> dict:
    """Write ``{"run": <finished stamp>, **result}`` to ``path`` whole (temp file + rename); return it.

    A results file is rewritten by its script in one run: never merged with an earlier run's figures.
    """
    out = {"run": finish_stamp(stamp), **{k: v for k, v in result.items() if k != "run"}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return out


def write_results_and_markdown(path: Path, result: dict, stamp: dict, markdown) -> dict:
    """``write_results``, then its Markdown rendering (``markdown(written) -> str``) beside it as ``.md``, printed
    too; return what was written."""
    written = write_results(path, result, stamp)
    text = markdown(written)
    Path(path).with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    return written
