"""`agentdistill report`: a Markdown and a self-contained HTML report over one or more eval runs.

The HTML has no external resources (inline CSS, the chart as a base64 PNG, a few lines of inline JS), so it
can be mailed or archived as one file. All text from runs goes through Jinja autoescaping: model-written code
such as ``</pre><script>`` shows as text and never runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from agentdistill.evaluate.compare import PairedRow, key_comparisons, paired_markdown, paired_rows
from agentdistill.evaluate.failures import RunFailures, read_runs
from agentdistill.evaluate.failures_report import MARKDOWN_FILE as FAILURES_FILE
from agentdistill.evaluate.failures_report import overview_markdown, write_failures
from agentdistill.evaluate.records import RunResult, load_run
from agentdistill.evaluate.report_grading import (
    FORCED_NOTE,
    JUDGE_NOTE,
    ForcedRow,
    JudgeRow,
    agreement_cell,
    forced_markdown,
    forced_rows,
    judge_markdown,
    judge_rows,
    pct,
)
from agentdistill.evaluate.report_table import (
    ResultsTable,
    accuracy_cell,
    accuracy_markdown,
    column_n,
    efficiency_markdown,
    f1_cell,
    f1_markdown,
    fmt,
    results_table,
)
from agentdistill.evaluate.report_viewer import DEFAULT_MAX_TRAJECTORIES, build_views
from agentdistill.evaluate.stats import wilson

CHART_FILE = "accuracy.png"
OPEN_SETS_UP_TO = 40  # small reports show every question list unfolded; larger ones start folded


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    chart: Path | None = None


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("agentdistill")
    except Exception:  # noqa: BLE001 - not installed (source checkout)
        return "dev"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agentdistill.evaluate", "templates"),
        autoescape=True,  # .j2 names are not matched by select_autoescape: force it on
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _best_cells(table: ResultsTable) -> set[tuple[str, str, str]]:
    """(model, label, column) of the best value per column within each model group of two or more rows."""
    best: set[tuple[str, str, str]] = set()
    for model, rows in table.groups():
        if len(rows) < 2:
            continue
        for col in table.columns:
            values = [r.accuracy.get(col.name) for r in rows]
            present = [v for v in values if v is not None]
            if len(set(present)) < 2:  # nothing to single out
                continue
            top = max(present)
            best |= {(model, r.label, col.name) for r, v in zip(rows, values, strict=True) if v == top}
    return best


def _domain_spans(table: ResultsTable) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for col in table.columns:
        name = {"qa": "Question answering", "math": "Math"}.get(col.kind, "All")
        if spans and spans[-1][0] == name:
            spans[-1] = (name, spans[-1][1] + 1)
        else:
            spans.append((name, 1))
    return spans


def _all_warnings(runs: list[RunResult]) -> list[str]:
    return [w for run in runs for w in run.warnings]


JudgeSummaries = list[dict[str, Any] | None]


def judge_summaries(runs: list[RunResult]) -> JudgeSummaries:
    """Each run's ``judge_summary.json`` (grading/judge.py), None for a run that was not judged."""
    from agentdistill.grading.judge import read_judge_summary

    return [read_judge_summary(run.run_dir) if run.run_dir else None for run in runs]


def _grading(
    runs: list[RunResult], table: ResultsTable, summaries: JudgeSummaries | None
) -> tuple[list[JudgeRow], list[ForcedRow], list[str]]:
    judged, stale = judge_rows(runs, table, summaries if summaries is not None else [None] * len(runs))
    return judged, forced_rows(runs, table), _all_warnings(runs) + stale


def _judge_models(rows: list[JudgeRow]) -> str:
    return ", ".join(f"`{m}`" for m in dict.fromkeys(r.judge_model for r in rows if r.judge_model))


PAIRED_NOTE = (
    "Runs graded on the same questions, paired by question: A is the later run in the input order. "
    "The difference A − B has Newcombe's 95% interval for paired proportions; p is the exact "
    "McNemar test on the questions only one run got right (near p = 0.05 the two can disagree: the exact test is "
    "conservative). p-values are per comparison, not corrected for the number of comparisons shown."
)
KEY_NOTE = (
    "A − B over every question both runs answered, pooled over a domain's sets (each set weighs by its n) and "
    "over all sets; same interval and McNemar test as the per-set paired comparisons."
)


def render_markdown(
    runs: list[RunResult],
    table: ResultsTable,
    title: str,
    chart_name: str | None,
    judge: JudgeSummaries | None = None,
    failures: list[RunFailures] | None = None,
    key: list[PairedRow] | None = None,
) -> str:
    """The Markdown report. ``judge``: each run's judge summary (``judge_summaries``); None: none judged.
    ``failures``: the agent runs' failure readings (``evaluate.failures``), shown as counts per category.
    ``key``: the comparisons the report is about (``compare.key_comparisons``), shown first."""
    parts = [f"# {title}", "", f"Generated {datetime.now():%Y-%m-%d %H:%M} · {len(runs)} runs", ""]
    judged, forced, warnings = _grading(runs, table, judge)
    if warnings:
        parts += ["> **Check these inputs:**"] + [f"> - {w}" for w in warnings] + [""]
    parts += ["## Accuracy (%)", "", accuracy_markdown(table), ""]
    parts += [
        "Exact match for QA, math equivalence for math; in brackets the 95% Wilson score interval, n questions "
        "per set. Averages are unweighted means over a domain's sets, Avg over every set (with unequal n, the MOVER interval of the mean).",
        "",
    ]
    if key:
        parts += ["## Key comparisons (paired)", "", paired_markdown(key) or "", "", KEY_NOTE, ""]
    paired = paired_markdown(paired_rows(runs, [c.name for c in table.set_columns]))
    if paired:
        parts += ["## Paired comparisons", "", paired, "", PAIRED_NOTE, ""]
    f1 = f1_markdown(table)
    if f1:
        parts += ["### Token F1 on QA sets (%, in brackets its 95% interval)", "", f1, ""]
    if judged:
        parts += ["## QA graded by exact match, F1 and the LLM judge", ""]
        parts += [f"Judged by {_judge_models(judged)}.", "", judge_markdown(judged), "", JUDGE_NOTE, ""]
    if forced:
        parts += ["## Forced final answers", "", forced_markdown(forced), "", FORCED_NOTE, ""]
    if chart_name:
        parts += [f"![Accuracy per test set]({chart_name})", ""]
    parts += ["## Behaviour and cost per run", "", efficiency_markdown(table), ""]
    if failures and any(f.readings for f in failures):
        parts += ["## Why agent answers were wrong", "", overview_markdown(failures), ""]
        parts += [f"Wrong answers per primary category; the rules and examples are in `{FAILURES_FILE}`.", ""]
    parts += ["## Runs", ""]
    for run in runs:
        s = run.summary
        sag = f", SAG N={s.sag_n}" if s.sag_n > 1 else ""
        parts.append(
            f"- **{run.label}**: `{s.model}`, {s.mode}{sag} — run `{s.run_name}`"
            + (f" (`{run.run_dir}`)" if run.run_dir else "")
        )
    parts += ["", "Trajectories (thought / code / observation per step, SAG votes) are in `report.html`.", ""]
    return "\n".join(parts)


def render_html(
    runs: list[RunResult],
    table: ResultsTable,
    title: str,
    chart_uri: str | None,
    max_trajectories: int = DEFAULT_MAX_TRAJECTORIES,
    judge: JudgeSummaries | None = None,
    key: list[PairedRow] | None = None,
) -> str:
    """The self-contained HTML report. ``judge`` and ``key`` as in ``render_markdown``."""
    template = _environment().get_template("report.html.j2")
    judged, forced, warnings = _grading(runs, table, judge)
    views = build_views(runs, max_trajectories)
    run_rows = [
        {
            "label": run.label,
            "model": run.summary.model,
            "mode": run.summary.mode,
            "sag_n": run.summary.sag_n,
            "run_name": run.summary.run_name,
            "dir": str(run.run_dir) if run.run_dir else "",
        }
        for run in runs
    ]
    return template.render(
        title=title,
        generated=f"{datetime.now():%Y-%m-%d %H:%M}",
        version=_version(),
        runs=runs,
        run_rows=run_rows,
        warnings=warnings,
        judged=judged,
        judge_models=_judge_models(judged).replace("`", ""),
        judge_note=JUDGE_NOTE,
        forced=forced,
        forced_note=FORCED_NOTE,
        pct=pct,
        agreement_cell=agreement_cell,
        table=table,
        groups=table.groups(),
        qa_columns=[c for c in table.columns if c.kind == "qa"],
        domain_spans=_domain_spans(table),
        best=_best_cells(table),
        chart=chart_uri,
        views=views,
        max_trajectories=max_trajectories,
        fmt=fmt,
        cell=accuracy_cell,
        f1_cell=f1_cell,
        wilson=wilson,
        column_n={c.name: column_n(table, c.name) for c in table.columns},
        key=key or [],
        key_note=KEY_NOTE,
        paired=_paired_for_html(runs, table),
        paired_note=PAIRED_NOTE,
        eff_spans=Counter(e.run_index for e in table.efficiency),
        open_sets=sum(len(s.items) for v in views for s in v.sets) <= OPEN_SETS_UP_TO,
    )


def _paired_for_html(runs: list[RunResult], table: ResultsTable) -> list[PairedRow]:
    return paired_rows(runs, [c.name for c in table.set_columns])


def write_report(
    runs: list[RunResult],
    out_dir: Path | str,
    title: str = "agentdistill report",
    *,
    max_trajectories: int = DEFAULT_MAX_TRAJECTORIES,
    chart: bool = True,
    comparisons: list[tuple[str, str]] | None = None,
) -> ReportPaths:
    """Write report.md, report.html, accuracy.png (referenced by the Markdown) and, for agent runs,
    failures.md/json (why answers were wrong, `evaluate.failures`) into out_dir.

    A run folder with a ``judge_summary.json`` gets its QA judge verdicts beside EM and F1; agent runs get
    their accuracy with and without forced final answers. ``comparisons``: (label A, label B) pairs shown first
    as paired tests pooled per domain and overall (``compare.key_comparisons``). Raises ``ValueError`` without
    runs, naming a ``judge_summary.json`` that is not valid JSON, or naming a comparison label no run has.
    """
    if not runs:
        raise ValueError("write_report: no runs given")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = results_table(runs)
    chart_path: Path | None = None
    chart_uri: str | None = None
    if chart and table.set_columns and table.rows:
        from agentdistill.evaluate.charts import accuracy_chart_png, data_uri

        png = accuracy_chart_png(table)
        chart_path = out_dir / CHART_FILE
        chart_path.write_bytes(png)
        chart_uri = data_uri(png)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    judge = judge_summaries(runs)
    failures = read_runs(runs)
    key = key_comparisons(runs, list(comparisons or []))
    write_failures(failures, out_dir)
    md_path.write_text(
        render_markdown(runs, table, title, CHART_FILE if chart_path else None, judge, failures, key),
        encoding="utf-8",
    )
    html_path.write_text(
        render_html(runs, table, title, chart_uri, max_trajectories, judge, key), encoding="utf-8"
    )
    return ReportPaths(markdown=md_path, html=html_path, chart=chart_path)


def report_from_dirs(
    run_dirs: list[Path], out_dir: Path | str, title: str = "agentdistill report", **kwargs: object
) -> tuple[ReportPaths, ResultsTable]:
    """Load each run directory, write the report, and return its paths and table."""
    runs = [load_run(d) for d in run_dirs]
    paths = write_report(runs, out_dir, title, **kwargs)  # type: ignore[arg-type]
    return paths, results_table(runs)
