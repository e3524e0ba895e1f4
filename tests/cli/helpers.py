"""Run the real `agentdistill` app: in-process (typer's CliRunner) or as a subprocess (kills, servers)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from agentdistill.cli.main import app


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Result:
    """Invoke the app in-process with stdout/stderr captured (not a terminal)."""
    r = CliRunner().invoke(app, [str(a) for a in args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return Result(r.exit_code, r.stdout, r.stderr)


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentdistill.cli.main", *map(str, args)]


def run_subprocess(*args: str, timeout: float = 600) -> Result:
    env = {**os.environ, "AGENTDISTILL_PROGRESS_SECONDS": "0", "PYTHONUNBUFFERED": "1"}
    p = subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=timeout, env=env)
    return Result(p.returncode, p.stdout, p.stderr)


def assert_one_line_error(r: Result, *needles: str, alone: bool = True) -> str:
    """Exit 2 and one `error: ...` line on stderr that names what is wrong (no traceback). ``alone``: stderr is
    that line only; otherwise (a pipeline that had started its stage banner) it is the last line."""
    assert r.code == 2, (r.code, r.stdout[-1500:], r.stderr[-1500:])
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and lines[-1].startswith("error: "), r.stderr
    assert sum(x.startswith("error: ") for x in lines) == 1 and (len(lines) == 1 or not alone), r.stderr
    for n in needles:
        assert n in lines[-1], (n, lines[-1])
    assert "Traceback" not in r.stderr + r.stdout
    return lines[-1]


def write_tasks(path: Path, n: int = 2) -> Path:
    """A user task file in the documented JSONL shape: n small arithmetic questions."""
    path.write_text(
        "".join(
            f'{{"id": "t{i}", "question": "What is {i}+3?", "answer": "{i + 3}", "kind": "math"}}\n'
            for i in range(n)
        )
    )
    return path
