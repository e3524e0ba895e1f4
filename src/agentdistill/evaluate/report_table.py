"""The results table in the paper's layout (methods × test sets, grouped by model), and its Markdown form.

Pure functions over loaded runs: no I/O, so the CLI, the HTML and the Markdown all show the same numbers.
Every accuracy carries its n and a 95% Wilson interval (evaluate/stats.py); runs graded on the same questions
are compared pairwise (exact McNemar test, Newcombe's paired interval of the difference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agentdistill.evaluate.records import RunResult, SetMetrics
from agentdistill.evaluate.stats import Interval, mean_interval, mover_mean, wilson

_MATH_NAME = re.compile(r"gsm|math|aime|amc|olym|svamp|asdiv|minerva", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """A test set (or a domain average) in the table."""

    name: str
    kind: str  # "qa" | "math" | "all" (the average over every set, as the paper's "Avg")
    is_average: bool = False


@dataclass
class Row:
    """One method (one run) in the table. Values are percent; None where the run has no such set."""

    model: str
    label: str
    run_name: str
    accuracy: dict[str, float | None] = field(default_factory=dict)
    f1: dict[str, float | None] = field(default_factory=dict)
    # Wilson 95% interval (with k and n) per set; for a domain average, the pooled interval when every set
    # has the same n (then the unweighted mean is the pooled rate), else the MOVER interval of the mean.
    interval: dict[str, Interval | None] = field(default_factory=dict)
    # 95% interval of the mean F1 in percent (stats.score_interval; MOVER for a domain average); None if absent
    f1_interval: dict[str, tuple[float, float] | None] = field(default_factory=dict)


@dataclass
class EfficiencyRow:
    """Cost and behaviour of one run on one set."""

    model: str
    label: str
    set_name: str
    n: int
    accuracy: float  # percent
    f1: float | None  # percent, QA only
    mean_steps: float | None  # None for CoT runs (no agent steps)
    parse_error_rate: float | None  # percent; None for CoT runs
    tokens_per_task: float
    seconds_per_task: float
    run_index: int = 0  # position of the run in the input list
    interval: Interval | None = None  # Wilson 95% interval of the accuracy


@dataclass
class ResultsTable:
    columns: list[Column]
    rows: list[Row]
    efficiency: list[EfficiencyRow]

    @property
    def set_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.is_average]

    @property
    def qa_columns(self) -> list[Column]:
        return [c for c in self.set_columns if c.kind == "qa"]

    def groups(self) -> list[tuple[str, list[Row]]]:
        """Rows grouped by model, in order of first appearance."""
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.model, []).append(row)
        return list(out.items())

    def value(self, label: str, set_name: str, model: str | None = None) -> float | None:
        """Accuracy (percent) of the row with this label (and model) on this set."""
        for row in self.rows:
            if row.label == label and (model is None or row.model == model):
                return row.accuracy.get(set_name)
        raise KeyError(f"no row labelled {label!r}" + (f" for model {model!r}" if model else ""))


def set_kind(set_name: str, runs: list[RunResult]) -> str:
    """ "qa" or "math": from the records' task kind, else guessed from the set's name."""
    kinds = {r.task.kind for run in runs for r in run.records if r.task.dataset == set_name}
    if len(kinds) == 1:
        return kinds.pop()
    return "math" if _MATH_NAME.search(set_name) else "qa"


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def _mean(values: list[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


def set_interval(m: SetMetrics | None) -> Interval | None:
    """Wilson 95% interval of one set's accuracy (k = accuracy × n); None without questions."""
    if m is None or m.n < 1:
        return None
    return wilson(round(m.accuracy * m.n), m.n)


def _pooled(intervals: list[Interval | None]) -> Interval | None:
    """The interval of a domain average (the unweighted mean of its sets' accuracies); n is all questions.

    Equal n: the Wilson interval of the pooled count (the mean is the pooled rate). Unequal n: the MOVER
    interval of the mean (``stats.mean_interval``). None when a set is missing or has no questions."""
    if not intervals or any(i is None for i in intervals):
        return None
    if len({i.n for i in intervals}) == 1:  # type: ignore[union-attr]
        return wilson(sum(i.k for i in intervals), sum(i.n for i in intervals))  # type: ignore[union-attr]
    return mean_interval(intervals)  # type: ignore[arg-type]


def _f1_average(parts: list[tuple[float | None, tuple[float, float] | None]]) -> tuple[float, float] | None:
    """The MOVER interval (percent) of a domain's mean F1; None when a set lacks its F1 or interval."""
    if not parts or any(v is None or ci is None for v, ci in parts):
        return None
    _, low, high = mover_mean([(v / 100, ci[0] / 100, ci[1] / 100) for v, ci in parts])  # type: ignore[index,operator]
    return 100 * low, 100 * high


def results_table(runs: list[RunResult]) -> ResultsTable:
    """Build the table: QA sets first, then math, each in order of first appearance; an average column per
    domain with two or more sets, and with both domains an "Avg" over every set (the unweighted mean of the
    sets, as the paper's headline "Avg" of its test sets); an average only for rows that have all its sets."""
    names: list[str] = []
    for run in runs:
        for name in run.summary.per_set:
            if name not in names:
                names.append(name)
    kinds = {n: set_kind(n, runs) for n in names}
    columns: list[Column] = []
    for kind in ("qa", "math"):
        domain = [Column(n, kind) for n in names if kinds[n] == kind]
        columns += domain
        if len(domain) >= 2:
            columns.append(Column("QA avg" if kind == "qa" else "Math avg", kind, is_average=True))
    if len({kinds[n] for n in names}) >= 2:
        columns.append(Column("Avg", "all", is_average=True))

    rows: list[Row] = []
    efficiency: list[EfficiencyRow] = []
    for run_index, run in enumerate(runs):
        s = run.summary
        agent = s.mode == "agent"
        row = Row(model=s.model, label=run.label, run_name=s.run_name)
        for col in columns:
            if col.is_average:
                domain = [c.name for c in columns if col.kind in ("all", c.kind) and not c.is_average]
                row.accuracy[col.name] = _mean([row.accuracy.get(n) for n in domain])
                row.f1[col.name] = _mean([row.f1.get(n) for n in domain]) if col.kind == "qa" else None
                row.interval[col.name] = _pooled([row.interval.get(n) for n in domain])
                if col.kind == "qa":
                    row.f1_interval[col.name] = _f1_average(
                        [(row.f1.get(n), row.f1_interval.get(n)) for n in domain]
                    )
                continue
            m = s.per_set.get(col.name)
            if m is not None and m.n < 1:  # every attempt failed: no accuracy (not 0), and no average
                m = None
            row.accuracy[col.name] = _pct(m.accuracy) if m else None
            row.interval[col.name] = set_interval(m)
            row.f1[col.name] = _pct(m.f1) if m and col.kind == "qa" else None
            has_f1 = m is not None and m.f1_low is not None and m.f1_high is not None
            row.f1_interval[col.name] = (100 * m.f1_low, 100 * m.f1_high) if has_f1 else None  # type: ignore[union-attr,operator]
        rows.append(row)
        for col in columns:
            m = s.per_set.get(col.name)
            if col.is_average or m is None:
                continue
            efficiency.append(
                EfficiencyRow(
                    model=s.model,
                    label=run.label,
                    set_name=col.name,
                    n=m.n,
                    accuracy=100.0 * m.accuracy,
                    f1=_pct(m.f1) if col.kind == "qa" else None,
                    mean_steps=m.mean_steps if agent else None,
                    parse_error_rate=100.0 * m.parse_error_rate if agent else None,
                    tokens_per_task=m.tokens_per_task,
                    seconds_per_task=m.seconds_per_task,
                    run_index=run_index,
                    interval=set_interval(m),
                )
            )
    # Group rows by model (stable: first appearance of each model, rows in input order within it).
    order = {model: i for i, model in reversed(list(enumerate(r.model for r in rows)))}
    rows.sort(key=lambda r: order[r.model])
    efficiency.sort(key=lambda e: order[e.model])
    return ResultsTable(columns=columns, rows=rows, efficiency=efficiency)


def fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def accuracy_cell(row: Row, set_name: str, *, with_n: bool = True) -> str:
    """'40.0 [19.8, 64.3] (n=15)': accuracy % with its Wilson 95% interval (and n); '–' when absent.

    For any results table (CLI, pipeline, Markdown): call it per row and column instead of ``fmt``.
    """
    interval = row.interval.get(set_name)
    if interval is None:
        return fmt(row.accuracy.get(set_name))
    return interval.cell() if with_n else interval.pct()


def f1_cell(row: Row, set_name: str) -> str:
    """'75.0 [40.9, 93.4]': mean F1 % with its 95% interval; the bare value for old summaries; '–' if absent."""
    value, ci = row.f1.get(set_name), row.f1_interval.get(set_name)
    if value is None or ci is None:
        return fmt(value)
    return f"{value:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def column_n(table: ResultsTable, set_name: str) -> int | None:
    """The n every row has on this column (None when rows differ or none has it)."""
    ns = {i.n for r in table.rows if (i := r.interval.get(set_name)) is not None}
    return ns.pop() if len(ns) == 1 else None


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], body: list[list[str]], align: list[str]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def accuracy_markdown(table: ResultsTable) -> str:
    """Accuracy % [95% Wilson interval]; n in the column header when every row has the same n, else per cell."""
    ns = {c.name: column_n(table, c.name) for c in table.columns}
    header = ["Model", "Method"] + [
        c.name + (f" (n={ns[c.name]})" if ns[c.name] else "") for c in table.columns
    ]
    body = []
    for model, rows in table.groups():
        for i, row in enumerate(rows):
            cells = [accuracy_cell(row, c.name, with_n=ns[c.name] is None) for c in table.columns]
            body.append([model if i == 0 else "", row.label] + cells)
    return _md_table(header, body, ["l", "l"] + ["r"] * len(table.columns))


def f1_markdown(table: ResultsTable) -> str | None:
    """Mean token F1 % [95% interval] of the QA sets (n as in the accuracy table)."""
    cols = [c for c in table.columns if c.kind == "qa"]
    if not cols:
        return None
    body = [
        [model if i == 0 else "", row.label] + [f1_cell(row, c.name) for c in cols]
        for model, rows in table.groups()
        for i, row in enumerate(rows)
    ]
    return _md_table(["Model", "Method"] + [c.name for c in cols], body, ["l", "l"] + ["r"] * len(cols))


def efficiency_markdown(table: ResultsTable) -> str:
    header = [
        "Model",
        "Method",
        "Set",
        "n",
        "Acc % [95% CI]",
        "F1 %",
        "Steps",
        "Parse err %",
        "Tokens/task",
        "s/task",
    ]
    body = [
        [
            e.model,
            e.label,
            e.set_name,
            str(e.n),
            e.interval.pct() if e.interval else fmt(e.accuracy),
            fmt(e.f1),
            fmt(e.mean_steps, 2),
            fmt(e.parse_error_rate),
            fmt(e.tokens_per_task, 0),
            fmt(e.seconds_per_task, 2),
        ]
        for e in table.efficiency
    ]
    return _md_table(header, body, ["l", "l", "l"] + ["r"] * 7)
