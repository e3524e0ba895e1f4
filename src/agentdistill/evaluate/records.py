"""Records written by `agentdistill eval` and read by `agentdistill report`.

A run directory holds `results.jsonl` (one `ResultRecord` per question) and `summary.json` (a `RunSummary`).
The report trusts the per-question records as the raw data: a missing `summary.json` is rebuilt from them, and
a summary that disagrees with them is flagged in the report rather than silently shown.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentdistill.common.jsonl import JsonlError, read_jsonl
from agentdistill.data.task import Task
from agentdistill.evaluate.stats import score_interval, wilson
from agentdistill.grading.types import Grade

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"

Mode = Literal["agent", "cot"]


class RunInputError(ValueError):
    """A run directory that cannot be read; the message names the file, line and field."""


class ResultRecord(BaseModel):
    """One graded attempt at one question (one line of results.jsonl)."""

    model_config = ConfigDict(extra="ignore")

    task: Task
    mode: Mode
    model: str
    sag_n: int = Field(default=1, ge=1)
    prediction: Any = None  # whatever the agent passed to final_answer (str, number, ...); None if none
    grade: Grade
    status: (
        str  # agent: "answered" | "max_steps" | "context_overflow" | "error"; cot: the same less max_steps
    )
    steps: int = Field(default=0, ge=0)
    parse_errors: int = Field(default=0, ge=0)
    tokens: int = Field(default=0, ge=0)
    seconds: float = Field(default=0.0, ge=0.0)
    trajectory: dict[str, Any] | None = (
        None  # agent Trajectory as a dict (agent/records.py); None in CoT mode
    )
    cot_text: str | None = None  # CoT mode: the model's full answer text
    # backend/sandbox failure ("ExcType: message"): not an answer; excluded from accuracy, retried by the next run
    failure: str | None = None


class SetMetrics(BaseModel):
    """Metrics of one run on one test set. Rates are fractions in [0, 1], not percent."""

    model_config = ConfigDict(extra="ignore")

    n: int = Field(ge=0)
    accuracy: float = Field(ge=0.0, le=1.0)  # EM for QA, math equivalence for math
    f1: float | None = Field(default=None, ge=0.0, le=1.0)  # QA only
    # 95% interval of the mean F1 (stats.score_interval); None for math and in old summaries
    f1_low: float | None = Field(default=None, ge=0.0, le=1.0)
    f1_high: float | None = Field(default=None, ge=0.0, le=1.0)
    mean_steps: float = Field(default=0.0, ge=0.0)
    parse_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # unparsable steps / all steps
    tokens_per_task: float = Field(default=0.0, ge=0.0)
    seconds_per_task: float = Field(default=0.0, ge=0.0)
    # 95% Wilson score interval of `accuracy` over the n questions (evaluate/stats.py); None in old summaries
    accuracy_low: float | None = Field(default=None, ge=0.0, le=1.0)
    accuracy_high: float | None = Field(default=None, ge=0.0, le=1.0)
    failed: int = Field(
        default=0, ge=0
    )  # questions whose attempt failed (backend down); not in n or accuracy
    # answers from the forced final-answer turn after max_steps (agent/loop.py); accuracy without them beside
    forced: int = Field(default=0, ge=0)
    accuracy_unforced: float | None = Field(default=None, ge=0.0, le=1.0)


class RunSummary(BaseModel):
    """summary.json: what was run, and the metrics per test set."""

    model_config = ConfigDict(extra="ignore")

    run_name: str
    model: str
    mode: Mode
    sag_n: int = Field(default=1, ge=1)
    label: str = ""  # method name for the results table row, e.g. "Student agent-distilled"
    per_set: dict[str, SetMetrics] = Field(default_factory=dict)


@dataclass
class RunResult:
    """A loaded run: its summary, its per-question records, and any consistency warnings."""

    summary: RunSummary
    records: list[ResultRecord]
    run_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.summary.label or default_label(self.summary.mode, self.summary.sag_n)

    def records_for(self, set_name: str) -> list[ResultRecord]:
        return [r for r in self.records if r.task.dataset == set_name]


def default_label(mode: str, sag_n: int) -> str:
    """A method name for runs whose summary has no label."""
    if mode == "cot":
        return "CoT"
    return f"Agent + SAG (N={sag_n})" if sag_n > 1 else "Agent"


def _interval_fields(k: int, n: int) -> dict[str, float]:
    ci = wilson(k, n)
    return {"accuracy_low": ci.low, "accuracy_high": ci.high}


def _forced(rec: ResultRecord) -> bool:
    """The answer came from the forced final-answer turn (``Trajectory.forced_final_answer``): a forced turn
    that produced no answer is not a forced answer."""
    return bool((rec.trajectory or {}).get("forced_final_answer")) and rec.status == "answered"


def summarize_records(records: list[ResultRecord]) -> dict[str, SetMetrics]:
    """Per-set metrics computed from per-question records (used when summary.json is missing)."""
    by_set: dict[str, list[ResultRecord]] = {}
    failed: dict[str, int] = {}
    for rec in records:
        by_set.setdefault(rec.task.dataset, [])
        if rec.failure is not None:  # a failure is no answer: counted apart, never scored as wrong
            failed[rec.task.dataset] = failed.get(rec.task.dataset, 0) + 1
        else:
            by_set[rec.task.dataset].append(rec)
    out: dict[str, SetMetrics] = {}
    for name, recs in by_set.items():
        n = len(recs)
        if n == 0:
            out[name] = SetMetrics(n=0, accuracy=0.0, failed=failed.get(name, 0))
            continue
        steps = sum(r.steps for r in recs)
        qa = any(r.task.kind == "qa" for r in recs)
        f1_total = sum(r.grade.f1 for r in recs)
        f1_low, f1_high = score_interval(min(f1_total, n), n) if qa else (None, None)
        out[name] = SetMetrics(
            n=n,
            accuracy=sum(r.grade.correct for r in recs) / n,
            f1=f1_total / n if qa else None,
            f1_low=f1_low,
            f1_high=f1_high,
            mean_steps=steps / n,
            parse_error_rate=min(1.0, sum(r.parse_errors for r in recs) / steps) if steps else 0.0,
            tokens_per_task=sum(r.tokens for r in recs) / n,
            seconds_per_task=sum(r.seconds for r in recs) / n,
            **_interval_fields(sum(bool(r.grade.correct) for r in recs), n),
            failed=failed.get(name, 0),
            forced=sum(_forced(r) for r in recs),
            accuracy_unforced=sum(r.grade.correct and not _forced(r) for r in recs) / n,
        )
    return out


def _format_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(record)"
        parts.append(f"field '{loc}': {e['msg']}")
    more = len(err.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def read_results(path: Path) -> list[ResultRecord]:
    """Read and validate results.jsonl; errors (``RunInputError``) name the file, line and field."""
    try:
        return [rec for _, rec in read_jsonl(Path(path), ResultRecord)]
    except JsonlError as e:
        raise RunInputError(str(e)) from None
    except OSError as e:
        raise RunInputError(f"{path}: cannot read: {e.strerror or e}") from None


def read_summary(path: Path) -> RunSummary:
    """Read and validate summary.json; errors name the file and field."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RunInputError(f"{path}: cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise RunInputError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    try:
        return RunSummary.model_validate(obj)
    except ValidationError as e:
        raise RunInputError(f"{path}: {_format_validation(e)}") from None


def _check_consistency(summary: RunSummary, records: list[ResultRecord], where: Path) -> list[str]:
    warnings = []
    computed = summarize_records(records)
    for name, m in summary.per_set.items():
        c = computed.get(name)
        if c is None:
            if records:
                warnings.append(f"{where}: set '{name}' is in {SUMMARY_FILE} but has no records")
            continue
        if c.n != m.n:
            warnings.append(f"{where}: set '{name}': {SUMMARY_FILE} says n={m.n}, {RESULTS_FILE} has {c.n}")
        elif not math.isclose(c.accuracy, m.accuracy, abs_tol=1e-6):
            warnings.append(
                f"{where}: set '{name}': {SUMMARY_FILE} accuracy {m.accuracy:.4f} != "
                f"{c.accuracy:.4f} from {RESULTS_FILE}"
            )
    for name in computed.keys() - summary.per_set.keys():
        warnings.append(f"{where}: set '{name}' has records but is missing from {SUMMARY_FILE}; computed")
        summary.per_set[name] = computed[name]
    return warnings


def load_run(run_dir: Path | str) -> RunResult:
    """Load one eval run directory (results.jsonl, and summary.json if present)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunInputError(f"{run_dir}: not a directory")
    results_path, summary_path = run_dir / RESULTS_FILE, run_dir / SUMMARY_FILE
    if not results_path.exists() and not summary_path.exists():
        raise RunInputError(
            f"{run_dir}: no {RESULTS_FILE} or {SUMMARY_FILE} (is this an eval run directory?)"
        )
    records = read_results(results_path) if results_path.exists() else []
    # a failed attempt retried by a later run is followed by its retry: the last record per question counts
    records = list({(r.task.dataset, r.task.id): r for r in records}.values())
    if summary_path.exists():
        summary = read_summary(summary_path)
        warnings = _check_consistency(summary, records, run_dir)
        _fill_f1_intervals(summary, records)
    else:
        if not records:
            raise RunInputError(f"{results_path}: no records and no {SUMMARY_FILE}")
        first = records[0]
        summary = RunSummary(
            run_name=run_dir.name,
            model=first.model,
            mode=first.mode,
            sag_n=first.sag_n,
            per_set=summarize_records(records),
        )
        warnings = [f"{run_dir}: no {SUMMARY_FILE}; metrics computed from {RESULTS_FILE}"]
    for name, m in summary.per_set.items():
        if m.failed:
            warnings.append(
                f"{run_dir}: set '{name}': {m.failed} question(s) failed (backend/sandbox error) and "
                f"are not scored; re-run the same eval to retry them"
            )
    return RunResult(summary=summary, records=records, run_dir=run_dir, warnings=warnings)


def _fill_f1_intervals(summary: RunSummary, records: list[ResultRecord]) -> None:
    """A summary written before the F1 interval existed gets it from the run's own records (same n only)."""
    if not records or all(m.f1 is None or m.f1_low is not None for m in summary.per_set.values()):
        return
    fresh = summarize_records(records)
    for name, m in summary.per_set.items():
        f = fresh.get(name)
        if m.f1 is not None and m.f1_low is None and f is not None and f.n == m.n:
            summary.per_set[name] = m.model_copy(update={"f1_low": f.f1_low, "f1_high": f.f1_high})


def discover_run_dirs(paths: list[Path]) -> list[Path]:
    """Expand each path: a run dir stays; a dir of run dirs gives its children (sorted) that are runs, except
    runs the pipeline archived when their settings changed (``<run>.stale-N``; name one to read it)."""
    out: list[Path] = []
    for p in paths:
        if (p / RESULTS_FILE).exists() or (p / SUMMARY_FILE).exists() or not p.is_dir():
            out.append(p)
            continue
        children = sorted(
            c
            for c in p.iterdir()
            if ((c / RESULTS_FILE).exists() or (c / SUMMARY_FILE).exists()) and ".stale-" not in c.name
        )
        out.extend(children or [p])
    return out
