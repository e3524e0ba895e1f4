"""The first-thought-prefix (FTP) arm's pilot: teacher yield with FTP against the main arm on the same tasks.

The pilot is the first tasks of the ``study-ftp`` arm, generated with the arm's own settings (``generate.ftp:
true``, everything else as ``study``). This script pairs its records with the ``study`` arm's records of the same
tasks, already made without FTP, and writes, per arm:

- attempts, correct attempts and tasks solved; the yield (correct per 100 tasks) per task kind;
- what the filter keeps (``filter_trajectories``, one per task, without the QA judge in both arms, so they are
  alike; the study's own filter also re-grades QA answers with the judge);
- steps, parse failures per step, those of the first step (the one FTP starts), the episodes' hours;
- the paired test on tasks solved (Newcombe interval, exact McNemar) and a projection to the arm's full task list.

A pilot cut short is compared on the attempt rounds it finished, in both arms alike (``rounds_done``).

    python benchmarks/ftp_pilot.py [--ftp runs/study-ftp] [--base runs/study] [--out results/study/ftp_pilot.json]

Exits non-zero with a message naming the workdir when one has no records, is not the arm it should be, or the
two arms differ in anything but ``ftp``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, get_args

from agentdistill.agent.parse import ParseErrorKind
from agentdistill.common.jsonl import iter_jsonl
from agentdistill.distill.filter import filter_trajectories
from agentdistill.evaluate.stats import paired_comparison
from agentdistill.pipeline.ledger import generate_row_of, latest_records, record_sample

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "study" / "ftp_pilot.json"
RECORDS = Path("generate") / "trajectories.jsonl"
PARSE_KINDS = set(get_args(ParseErrorKind))


def _task(r: dict[str, Any]) -> tuple[str, str]:
    return r["task"]["dataset"], r["task"]["id"]


def _kind(r: dict[str, Any]) -> str:
    return str(r["task"].get("kind") or "other")


def arm_settings(work: Path, ftp: bool) -> dict[str, Any]:
    """The generate stage's settings stamp of ``work``; exits 2 if missing or not the arm (``ftp``) wanted."""
    path = work / "generate" / "settings.json"
    if not path.is_file():
        sys.exit(f"ftp_pilot: {path} is missing: run the generate stage of that workdir first")
    settings = json.loads(path.read_text(encoding="utf-8"))
    if bool(settings.get("ftp")) is not ftp:
        sys.exit(f"ftp_pilot: {path} has ftp={settings.get('ftp')}; this arm must have ftp={ftp}")
    return settings


def rounds_done(records: list[dict[str, Any]], samples: int) -> int:
    """Attempt rounds every started task has finished: a solved task is done with all ``samples`` rounds (it
    stops at its first correct attempt), an unsolved one with as many as it has attempts. Comparing both arms
    on their first ``rounds_done`` attempts keeps a pilot cut short from favouring the tasks it solved."""
    attempts = Counter(_task(r) for r in records)
    solved = {_task(r) for r in records if r.get("correct")}
    return min((samples if t in solved else n for t, n in attempts.items()), default=0)


def arm_summary(records: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Yield, kept, parse failures and hours of one arm's records (deduplicated, as ``latest_records`` gives
    them). Raises ``ValueError`` when there are none."""
    row = generate_row_of(records, name)
    if row is None or not row.tasks:
        raise ValueError(f"ftp_pilot: arm {name!r} has no records on the pilot's tasks")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "records.jsonl", Path(tmp) / "kept.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        report = filter_trajectories(src, dst, max_per_task=1)
        kept = Counter(_kind(r) for _, r in iter_jsonl(dst))
    steps = [s for r in records for s in r.get("steps") or [] if not s.get("forced")]
    first = [r["steps"][0] for r in records if r.get("steps")]
    parse_failures = sum(s.get("error_kind") in PARSE_KINDS for s in steps)
    return {
        "attempts": row.records,
        "correct": row.correct,
        "tasks": row.tasks,
        "tasks_solved": row.tasks_solved,
        "tasks_by_kind": row.tasks_by_kind,
        "yield_per_100": row.yield_per_100,
        "kept": report.kept,
        "kept_per_100": {
            **{k: round(100 * kept[k] / n, 1) for k, n in row.tasks_by_kind.items()},
            "all": round(100 * report.kept / row.tasks, 1),
        },
        "dropped": dict(report.dropped),
        "steps": len(steps),
        "parse_failures": parse_failures,
        "parse_failure_rate": round(parse_failures / max(len(steps), 1), 3),
        "first_step_parse_failures": dict(
            Counter(s["error_kind"] for s in first if s.get("error_kind") in PARSE_KINDS)
        ),
        "errors": sum(r.get("status") == "error" for r in records),  # backend failures: retried on resume
        "hours": round(row.seconds / 3600, 3),
        "seconds_per_task": round(row.seconds / row.tasks, 1),
        "seconds_per_task_by_kind": {
            k: round(kind_row.seconds / n, 1)
            for k, n in row.tasks_by_kind.items()
            if (kind_row := generate_row_of([r for r in records if _kind(r) == k], name)) is not None
        },
    }


def projection(arm: dict[str, Any], tasks_by_kind: dict[str, int]) -> dict[str, float | None]:
    """The arm's kept trajectories and hours on ``tasks_by_kind`` tasks at the pilot's per-kind rates (over the
    rounds compared); None when the pilot has no task of a kind (a run cut before its first math task)."""
    rate, seconds = arm["kept_per_100"], arm["seconds_per_task_by_kind"]
    if any(k not in seconds for k in tasks_by_kind):
        return {"kept": None, "hours": None}
    return {
        "kept": round(sum(rate[k] * n / 100 for k, n in tasks_by_kind.items()), 1),
        "hours": round(sum(seconds[k] * n for k, n in tasks_by_kind.items()) / 3600, 1),
    }


def pilot(ftp_work: Path, base_work: Path, full_tasks: dict[str, int]) -> dict[str, Any]:
    """Both arms on the FTP pilot's tasks and finished rounds, the paired test on tasks solved, the projection.

    Raises ``SystemExit`` with a message when a workdir is missing, is not its arm, differs from the other in
    anything but ``ftp``, does not stop a task at its first correct attempt, or lacks a pilot task's records."""
    ftp_settings, base_settings = arm_settings(ftp_work, True), arm_settings(base_work, False)
    differ = sorted(
        k for k in {*ftp_settings, *base_settings} - {"ftp"} if ftp_settings.get(k) != base_settings.get(k)
    )
    if differ:
        sys.exit(f"ftp_pilot: {ftp_work} and {base_work} differ in {', '.join(differ)}; pair alike arms")
    if ftp_settings.get("stop_after_correct") != 1:
        sys.exit("ftp_pilot: rounds are compared only when a task stops at its first correct attempt")
    samples = int(ftp_settings.get("samples") or 1)
    ftp_all = latest_records(ftp_work / RECORDS)
    if not ftp_all:
        sys.exit(f"ftp_pilot: {ftp_work / RECORDS} has no records")
    base_all = latest_records(base_work / RECORDS)
    tasks = {_task(r) for r in ftp_all}
    missing = tasks - {_task(r) for r in base_all}
    if missing:
        sys.exit(f"ftp_pilot: {len(missing)} of the pilot's tasks have no records in {base_work / RECORDS}")
    rounds = min(
        rounds_done(ftp_all, samples), rounds_done([r for r in base_all if _task(r) in tasks], samples)
    )
    arms = {
        name: [r for r in records if _task(r) in tasks and record_sample(r) < rounds]
        for name, records in (("ftp", ftp_all), ("no_ftp", base_all))
    }
    summaries = {name: arm_summary(records, name) for name, records in arms.items()}
    order = sorted(tasks)
    solved = {name: {_task(r) for r in arms[name] if r.get("correct")} for name in arms}
    test = paired_comparison([t in solved["ftp"] for t in order], [t in solved["no_ftp"] for t in order])
    return {
        "samples": samples,
        "tasks": len(tasks),
        "rounds_compared": rounds,
        "arms": summaries,
        "tasks_solved_ftp_minus_no_ftp": {
            "n": test.n,
            "diff_pts": round(100 * test.diff, 1),
            "ci95_pts": [round(100 * test.diff_low, 1), round(100 * test.diff_high, 1)],
            "only_ftp": test.only_a,
            "only_no_ftp": test.only_b,
            "mcnemar_p": float(f"{test.p_value:.3g}"),  # 3 significant figures: a small p is not 0.0
        },
        "projection": {
            "tasks_by_kind": full_tasks,
            **{name: projection(s, full_tasks) for name, s in summaries.items()},
        },
    }


def markdown(res: dict[str, Any]) -> str:
    """The pilot as a Markdown table (one row per arm) and the paired test."""
    lines = [
        f"FTP pilot: {res['tasks']} tasks, each arm's first {res['rounds_compared']} of up to {res['samples']} "
        "attempts per task (an attempt after a correct one is never made)",
        "",
        "| arm | tasks | attempts | solved | yield/100 (qa / math / all) | kept/100 | parse fail/step "
        f"| s/task | projected on {sum(res['projection']['tasks_by_kind'].values())} tasks at these rates: kept, hours |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, a in res["arms"].items():
        y, p = a["yield_per_100"], res["projection"][name]
        lines.append(
            f"| {name} | {a['tasks']} | {a['attempts']} | {a['tasks_solved']} "
            f"| {y.get('qa', 0.0)} / {y.get('math', 0.0)} / {y['all']} | {a['kept_per_100']['all']} "
            f"| {a['parse_failure_rate']:.3f} | {a['seconds_per_task']} | {p['kept'] if p['kept'] is not None else '–'}, "
            f"{p['hours'] if p['hours'] is not None else '–'} h |"
        )
    t = res["tasks_solved_ftp_minus_no_ftp"]
    lines += [
        "",
        f"Tasks solved, FTP − no FTP: {t['diff_pts']:+} pts [{t['ci95_pts'][0]:+}, {t['ci95_pts'][1]:+}], "
        f"McNemar exact p={t['mcnemar_p']:.2g} (n={t['n']}; {t['only_ftp']} vs {t['only_no_ftp']} discordant)",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ftp", type=Path, default=Path("runs/study-ftp"), help="the FTP arm's workdir")
    ap.add_argument("--base", type=Path, default=Path("runs/study"), help="the no-FTP arm's workdir")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--qa-tasks", type=int, default=300, help="the full arm's QA tasks (study.yaml)")
    ap.add_argument("--math-tasks", type=int, default=300, help="the full arm's math tasks (study.yaml)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results_and_markdown

    stamp = start_stamp(["benchmarks/ftp_pilot.py", *(sys.argv[1:] if argv is None else argv)])
    res = pilot(args.ftp, args.base, {"qa": args.qa_tasks, "math": args.math_tasks})
    write_results_and_markdown(args.out, res, stamp, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
