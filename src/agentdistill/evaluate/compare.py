"""Paired comparisons of runs graded on the same questions (for the report).

For each test set and each pair of runs, the questions both runs answered (same task id; attempts that failed
for backend reasons are left out) are paired; the later run in the input order is A, the earlier is B, and
``PairedComparison`` gives A − B with Newcombe's paired 95% interval and the exact McNemar p-value
(evaluate/stats.py). Pure functions over loaded runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentdistill.evaluate.records import RunResult
from agentdistill.evaluate.stats import PairedComparison, pair_by_question, paired_comparison

MIN_PAIRED = 1  # compare whenever at least this many questions are shared


@dataclass(frozen=True)
class PairedRow:
    set_name: str
    a: str  # run A's name (label, and model when runs differ in model)
    b: str
    comparison: PairedComparison


def run_names(runs: list[RunResult]) -> list[str]:
    """A readable name per run: its label, with the model when the runs use more than one model."""
    multi = len({r.summary.model for r in runs}) > 1
    return [f"{r.label} ({r.summary.model})" if multi else r.label for r in runs]


def correctness(run: RunResult, set_name: str) -> dict[str, bool]:
    """Task id -> graded correct, for the run's answered attempts on one set."""
    return {
        r.task.id: bool(r.grade.correct)
        for r in run.records_for(set_name)
        if getattr(r, "failure", None) is None
    }


def paired_rows(runs: list[RunResult], set_names: list[str]) -> list[PairedRow]:
    """Every pair of runs on every set where both have per-question records for shared questions."""
    names = run_names(runs)
    rows: list[PairedRow] = []
    for set_name in set_names:
        graded = [correctness(run, set_name) for run in runs]
        for j in range(len(runs)):
            for i in range(j):
                ids, a, b = pair_by_question(graded[j], graded[i])
                if len(ids) >= MIN_PAIRED:
                    rows.append(PairedRow(set_name, names[j], names[i], paired_comparison(a, b)))
    return rows


def paired_markdown(rows: list[PairedRow]) -> str | None:
    """A Markdown table of the comparisons; None when there are none."""
    if not rows:
        return None
    lines = [
        "| Set | A | B | n | A % | B % | A − B (pts) [95% CI] | only A / only B | McNemar exact p |",
        "|:---|:---|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r.comparison
        cells = [
            r.set_name,
            r.a,
            r.b,
            str(c.n),
            f"{100 * c.accuracy_a:.1f}",
            f"{100 * c.accuracy_b:.1f}",
            f"{100 * c.diff:+.1f} [{100 * c.diff_low:+.1f}, {100 * c.diff_high:+.1f}]",
            f"{c.only_a} / {c.only_b}",
            f"{c.p_value:.3g}",
        ]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines)


def parse_pair(text: str) -> tuple[str, str]:
    """``"A vs B"`` → ``(A, B)``: a comparison of two run labels, as the CLI and configs write it (split at
    the first `` vs ``, so a label that contains one cannot be named here).

    Raises ``ValueError`` when ``text`` is not two non-empty labels around `` vs ``."""
    a, sep, b = text.partition(" vs ")
    if not sep or not a.strip() or not b.strip():
        raise ValueError(f"comparison {text!r}: write it as 'LABEL A vs LABEL B'")
    return a.strip(), b.strip()


def key_comparisons(runs: list[RunResult], pairs: list[tuple[str, str]]) -> list[PairedRow]:
    """The comparisons a study is about, by run label (A − B), pooled over each domain's questions and over all.

    Pooling pairs every question of the domain's sets (keyed by set and id), so the interval is over all of them
    (a domain's sets weigh by their n, unlike the table's unweighted set average). Raises ``ValueError`` naming
    a label no run has, or one that more than one run has."""
    by_label = {r.label: r for r in runs}
    for label in {x for pair in pairs for x in pair}:
        if sum(r.label == label for r in runs) > 1:
            raise ValueError(f"comparison names run {label!r}, and more than one run has that label")
        if label not in by_label:
            raise ValueError(f"comparison names run {label!r}; the runs are: {', '.join(by_label)}")
    kinds: dict[str, set[str]] = {}
    for run in runs:
        for rec in run.records:
            kinds.setdefault(rec.task.kind, set()).add(rec.task.dataset)
    scopes = [
        (f"{'QA' if k == 'qa' else 'Math'} (pooled)", sorted(s))
        for k, s in sorted(kinds.items(), reverse=True)
    ]
    scopes.append(("All (pooled)", sorted(set().union(*kinds.values()))))
    rows: list[PairedRow] = []
    for a_label, b_label in pairs:
        for scope, sets in scopes:
            graded = [
                {f"{s}/{q}": ok for s in sets for q, ok in correctness(by_label[lab], s).items()}
                for lab in (a_label, b_label)
            ]
            ids, a, b = pair_by_question(*graded)
            if len(ids) >= MIN_PAIRED:
                rows.append(PairedRow(scope, a_label, b_label, paired_comparison(a, b)))
    return rows
