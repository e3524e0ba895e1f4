"""Report tables for how answers were graded: the LLM judge beside exact match, and the forced final answer.

Pure functions over loaded runs and their judge summaries (no I/O): the Markdown and the HTML show the same rows.

- ``judge_rows``: per run and QA set, EM (the eval summary's accuracy), mean F1, judge accuracy, the judge/EM
  agreement on the run's own predictions (over the parsed verdicts), the unparsed verdicts and the judge model.
  Source: ``judge_summary.json`` in the run folder (``grading.judge.judge_results_file``, written by
  ``agentdistill eval --judge`` / ``report --judge`` / the pipeline's eval stage).
- ``forced_rows``: per agent run and set, accuracy with and without the answers given in the forced
  final-answer turn after ``max_steps`` (``SetMetrics.forced`` / ``accuracy_unforced``), and their count.

Every rate over a count of questions carries a 95% Wilson interval (evaluate/stats.py); F1 is a mean of
fractional per-question scores, not a count, so it is shown without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentdistill.evaluate.records import RunResult
from agentdistill.evaluate.report_table import ResultsTable, _md_table, fmt, set_interval
from agentdistill.evaluate.stats import Interval, interval_from_accuracy, wilson

JUDGE_NOTE = (
    "EM: exact match (the accuracy of the main table); F1: mean token F1 (a mean of fractional scores: no "
    "interval); Judge: share of the n answers the LLM judge called correct, an unparsed verdict counting as not "
    "correct; Agreement: share of the parsed verdicts that equal the EM verdict, over those verdicts. In brackets "
    "the 95% Wilson score interval."
)
FORCED_NOTE = (
    "Forced: answers given in the extra turn that asks for the final answer after max_steps (as the paper); "
    "never used as training data. Without forced: those answers counted as not answered. In brackets the 95% "
    "Wilson score interval over the same n."
)


@dataclass(frozen=True)
class JudgeRow:
    """One run on one QA set, graded by EM, F1 and the judge. Intervals are None where there is no such grade."""

    model: str
    label: str
    set_name: str
    n: int
    em: Interval | None
    f1: float | None  # percent
    judge: Interval | None  # judge_correct over n (unparsed counted as not correct)
    agreement: Interval | None  # agreeing verdicts over parsed verdicts (n - unparsed)
    unparsed: int | None
    judge_model: str | None  # None: the run was not judged


@dataclass(frozen=True)
class ForcedRow:
    """One agent run on one set: accuracy with and without forced final answers."""

    model: str
    label: str
    set_name: str
    n: int
    accuracy: Interval | None
    unforced: Interval | None  # None in summaries written before forced answers were counted
    forced: int
    forced_correct: int | None


def _table_order(runs: list[RunResult]) -> list[tuple[int, RunResult]]:
    """(index, run) in the table's row order: grouped by model in order of first appearance (results_table)."""
    first: dict[str, int] = {}
    for i, run in enumerate(runs):
        first.setdefault(run.summary.model, i)
    return sorted(enumerate(runs), key=lambda ir: first[ir[1].summary.model])


def _judge_cells(tally: dict[str, Any]) -> tuple[Interval | None, Interval | None, int]:
    n, unparsed = int(tally.get("n") or 0), int(tally.get("unparsed") or 0)
    judge = wilson(int(tally["judge_correct"]), n) if n else None
    # agreement is over the verdicts the judge gave (summaries before "judged" existed: n - unparsed)
    judged, agreement = int(tally.get("judged", n - unparsed)), tally.get("agreement")
    agree = interval_from_accuracy(agreement, judged) if judged and agreement is not None else None
    return judge, agree, unparsed


def judge_rows(
    runs: list[RunResult], table: ResultsTable, summaries: list[dict[str, Any] | None]
) -> tuple[list[JudgeRow], list[str]]:
    """Rows for every run with a QA set (in table order: QA sets, runs grouped by model), and warnings.

    ``summaries[i]`` is run i's ``judge_summary.json`` (None: not judged). A judge summary whose n or EM count
    differs from the run's records is stale (the run changed after judging): its cells are shown with a warning.
    Returns no rows when no run was judged.
    """
    if not any(summaries):
        return [], []
    rows: list[JudgeRow] = []
    warnings: list[str] = []
    for index, run in _table_order(runs):
        summary = summaries[index] or {}
        per_set = summary.get("per_set") or {}
        for col in table.qa_columns:
            m = run.summary.per_set.get(col.name)
            if m is None:
                continue
            tally = per_set.get(col.name)
            judge = agree = unparsed = None
            if tally is not None:
                where = run.run_dir or run.summary.run_name
                try:
                    judge, agree, unparsed = _judge_cells(tally)
                except (KeyError, TypeError, ValueError) as exc:  # hand-edited or torn: no cells, one warning
                    warnings.append(
                        f"{where}: judge_summary.json: set '{col.name}': unreadable counts ({exc})"
                    )
                em_k = round(m.accuracy * m.n)
                if tally.get("n") != m.n or tally.get("em_correct") != em_k:
                    warnings.append(
                        f"{where}: set '{col.name}': judge_summary.json has n={tally.get('n')}, "
                        f"EM {tally.get('em_correct')} but the run has n={m.n}, EM {em_k}; judge it again"
                    )
            rows.append(
                JudgeRow(
                    model=run.summary.model,
                    label=run.label,
                    set_name=col.name,
                    n=m.n,
                    em=set_interval(m),
                    f1=None if m.f1 is None else 100.0 * m.f1,
                    judge=judge,
                    agreement=agree,
                    unparsed=unparsed,
                    judge_model=summary.get("judge_model") if tally is not None else None,
                )
            )
    return rows, warnings


def forced_rows(runs: list[RunResult], table: ResultsTable) -> list[ForcedRow]:
    """Rows for every agent run and set (table order); CoT runs have no forced turn and no rows."""
    out: list[ForcedRow] = []
    for _, run in _table_order(runs):
        if run.summary.mode != "agent":
            continue
        for col in table.set_columns:
            m = run.summary.per_set.get(col.name)
            if m is None or m.n < 1:
                continue
            unforced = None
            if m.accuracy_unforced is not None:
                unforced = interval_from_accuracy(m.accuracy_unforced, m.n)
            acc = set_interval(m)
            out.append(
                ForcedRow(
                    model=run.summary.model,
                    label=run.label,
                    set_name=col.name,
                    n=m.n,
                    accuracy=acc,
                    unforced=unforced,
                    forced=m.forced,
                    forced_correct=acc.k - unforced.k if acc and unforced else None,
                )
            )
    return out


def pct(interval: Interval | None) -> str:
    """'50.0 [15.0, 85.0]', or '–' when absent."""
    return interval.pct() if interval else "–"


def agreement_cell(interval: Interval | None) -> str:
    """'66.7 [20.8, 93.9] (n=3)': n is the number of parsed verdicts."""
    return interval.cell() if interval else "–"


def judge_markdown(rows: list[JudgeRow]) -> str:
    header = [
        "Model",
        "Method",
        "Set",
        "n",
        "EM % [95% CI]",
        "F1 %",
        "Judge % [95% CI]",
        "Judge/EM agreement % [95% CI]",
        "Unparsed",
        "Judge model",
    ]
    body = [
        [
            r.model,
            r.label,
            r.set_name,
            str(r.n),
            pct(r.em),
            fmt(r.f1),
            pct(r.judge),
            agreement_cell(r.agreement),
            "–" if r.unparsed is None else str(r.unparsed),
            r.judge_model or "not judged",
        ]
        for r in rows
    ]
    return _md_table(header, body, ["l", "l", "l"] + ["r"] * 6 + ["l"])


def forced_markdown(rows: list[ForcedRow]) -> str:
    header = [
        "Model",
        "Method",
        "Set",
        "n",
        "Acc % [95% CI]",
        "Without forced % [95% CI]",
        "Forced answers",
        "Forced correct",
    ]
    body = [
        [
            r.model,
            r.label,
            r.set_name,
            str(r.n),
            pct(r.accuracy),
            pct(r.unforced),
            str(r.forced),
            "–" if r.forced_correct is None else str(r.forced_correct),
        ]
        for r in rows
    ]
    return _md_table(header, body, ["l", "l", "l"] + ["r"] * 5)
