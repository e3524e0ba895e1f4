"""Parse every recorded agent step of a pipeline run again with the current parser and count what changes.

A parser change alters what a model's step runs. This reads the teacher's trajectories
(``<work>/generate/trajectories.jsonl``) and every eval row's trajectories (``<work>/eval/*/results.jsonl``),
parses each step's raw text (and each SAG candidate's) with ``agent.parse.parse_step``, and compares with what
was recorded then: the parse verdict (ok, or one of ``PARSE_ERROR_KINDS``) and, for steps that parsed both
times, the code. The forced final-answer turn (``Step.forced``) is not a step and is skipped. A recorded
sandbox error (an exception in code that parsed) counts as parsed.

    python benchmarks/reparse_audit.py --work runs/study --out results/study/reparse_audit.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agentdistill.agent.parse import PARSE_ERROR_KINDS, parse_step
from agentdistill.agent.records import Trajectory, iter_trajectories
from agentdistill.evaluate.records import read_results


def _recorded(kind: str | None) -> str:
    return kind if kind in PARSE_ERROR_KINDS else "ok"


def _compare(raw: str, code: str, kind: str | None, where: str, out: Counter, changes: list[dict]) -> None:
    new = parse_step(raw)
    before, after = _recorded(kind), new.error_kind or "ok"
    out["steps"] += 1
    if before != after:
        out[f"{before} -> {after}"] += 1
    elif after == "ok" and new.code.strip() != code.strip():
        out["ok, other code"] += 1
    else:
        return
    changes.append(
        {"where": where, "before": before, "after": after, "raw": raw[-400:], "new_code": new.code[:400]}
    )


def _steps(traj: Any, where: str, out: Counter, changes: list[dict]) -> None:
    for i, step in enumerate(traj.steps):
        if step.forced:  # the forced final-answer turn is a bare answer, not a step to parse
            continue
        cands = step.candidates or []
        if cands:
            for j, c in enumerate(cands):
                _compare(c.raw, c.code, c.error_kind, f"{where} step {i} candidate {j}", out, changes)
        else:
            _compare(step.raw, step.code, step.error_kind, f"{where} step {i}", out, changes)


def audit(work: Path) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    sources: list[tuple[str, Any]] = []
    teacher = work / "generate" / "trajectories.jsonl"
    if teacher.exists():
        named = ((t, f"{t.task.dataset}/{t.task.id}#{t.settings.sample}") for t in iter_trajectories(teacher))
        sources.append(("generate", named))
    for results in sorted((work / "eval").glob("*/results.jsonl")):
        trajs = (
            (Trajectory.model_validate(r.trajectory), f"{r.task.dataset}/{r.task.id}")
            for r in read_results(results)
            if r.trajectory is not None
        )
        sources.append((f"eval/{results.parent.name}", trajs))
    for name, trajs in sources:
        out: Counter = Counter()
        changes: list[dict] = []
        for traj, where in trajs:
            _steps(traj, where, out, changes)
        rows[name] = {"counts": dict(out), "changes": changes}
    return rows


def markdown(res: dict) -> str:
    run = res["run"]
    lines = [
        f"# Re-parse audit of `{res['work']}` with the parser at {run['git_commit'][:7]}",
        "",
        f"`{run['command']}` · {run['date']} · load {run['load_start']}",
        "",
        "| records | steps parsed | verdict or code changed | how |",
        "|:---|---:|---:|:---|",
    ]
    for name, row in res["rows"].items():
        counts = dict(row["counts"])
        steps = counts.pop("steps", 0)
        how = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "-"
        lines.append(f"| {name} | {steps} | {sum(counts.values())} | {how} |")
    lines += ["", "SAG steps count each candidate. Every changed step is listed in the JSON file."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/study"), help="a pipeline run's workdir")
    ap.add_argument("--out", type=Path, default=Path("results/study/reparse_audit.json"))
    args = ap.parse_args(argv)
    if not args.work.is_dir():
        ap.error(f"--work {args.work}: no such run directory")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results_and_markdown

    stamp = start_stamp(["benchmarks/reparse_audit.py", *(sys.argv[1:] if argv is None else argv)])
    res = {"work": str(args.work), "rows": audit(args.work)}
    write_results_and_markdown(args.out, res, stamp, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
