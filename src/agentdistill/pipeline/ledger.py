"""What each stage of a pipeline workdir produced and what it cost, read from the records themselves.

A long run (the study, issue 17) is resumed across sessions and machines, so one invocation's
``stage_seconds.json`` says little; every record carries its own seconds, and this module adds them up:

- ``generate`` (agent arm ``<work>/generate``, CoT arm ``<work>/cot/generate``): attempts, correct attempts,
  tasks attempted and solved, the yield — correct records per 100 tasks — overall and per task kind (qa, math),
  and the hours of the episodes (each record's wall time, with the first-thought prefix's CoT call where there
  is one; at concurrency 1 that is the CPU time of the run).
- ``filter`` (``kept.jsonl``, the CoT arm's ``kept_cot.jsonl``): records kept for training, kept per 100
  tasks per kind, and the filter's wall time from the workdir's ``stage_seconds.json`` (with a judge the
  filter is minutes of model calls over every QA answer; its records carry no seconds).
- ``train``: the trainer's own runtime over every attempt of the run (``DONE.json``). A run resumed from a
  checkpoint before the trainer kept that clock has only its last attempt's runtime: its hours are a lower
  bound, marked ``≥`` (``lower_bound``).
- ``eval/<run>``: questions graded and the hours of their episodes and of the QA judge's calls.

Hours are wall time of the work itself: model loading and a killed invocation's lost partial episode are not
counted. Raises nothing on a missing stage (it is simply absent); a bad line raises ``JsonlError`` naming it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentdistill.common.jsonl import iter_jsonl
from agentdistill.common.runs import latest_by_key, record_key


@dataclass
class LedgerRow:
    arm: str  # "agent" (the workdir itself) or "cot" (the CoT-distillation arm under <work>/cot)
    stage: str  # "generate", "filter", "train" or "eval/<run>"
    records: int
    seconds: float  # wall time of the work itself (hours in the Markdown)
    correct: int | None = None
    tasks: int | None = None
    tasks_solved: int | None = None
    yield_per_100: dict[str, float] = field(
        default_factory=dict
    )  # task kind (and "all") -> correct (generate) or kept (filter) per 100 tasks
    tasks_by_kind: dict[str, int] = field(default_factory=dict)  # generate: tasks attempted per kind
    # seconds miss some of the work (train: the attempts before a resume, in metrics older than the clock)
    lower_bound: bool = False


def _lines(path: Path) -> list[dict[str, Any]]:
    return [r for _, r in iter_jsonl(path, on_torn_tail=lambda _msg: None)] if path.is_file() else []


def record_sample(r: dict[str, Any]) -> int:
    """The attempt index of a generate record (``settings.sample``; older CoT records: top-level ``sample``)."""
    return int((r.get("settings") or {}).get("sample", r.get("sample", 0)) or 0)


def latest_records(path: Path) -> list[dict[str, Any]]:
    """A generate output's records, the last one per (set, task, sample) (a retried failure replaces it)."""
    return latest_by_key(
        _lines(path), lambda r: record_key(r["task"]["dataset"], r["task"]["id"], record_sample(r))
    )


def generate_row(path: Path, arm: str) -> LedgerRow | None:
    """The yield and hours of one generate output (agent trajectories or CoT records); None if absent."""
    return generate_row_of(latest_records(path), arm)


def generate_row_of(records: list[dict[str, Any]], arm: str) -> LedgerRow | None:
    """``generate_row`` over records already read (deduplicated, as ``latest_records`` gives them)."""
    if not records:
        return None
    tasks: dict[tuple[str, str], str] = {}
    solved: set[tuple[str, str]] = set()
    correct_by_kind: dict[str, int] = {}
    seconds = 0.0
    for r in records:
        key = (r["task"]["dataset"], r["task"]["id"])
        kind = str(r["task"].get("kind") or "other")
        tasks[key] = kind
        seconds += float((r.get("totals") or {}).get("seconds", r.get("seconds", 0.0)) or 0.0)
        seconds += float((r.get("settings") or {}).get("ftp_cot_seconds") or 0.0)  # the FTP's CoT call
        if r.get("correct"):
            solved.add(key)
            correct_by_kind[kind] = correct_by_kind.get(kind, 0) + 1
    kinds = sorted(set(tasks.values()))
    per_kind = {k: sum(1 for v in tasks.values() if v == k) for k in kinds}
    correct = sum(correct_by_kind.values())
    yields = {k: round(100 * correct_by_kind.get(k, 0) / per_kind[k], 1) for k in kinds}
    yields["all"] = round(100 * correct / len(tasks), 1)
    return LedgerRow(
        arm, "generate", len(records), round(seconds, 1), correct, len(tasks), len(solved), yields, per_kind
    )


def _stage_seconds(work: Path, stage: str) -> float:
    """``stage``'s wall seconds in ``work/stage_seconds.json`` (summed over the invocations that finished it)."""
    try:
        seconds = json.loads((work / "stage_seconds.json").read_text(encoding="utf-8"))
        return float(seconds.get(stage) or 0.0) if isinstance(seconds, dict) else 0.0
    except (OSError, ValueError):
        return 0.0


def filter_row(path: Path, arm: str, generated: LedgerRow | None, seconds: float) -> LedgerRow:
    """The kept records of one filter output; per kind, kept per 100 of the generate row's tasks."""
    kept = _lines(path)
    kinds = [str(r["task"].get("kind") or "other") for r in kept]
    yields: dict[str, float] = {}
    if generated is not None and generated.tasks:
        for kind, tasks in generated.tasks_by_kind.items():
            yields[kind] = round(100 * kinds.count(kind) / tasks, 1)
        yields["all"] = round(100 * len(kept) / generated.tasks, 1)
    return LedgerRow(arm, "filter", len(kept), round(seconds, 1), yield_per_100=yields)


def _arm_rows(work: Path, arm: str) -> list[LedgerRow]:
    rows: list[LedgerRow] = []
    generated = None
    for name in ("trajectories.jsonl", "cot.jsonl"):
        row = generate_row(work / "generate" / name, arm)
        if row is not None:
            rows.append(row)
            generated = row
    for name in ("kept.jsonl", "kept_cot.jsonl"):
        if (work / "filter" / name).is_file():
            rows.append(filter_row(work / "filter" / name, arm, generated, _stage_seconds(work, "filter")))
    done = work / "train" / "DONE.json"
    if done.is_file():
        stamp = json.loads(done.read_text())
        metrics = stamp.get("metrics") or {}
        # every build of the run (a rebuild on a machine without the weights too); older stamps: the one build
        runtime = float(stamp.get("train_seconds") or metrics.get("train_runtime") or 0.0)
        partial = bool(metrics.get("resumed_from")) and "train_seconds" not in metrics
        rows.append(
            LedgerRow(arm, "train", int(metrics.get("examples") or 0), round(runtime, 1), lower_bound=partial)
        )
    return rows


def _judge_seconds(run: Path) -> float:
    """The QA judge's wall time over an eval row (``judge_summary.json``; 0.0 when not judged or older)."""
    from agentdistill.grading.judge import read_judge_summary

    summary = read_judge_summary(run) or {}
    return float(summary.get("seconds") or 0.0)


def ledger(work: Path) -> list[LedgerRow]:
    """Every stage's row for the workdir ``work`` and its CoT arm, in pipeline order."""
    work = Path(work)
    rows = _arm_rows(work, "agent") + _arm_rows(work / "cot", "cot")
    eval_dir = work / "eval"
    for run in sorted(eval_dir.iterdir()) if eval_dir.is_dir() else []:
        if ".stale-" in run.name:
            continue
        lines = _lines(run / "results.jsonl")
        if lines:
            seconds = sum(float(r.get("seconds") or 0.0) for r in lines)  # cost: every attempt, retries too
            seconds += _judge_seconds(run)
            # records: the last one per question (a retried failure is replaced), failures left out — as in
            # the eval summary's n
            latest = latest_by_key(lines, lambda r: record_key(r["task"]["dataset"], r["task"]["id"], 0))
            scored = [r for r in latest if not r.get("failure")]
            correct = sum(bool((r.get("grade") or {}).get("correct")) for r in scored)
            rows.append(LedgerRow("eval", f"eval/{run.name}", len(scored), round(seconds, 1), correct))
    return rows


def ledger_markdown(rows: list[LedgerRow]) -> str:
    """The ledger as a Markdown table (yield per 100 tasks per kind; hours of the work itself)."""
    lines = [
        "| arm | stage | records | correct | tasks (solved) | yield per 100 tasks | hours |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        solved = f"{r.tasks} ({r.tasks_solved})" if r.tasks is not None else ""
        yields = ", ".join(f"{k} {v:.1f}" for k, v in r.yield_per_100.items())
        correct = "" if r.correct is None else str(r.correct)
        hours = f"{'≥' if r.lower_bound else ''}{r.seconds / 3600:.2f}"
        lines.append(f"| {r.arm} | {r.stage} | {r.records} | {correct} | {solved} | {yields} | {hours} |")
    partial = any(r.lower_bound for r in rows)
    total = sum(r.seconds for r in rows) / 3600
    lines.append(f"| all | | | | | | {'≥' if partial else ''}{total:.2f} |")
    if partial:
        lines.append("")
        lines.append(
            "≥: a lower bound — training resumed from a checkpoint before the trainer kept a clock over every "
            "attempt, so only the last attempt's runtime is known."
        )
    return "\n".join(lines) + "\n"


def write_ledger(work: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``ledger.json`` and ``ledger.md`` for ``work`` into ``out_dir``; returns their paths."""
    rows = ledger(work)
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "ledger.json", out_dir / "ledger.md"
    js.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    md.write_text(ledger_markdown(rows))
    return js, md
