"""The failure reading as files: ``failures.md`` (a table per agent run, examples per category) and
``failures.json`` (every reading), and the overview table the report shows. The rules are in
``evaluate/failures.py``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agentdistill.evaluate.failures import CATEGORIES, CATEGORY_NOTES, RunFailures
from agentdistill.evaluate.stats import wilson

MARKDOWN_FILE, JSON_FILE = "failures.md", "failures.json"


def _share(k: int, n: int) -> str:
    if not n:
        return "–"
    ci = wilson(k, n)
    return f"{k} ({100 * k / n:.0f}% [{100 * ci.low:.0f}, {100 * ci.high:.0f}])"


def _clip(text: str, width: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def overview_markdown(runs: list[RunFailures]) -> str:
    """One row per agent run: questions scored, wrong, and the wrong answers per primary category."""
    cats = [c for c in CATEGORIES if any(r.count(c) for r in runs)]
    head = ["run", "n", "wrong", *cats, "forced (tag)"]
    rows = [
        [r.label, str(r.n), str(len(r.readings)), *(str(r.count(c)) for c in cats)]
        + [str(r.count("forced", primary=False))]
        for r in runs
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def failures_markdown(runs: list[RunFailures], examples: int = 2) -> str:
    """A table per agent run (primary category: count, share of wrong answers with its 95% Wilson interval;
    and how many wrong answers carry each tag), then ``examples`` wrong answers per primary category."""
    parts = [
        "# Why agent answers were wrong",
        "",
        "Primary category: the first that applies, in this order.",
        "",
    ]
    parts += [f"- `{c}`: {note}" for c, note in CATEGORY_NOTES.items()]
    parts += ["- `forced` (tag only): answered by the forced final-answer turn after the last step", ""]
    for run in runs:
        wrong = len(run.readings)
        parts += [f"## {run.label}", "", f"{wrong} wrong of {run.n} scored questions.", ""]
        if not wrong:
            continue
        parts += ["| category | primary (share of wrong, 95% CI) | tagged |", "|---|---|---|"]
        for cat in (*CATEGORIES, "forced"):
            k, tagged = run.count(cat), run.count(cat, primary=False)
            if k or tagged:
                parts.append(f"| {cat} | {_share(k, wrong) if cat != 'forced' else '–'} | {tagged} |")
        parts += ["", "| primary | set / id | question | prediction | gold |", "|---|---|---|---|---|"]
        for cat in CATEGORIES:
            for r in [r for r in run.readings if r.primary == cat][:examples]:
                parts.append(
                    f"| {cat} | {r.dataset} / {r.task_id} | {_clip(r.question)} | {_clip(r.prediction, 40)} "
                    f"| {_clip(r.gold, 40)} |"
                )
        parts.append("")
    return "\n".join(parts)


def write_failures(read: list[RunFailures], out_dir: Path | str) -> Path | None:
    """Write failures.md and failures.json (every reading) for the agent runs; None when there are none."""
    if not read:
        return None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data: list[dict[str, Any]] = [
        {
            "label": f.label,
            "n": f.n,
            "wrong": len(f.readings),
            "primary": {c: f.count(c) for c in CATEGORIES},
            "tagged": {c: f.count(c, primary=False) for c in (*CATEGORIES, "forced")},
            "readings": [asdict(r) for r in f.readings],
        }
        for f in read
    ]
    (out_dir / JSON_FILE).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    path = out_dir / MARKDOWN_FILE
    path.write_text(failures_markdown(read), encoding="utf-8")
    return path
