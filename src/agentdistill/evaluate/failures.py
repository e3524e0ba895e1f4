"""Why an agent answered wrong: a rule-based reading of each wrong answer's trajectory.

The study (issue 17) asks for a reading of the agent-distilled student's failures — parse errors, search loops,
wrong retrieval, arithmetic. Reading hundreds of trajectories by hand does not repeat; these rules do, and the
report shows examples of each so a reader can check them. Each wrong answer gets every category that applies
(``tags``) and one ``primary`` category: the first that applies, in the order an episode goes wrong.

The categories, in that order, are ``CATEGORY_NOTES`` below. What the rules read:

- "printed" is what the agent's code showed it before the answering step: ``stdout``, and the last
  statement's value where the turn format shows one — not error messages, format reminders or the forced turn.
- QA: a gold answer (or alias) is "in" the printed text when its SQuAD-normalised words appear there as a whole
  (answer recall, as RAG evaluations count it); yes/no golds are set apart, since no passage holds the word.
- math: an answer is "typed" when it came from the forced turn or ``final_answer`` got a constant (parsed with
  ``ast``; ``final_answer(3 * 4)`` is Python's arithmetic, not the model's). Its value is the whole answer read
  as a number, fraction, ``\\frac`` or percentage by the graders' own cleaning, else the last number in it.
  A typed value is "printed" when code printed it (sign aside) to the typed precision, a value it rounds to
  (up or down) when typed whole, or its fraction when typed as a percentage.
- an error category needs more than half of the agent steps to fail, so one recovered error is not the reason.

``forced`` is an extra tag (the answer came from the forced final-answer turn after ``max_steps``). CoT-mode
records, correct answers and backend failures are not read.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from agentdistill.agent.loop import FORCED_ANSWER_REQUEST
from agentdistill.agent.parse import PARSE_ERROR_KINDS
from agentdistill.agent.parse_python import COMPILE_ERRORS
from agentdistill.agent.records import Step, Trajectory
from agentdistill.evaluate.records import ResultRecord, RunResult
from agentdistill.grading.extract import clean_math, extract_math_answer, to_number
from agentdistill.grading.qa import normalize_answer

# category -> what it means, in the order an episode goes wrong (the first that applies is the primary one)
CATEGORY_NOTES: dict[str, str] = {
    "no_answer": "no `final_answer` (steps ran out, no forced answer), an answer made of the harness's own "
    "words (the forced turn's request, the prompt's placeholder), or a math answer with no number where the gold answer has one",
    "parse_errors": "more than half of the agent's steps could not be parsed (no code block, syntax error)",
    "copied_example": "the agent ran the prompt's worked example (every line of a step's code is a line of the "
    "system message) in place of working on its own task",
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
# a number as code prints or a model types it: -1,234.5  7  3.2e+05 (not the digits inside a word like x2)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:[eE][+-]?\d+)?")
_YES_NO = {"yes", "no"}
_COPY_MIN_CHARS = 20  # a copied step's code, lines stripped: `final_answer("India")` is 21
# the forced turn's request, its placeholders out: a small model often answers it with its own words
_FORCED_REQUEST = re.sub(r"\{\w+\}", " ", FORCED_ANSWER_REQUEST)


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


def _copies_example(traj: Trajectory) -> bool:
    """A step's code is the prompt's own example: each of its lines (comments and blank lines aside) is a line of
    the system message, and together they are at least ``_COPY_MIN_CHARS`` long (``print(result)`` is no copy)."""
    prompt = "\n".join(m.get("content", "") for m in traj.messages if m.get("role") == "system")
    # a fence may share a line with the code it closes (`print(12 * 7)```<end_code>`): split at fences too
    prompt_lines = {part.strip() for line in prompt.splitlines() for part in line.split("```")}
    for step in _agent_steps(traj):
        lines = [ln.strip() for ln in step.code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        if sum(map(len, lines)) >= _COPY_MIN_CHARS and all(ln in prompt_lines for ln in lines):
            return True
    return False


def _printed(steps: list[Step]) -> str:
    """What the agent's code showed it: printed output, and the last statement's value where the turn format
    shows it (``Step.last_value``) — not error messages, format reminders or the forced turn."""
    return "\n".join(s.stdout + ("\n" + s.last_value if s.last_value is not None else "") for s in steps)


def _contains(haystack: str, needle: str) -> bool:
    n = normalize_answer(needle)
    return bool(n) and f" {n} " in f" {normalize_answer(haystack)} "


@dataclass(frozen=True)
class _Value:
    """A number as written: its value and how far a value it was rounded from may lie."""

    value: float
    tolerance: float
    whole: bool  # written without decimals: may be a printed value rounded up or down
    percent: bool = False  # written with %: may be a printed fraction times 100


def _value(raw: str, *, percent: bool = False) -> _Value | None:
    """``raw`` (a plain or scientific number, commas allowed) as a ``_Value``; None if not finite."""
    raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    mantissa, _, exp = raw.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    scale = int(exp) if exp.lstrip("+-").isdigit() else 0
    whole = decimals == 0 and scale == 0
    return _Value(value, 0.5 * 10.0 ** (scale - decimals) if not whole else 0.0, whole, percent)


def _numbers(text: str) -> list[_Value]:
    """The finite numbers written in ``text``, in order."""
    return [v for m in _NUMBER.finditer(text) if (v := _value(m.group())) is not None]


def _typed_value(text: str) -> _Value | None:
    """The value of a typed answer: the whole answer as a number, fraction, ``\\frac`` or percentage when it
    is one (after the graders' own cleaning), else the last number written in it; None if it has none."""
    cleaned = clean_math(extract_math_answer(text))
    whole = to_number(cleaned)
    if whole is not None and math.isfinite(whole):
        plain = _value(cleaned)
        if plain is not None:
            return _Value(plain.value, plain.tolerance, plain.whole, percent=text.rstrip().endswith("%"))
        return _Value(whole, 1e-3 * max(1.0, abs(whole)), False)  # a fraction: printed to a few places
    found = _numbers(text)
    return found[-1] if found else None


def _final_answer_arg(code: str) -> ast.expr | None:
    """The argument of the last ``final_answer(...)`` call in source order (positional or ``answer=``)."""
    try:
        tree = ast.parse(code)
    except COMPILE_ERRORS:
        return None
    calls = sorted(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "final_answer"
        ),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for call in reversed(calls):
        if call.args:
            return call.args[0]
        named = [k.value for k in call.keywords if k.arg == "answer"]
        if named:
            return named[0]
    return None


def _typed_answer(step: Step) -> str | None:
    """The text of an answer typed rather than computed: the forced turn's answer, or a ``final_answer``
    argument that is a constant (``final_answer(381)``, ``final_answer(-7)``, ``final_answer("43.33%")``).
    None when Python computed it (names, calls, operators: ``final_answer(x)``, ``final_answer(3 * 4)``) or
    the code does not parse."""
    if step.forced:
        return str(step.final_answer)
    arg, sign = _final_answer_arg(step.code), ""
    if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub | ast.UAdd):
        sign, arg = ("-" if isinstance(arg.op, ast.USub) else ""), arg.operand
    if not isinstance(arg, ast.Constant) or isinstance(arg.value, bool) or arg.value is None:
        return None
    return sign + str(arg.value)


def _printed_value(typed: _Value, printed: str) -> bool:
    """Whether code printed the typed value (sign aside: a dropped minus is still a copy): equal within the
    typed precision, a printed value it rounds to (up or down) when typed whole, or a printed fraction of it
    when typed as a percentage."""
    v = abs(typed.value)
    for found in _numbers(printed):
        for p in (abs(found.value), abs(found.value) * 100 if typed.percent else None):
            if p is None:
                continue
            if typed.whole and math.floor(p) <= v <= math.ceil(p):
                return True
            if not typed.whole and abs(v - p) <= typed.tolerance + 1e-12:
                return True
    return False


def _answering(traj: Trajectory) -> Step | None:
    answering = [s for s in traj.steps if s.has_final_answer]
    return answering[-1] if answering else None


def _seen_before(traj: Trajectory, step: Step | None) -> str:
    """What the agent was shown before the step that answered (all its steps when none did)."""
    return _printed([s for s in _agent_steps(traj) if step is None or s.index < step.index])


def _math_tag(rec: ResultRecord, traj: Trajectory) -> str:
    step = _answering(traj)
    typed = _typed_answer(step) if step is not None else None
    if typed is None:
        return "wrong_setup"
    value = _typed_value(typed)
    if value is None:  # symbolic (\\pi, x^2) typed answers: worked out by hand
        return "hand_arithmetic"
    return "wrong_setup" if _printed_value(value, _seen_before(traj, step)) else "hand_arithmetic"


def _qa_tag(rec: ResultRecord, traj: Trajectory) -> str:
    golds = [rec.task.answer, *rec.task.aliases]
    if traj.settings.search and not _search_queries(traj):
        return "no_search"
    if any(normalize_answer(str(g)) in _YES_NO for g in golds):
        return "yes_no_miss"
    seen = _seen_before(traj, _answering(traj))
    return "reading_miss" if any(_contains(seen, str(g)) for g in golds) else "retrieval_miss"


def _echoes_prompt(traj: Trajectory, prediction: str) -> bool:
    """The answer is two or more words of what the harness told the agent — its system message, a format
    reminder, the forced turn's request ("no explanation, no code", "what to look up") — not of the task."""
    if len(normalize_answer(prediction).split()) < 2:
        return False
    harness = [m.get("content", "") for m in traj.messages if m.get("role") == "system"]
    harness += [s.error for s in traj.steps if s.error_kind in PARSE_ERROR_KINDS and s.error]
    harness += [_FORCED_REQUEST] if traj.forced_final_answer else []
    # punctuation to spaces first: `search("what to look up")` holds the words, SQuAD normalising would glue them
    return any(_contains(re.sub(r"[^\w\s]", " ", text), prediction) for text in harness)


def _tags(rec: ResultRecord, traj: Trajectory) -> list[str]:
    steps = _agent_steps(traj)
    tags = []
    unanswered = (
        rec.prediction is None
        or _echoes_prompt(traj, str(rec.prediction))
        or (
            rec.task.kind == "math"
            and not _numbers(str(rec.prediction))
            and bool(_numbers(str(rec.task.answer)))
        )
    )
    if unanswered:
        tags.append("no_answer")
    if 2 * sum(s.error_kind in PARSE_ERROR_KINDS for s in steps) > len(steps):
        tags.append("parse_errors")
    if _copies_example(traj):
        tags.append("copied_example")
    if _repeated(traj):
        tags.append("search_loop")
    if 2 * sum(s.error_kind is not None and s.error_kind not in PARSE_ERROR_KINDS for s in steps) > len(
        steps
    ):
        tags.append("code_errors")
    if not unanswered:
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


def read_runs(runs: list[RunResult]) -> list[RunFailures]:
    """The readings of every agent run among ``runs`` (CoT runs are left out)."""
    return [f for f in map(read_run, runs) if f is not None]
