"""Why an agent answered wrong: a rule-based reading of each wrong answer's trajectory.

The study (issue 17) asks for a reading of the agent-distilled student's failures — parse errors, search loops,
wrong retrieval, arithmetic. Reading hundreds of trajectories by hand does not repeat; these rules do, and the
report shows examples of each so a reader can check them. Each wrong answer gets every category that applies
(``tags``) and one ``primary`` category: the first that applies, in the order an episode goes wrong.

The categories, in that order, are ``CATEGORY_NOTES`` below. What the rules read:

- "printed" is the ``stdout`` of the agent's steps: not error messages, format reminders or the forced turn.
- QA: a gold answer (or alias) is "in" the printed text when its SQuAD-normalised words appear there as a whole
  (answer recall, as RAG evaluations count it); yes/no golds are set apart, since no passage holds the word.
- math: an answer is "typed" when it came from the forced turn or from ``final_answer(<constants>)`` (parsed
  with ``ast``); its value is the last number in it. A typed value is "printed" when code printed it to the
  typed precision, or printed a value it rounds (up or down) to when typed without decimals.
- an error category needs more than half of the agent steps to fail, so one recovered error is not the reason.

``forced`` is an extra tag (the answer came from the forced final-answer turn after ``max_steps``). CoT-mode
records, correct answers and backend failures are not read.
"""

from __future__ import annotations

import ast
import json
import math
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
    "no_answer": "no `final_answer` (steps ran out, no forced answer), or a math answer with no number where "
    "the gold answer has one",
    "parse_errors": "more than half of the agent's steps could not be parsed (no code block, syntax error)",
    "search_loop": "the same search query sent twice, or the same code run in two consecutive steps",
    "code_errors": "more than half of the agent's steps raised when run",
    "no_search": "QA: the search tool was offered and never called",
    "yes_no_miss": "QA: a yes/no question answered wrong (the text cannot say whether search found the evidence)",
    "retrieval_miss": "QA: nothing the agent printed contains a gold answer (search never surfaced it)",
    "reading_miss": "QA: a gold answer was in what the agent printed, yet the final answer is another",
    "hand_arithmetic": "math: the answer was typed (a literal, or the forced turn) and no code printed its value: "
    "worked out by hand",
    "wrong_setup": "math: the answer came out of code that ran (or was copied from what it printed), and the "
    "code computed the wrong quantity",
    "unreadable": "the record's trajectory does not validate (not written by this code): nothing to read",
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_NOTES)
MARKDOWN_FILE, JSON_FILE = "failures.md", "failures.json"
# a number as code prints or a model types it: -1,234.5  7  3.2e+05 (not the digits inside a word like x2)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?")
_YES_NO = {"yes", "no"}


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


def _printed(steps: list[Step]) -> str:
    """What the agent's code printed (stdout), not error messages, reminders or the forced turn."""
    return "\n".join(s.stdout for s in steps)


def _contains(haystack: str, needle: str) -> bool:
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {normalize_answer(haystack)} "


def _numbers(text: str) -> list[tuple[float, int]]:
    """The numbers in ``text``, each with its count of decimal places."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group().replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        mantissa = raw.lower().split("e")[0]
        out.append((value, len(mantissa.split(".")[1]) if "." in mantissa else 0))
    return out


def _typed_answer(step: Step) -> str | None:
    """The text of an answer typed rather than computed: the forced turn's answer, or the source of a
    ``final_answer`` argument made of constants only (``final_answer(381)``, ``final_answer("43.33%")``).
    None when the argument uses names or calls (the value came out of code) or the code does not parse."""
    if step.forced:
        return str(step.final_answer)
    try:
        tree = ast.parse(step.code)
    except SyntaxError:
        return None
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "final_answer" and n.args
    ]
    if not calls:
        return None
    arg = calls[-1].args[0]
    if any(isinstance(n, ast.Name | ast.Attribute | ast.Call | ast.Subscript) for n in ast.walk(arg)):
        return None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return ast.get_source_segment(step.code, arg)


def _printed_value(value: tuple[float, int], printed: str) -> bool:
    """A typed number is one the code printed: equal to the typed precision, or a printed value rounded to a
    whole number (up or down) when typed without decimals."""
    v, decimals = value
    for p, _ in _numbers(printed):
        if decimals == 0 and v == int(v) and math.floor(p) <= v <= math.ceil(p):
            return True
        if decimals and abs(v - p) <= 0.5 * 10**-decimals + 1e-12:
            return True
    return False


def _math_tag(rec: ResultRecord, traj: Trajectory) -> str:
    answering = [s for s in traj.steps if s.has_final_answer]
    if not answering:
        return "wrong_setup"
    step = answering[-1]
    typed = _typed_answer(step)
    if typed is None:
        return "wrong_setup"
    values = _numbers(typed)
    if not values:  # symbolic (\\pi, x^2) typed answers: worked out by hand
        return "hand_arithmetic"
    earlier = [s for s in _agent_steps(traj) if s.index < step.index or s is step]
    return "wrong_setup" if _printed_value(values[-1], _printed(earlier)) else "hand_arithmetic"


def _qa_tag(rec: ResultRecord, traj: Trajectory) -> str:
    golds = [rec.task.answer, *rec.task.aliases]
    if traj.settings.search and not _search_queries(traj):
        return "no_search"
    if any(normalize_answer(str(g)) in _YES_NO for g in golds):
        return "yes_no_miss"
    seen = _printed(_agent_steps(traj))
    return "reading_miss" if any(_contains(seen, str(g)) for g in golds) else "retrieval_miss"


def _tags(rec: ResultRecord, traj: Trajectory) -> list[str]:
    steps = _agent_steps(traj)
    tags = []
    unanswered = rec.prediction is None or (
        rec.task.kind == "math" and not _numbers(str(rec.prediction)) and bool(_numbers(str(rec.task.answer)))
    )
    if unanswered:
        tags.append("no_answer")
    if 2 * sum(s.error_kind in PARSE_ERROR_KINDS for s in steps) > len(steps):
        tags.append("parse_errors")
    if _repeated(traj):
        tags.append("search_loop")
    if 2 * sum(s.error_kind is not None and s.error_kind not in PARSE_ERROR_KINDS for s in steps) > len(
        steps
    ):
        tags.append("code_errors")
    if rec.prediction is not None:
        tags.append(_qa_tag(rec, traj) if rec.task.kind == "qa" else _math_tag(rec, traj))
    return tags


def read_failure(rec: ResultRecord) -> FailureReading | None:
    """The reading of one record; None for a correct answer, a backend failure or a CoT-mode record."""
    if rec.grade.correct or rec.failure is not None or rec.mode != "agent" or rec.trajectory is None:
        return None
    try:
        traj = Trajectory.model_validate(rec.trajectory)
    except ValidationError:  # not a trajectory this code wrote: counted as wrong, nothing to read
        tags, forced = ["unreadable"], False
    else:
        tags, forced = _tags(rec, traj), traj.forced_final_answer
    primary = next(c for c in CATEGORIES if c in tags)
    if forced:
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
