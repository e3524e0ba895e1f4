"""Why an agent answered wrong: a rule-based reading of each wrong answer's trajectory.

The study (issue 17) asks for a reading of the agent-distilled student's failures — parse errors, search loops,
wrong retrieval, arithmetic. Reading hundreds of trajectories by hand does not repeat; these rules do, and the
report shows examples of each so a reader can check them. Each wrong answer gets every category that applies
(``tags``) and one ``primary`` category: the first that applies, in the order an episode goes wrong.

Categories, in that order:

- ``no_answer``: the episode ended without ``final_answer`` (steps ran out, no forced answer, or an error).
- ``parse_errors``: at least half of the agent's steps could not be parsed (no code block, syntax error, ...).
- ``search_loop``: the same search query sent twice, or the same code run in two consecutive steps.
- ``code_errors``: at least half of the agent's steps raised when run.
- QA ``retrieval_miss``: no observation contains a gold answer (after SQuAD normalisation): search never
  surfaced it (answer recall, as RAG evaluations count it).
- QA ``reading_miss``: an observation contained a gold answer, yet the final answer is another.
- math ``hand_arithmetic``: ``final_answer`` was given a number literal that no observation printed: the model
  did the arithmetic itself rather than in code.
- math ``wrong_setup``: the answer came out of code that ran; the code computed the wrong quantity.

``forced`` is an extra tag (the answer came from the forced final-answer turn after ``max_steps``). CoT-mode
records, correct answers and backend failures are not read.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentdistill.agent.parse import PARSE_ERROR_KINDS
from agentdistill.agent.records import Step, Trajectory
from agentdistill.evaluate.records import ResultRecord, RunResult
from agentdistill.evaluate.stats import wilson
from agentdistill.grading.qa import normalize_answer

# category -> what it means, in the order an episode goes wrong (the first that applies is the primary one)
CATEGORY_NOTES: dict[str, str] = {
    "no_answer": "no `final_answer`: steps ran out with no forced answer, or the episode failed",
    "parse_errors": "at least half of the agent's steps could not be parsed (no code block, syntax error)",
    "search_loop": "the same search query sent twice, or the same code run in two consecutive steps",
    "code_errors": "at least half of the agent's steps raised when run",
    "retrieval_miss": "QA: no observation contains a gold answer (search never surfaced it)",
    "reading_miss": "QA: an observation contained a gold answer, yet the final answer is another",
    "hand_arithmetic": "math: `final_answer` got a number literal no observation printed (arithmetic by hand)",
    "wrong_setup": "math: the answer came out of code that ran, which computed the wrong quantity",
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_NOTES)
MARKDOWN_FILE, JSON_FILE = "failures.md", "failures.json"
_NUMBER_ARG = re.compile(r"final_answer\(\s*['\"]?\s*(-?[\d][\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?)\s*['\"]?\s*\)")


@dataclass(frozen=True)
class FailureReading:
    """One wrong answer and why: ``primary`` is one of ``CATEGORIES``; ``tags`` every category that applies."""

    dataset: str
    task_id: str
    kind: str
    primary: str
    tags: tuple[str, ...]
    question: str
    prediction: str
    gold: str


@dataclass
class RunFailures:
    """The readings of one agent run: ``n`` scored questions, of which ``len(readings)`` were wrong."""

    label: str
    n: int
    readings: list[FailureReading] = field(default_factory=list)

    def count(self, category: str, *, primary: bool = True) -> int:
        return sum((r.primary == category) if primary else (category in r.tags) for r in self.readings)


def _agent_steps(traj: Trajectory) -> list[Step]:
    return [s for s in traj.steps if not s.forced]


def _search_queries(traj: Trajectory) -> list[str]:
    name = traj.settings.search_tool or "search"
    out = []
    for step in _agent_steps(traj):
        for call in step.tool_calls:
            if call.get("name") == name:
                args = call.get("args") or list((call.get("kwargs") or {}).values())
                out.append(normalize_answer(str(args[0])) if args else "")
    return out


def _repeated(traj: Trajectory) -> bool:
    queries = _search_queries(traj)
    if len(set(queries)) < len(queries):
        return True
    codes = [s.code.strip() for s in _agent_steps(traj)]
    return any(a and a == b for a, b in zip(codes, codes[1:], strict=False))


def _observed(traj: Trajectory) -> str:
    return " ".join(s.observation for s in traj.steps)


def _contains(haystack: str, needle: str) -> bool:
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {normalize_answer(haystack)} "


def _answer_literal(traj: Trajectory) -> str | None:
    """The number literal passed to the answering step's ``final_answer``, if it was one."""
    answering = [s for s in traj.steps if s.has_final_answer]
    if not answering:
        return None
    m = _NUMBER_ARG.search(answering[-1].code)
    return m.group(1).replace(",", "").replace(" ", "") if m else None


def _tags(rec: ResultRecord, traj: Trajectory) -> list[str]:
    steps = _agent_steps(traj)
    half = max(1, (len(steps) + 1) // 2)
    tags = []
    if rec.prediction is None:
        tags.append("no_answer")
    if sum(s.error_kind in PARSE_ERROR_KINDS for s in steps) >= half:
        tags.append("parse_errors")
    if _repeated(traj):
        tags.append("search_loop")
    if sum(s.error_kind is not None and s.error_kind not in PARSE_ERROR_KINDS for s in steps) >= half:
        tags.append("code_errors")
    if rec.prediction is not None and rec.task.kind == "qa":
        seen = _observed(traj)
        golds = [rec.task.answer, *rec.task.aliases]
        tags.append("reading_miss" if any(_contains(seen, g) for g in golds) else "retrieval_miss")
    elif rec.prediction is not None:
        literal = _answer_literal(traj)
        printed = _observed(traj).replace(",", "")
        hand = literal is not None and not re.search(rf"(?<![\d.]){re.escape(literal)}(?![\d])", printed)
        tags.append("hand_arithmetic" if hand else "wrong_setup")
    return tags


def read_failure(rec: ResultRecord) -> FailureReading | None:
    """The reading of one record; None for a correct answer, a backend failure or a CoT-mode record."""
    if rec.grade.correct or rec.failure is not None or rec.mode != "agent" or rec.trajectory is None:
        return None
    try:
        traj = Trajectory.model_validate(rec.trajectory)
    except ValidationError:  # not a trajectory this code wrote: nothing to read, the report still renders
        return None
    tags = _tags(rec, traj)
    primary = next(c for c in CATEGORIES if c in tags)
    if traj.forced_final_answer:
        tags.append("forced")
    return FailureReading(
        dataset=rec.task.dataset,
        task_id=rec.task.id,
        kind=rec.task.kind,
        primary=primary,
        tags=tuple(tags),
        question=rec.task.question,
        prediction="" if rec.prediction is None else str(rec.prediction),
        gold=str(rec.task.answer),
    )


def read_run(run: RunResult) -> RunFailures | None:
    """The failure readings of one agent run; None for a CoT run."""
    if run.summary.mode != "agent":
        return None
    scored = [r for r in run.records if r.failure is None]
    readings = [f for f in map(read_failure, scored) if f is not None]
    return RunFailures(label=run.label, n=len(scored), readings=readings)


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


def read_runs(runs: list[RunResult]) -> list[RunFailures]:
    """The readings of every agent run among ``runs`` (CoT runs are left out)."""
    return [f for f in map(read_run, runs) if f is not None]


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
