"""View models for the HTML trajectory viewer.

Trajectories arrive as plain dicts (agent/records.py `Trajectory.model_dump()`); they are read defensively so
that an older or partial record still renders: a missing key is skipped, never an error. Long texts are
clipped so that one runaway observation cannot blow up the page. Escaping is the template's job (autoescape).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentdistill.evaluate.records import ResultRecord, RunResult

DEFAULT_MAX_TRAJECTORIES = 200
TEXT_LIMIT = 4000


def clip(value: Any, limit: int = TEXT_LIMIT) -> str:
    """Text for display: None → "", non-strings via str(), long texts cut with a note of what was cut."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit:,} more characters not shown]"


@dataclass
class CandidateView:
    index: int
    winner: bool
    valid: bool | None
    group_size: int | None
    vote_key: str
    thought: str
    code: str
    observation: str
    error_kind: str
    error: str
    shared_with: int | None


@dataclass
class StepView:
    index: int
    thought: str
    code: str
    observation: str
    error_kind: str
    error: str
    raw: str  # shown only when the step did not parse into thought/code
    prefix: str
    tokens: int | None
    seconds: float | None
    n_candidates: int | None
    n_valid: int | None
    candidates: list[CandidateView] = field(default_factory=list)
    forced: bool = False  # the forced final-answer turn after max_steps


@dataclass
class ItemView:
    task_id: str
    question: str
    gold: str
    aliases: list[str]
    prediction: str
    correct: bool
    f1: float
    status: str
    n_steps: int
    parse_errors: int
    tokens: int
    seconds: float
    mode: str
    grading: str  # grader method and its detail, e.g. "numeric: extracted='7'"
    steps: list[StepView] = field(default_factory=list)
    cot_text: str = ""
    prefix: str = ""
    error: str = ""
    forced: bool = False  # the answer came from the forced final-answer turn


@dataclass
class SetView:
    set_name: str
    total: int  # scored questions (n, as in the table): failed attempts are not in it
    n_correct: int
    items: list[ItemView]
    failed: int = 0  # attempts that failed (backend/sandbox outage): shown, not scored

    @property
    def shown(self) -> int:
        return len(self.items)

    @property
    def records(self) -> int:
        return self.total + self.failed


@dataclass
class RunView:
    anchor: str
    label: str
    model: str
    mode: str
    sag_n: int
    run_name: str
    sets: list[SetView]


def _get(d: Any, key: str, default: Any = None) -> Any:
    return d.get(key, default) if isinstance(d, dict) else default


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _vote_key(v: Any) -> str:
    """The vote key is JSON [observation, repr(final_answer) or null]; show it compactly."""
    if v is None:
        return ""
    if isinstance(v, str):
        try:
            parsed = json.loads(v)
        except json.JSONDecodeError:
            return clip(v, 300)
        if isinstance(parsed, list) and len(parsed) == 2:
            obs, ans = parsed
            text = (obs or "").strip().replace("\n", " ⏎ ")
            return clip(f"{text}" + (f"  → final_answer {ans}" if ans is not None else ""), 300)
    return clip(json.dumps(v, ensure_ascii=False, default=str), 300)


def candidate_view(c: dict[str, Any], position: int, winner: int | None) -> CandidateView:
    index = _int(_get(c, "index")) if _int(_get(c, "index")) is not None else position
    return CandidateView(
        index=index,
        winner=winner is not None and index == winner,
        valid=_get(c, "valid") if isinstance(_get(c, "valid"), bool) else None,
        group_size=_int(_get(c, "group_size")),
        vote_key=_vote_key(_get(c, "vote_key")),
        thought=clip(_get(c, "thought"), 1500),
        code=clip(_get(c, "code"), 2500),
        observation=clip(_get(c, "observation"), 1500),
        error_kind=clip(_get(c, "error_kind"), 100),
        error=clip(_get(c, "error"), 800),
        shared_with=_int(_get(c, "shared_execution_with")),
    )


def step_view(s: dict[str, Any], position: int) -> StepView:
    thought, code = clip(_get(s, "thought")), clip(_get(s, "code"))
    observation, error = clip(_get(s, "observation")), clip(_get(s, "error"), 1500)
    if error and error.strip() in observation:  # the observation already tells the model the error
        error = ""
    winner = _int(_get(s, "winner"))
    cands = _get(s, "candidates") or []
    seconds = _get(s, "seconds")
    return StepView(
        index=_int(_get(s, "index")) if _int(_get(s, "index")) is not None else position,
        thought=thought,
        code=code,
        observation=observation,
        error_kind=clip(_get(s, "error_kind"), 100),
        error=error,
        raw=clip(_get(s, "raw")) if not (thought or code) else "",
        prefix=clip(_get(s, "prefix"), 1500),
        tokens=_int(_get(s, "tokens")),
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
        n_candidates=_int(_get(s, "n_candidates")),
        n_valid=_int(_get(s, "n_valid")),
        candidates=[candidate_view(c, i, winner) for i, c in enumerate(cands) if isinstance(c, dict)]
        if isinstance(cands, list) and len(cands) > 1
        else [],
        forced=_get(s, "forced") is True,
    )


def item_view(rec: ResultRecord) -> ItemView:
    traj = rec.trajectory if isinstance(rec.trajectory, dict) else {}
    steps = _get(traj, "steps") or []
    return ItemView(
        task_id=rec.task.id,
        question=clip(rec.task.question),
        gold=clip(rec.task.answer, 500),
        aliases=[clip(a, 200) for a in rec.task.aliases[:10]],
        prediction=clip(rec.prediction, 500) if rec.prediction is not None else "",
        correct=rec.grade.correct,
        f1=rec.grade.f1,
        status=rec.status,
        n_steps=rec.steps,
        parse_errors=rec.parse_errors,
        tokens=rec.tokens,
        seconds=rec.seconds,
        mode=rec.mode,
        grading=clip(": ".join(x for x in (rec.grade.method, rec.grade.detail) if x), 400),
        steps=[step_view(s, i) for i, s in enumerate(steps) if isinstance(s, dict)]
        if isinstance(steps, list)
        else [],
        cot_text=clip(rec.cot_text, 8000),
        prefix=clip(_get(traj, "prefix"), 1500),
        error=clip(_get(traj, "error"), 1500),
        forced=_get(traj, "forced_final_answer") is True,
    )


def select_records(records: list[ResultRecord], cap: int) -> list[ResultRecord]:
    """At most `cap` records, half correct and half incorrect where possible (so both filters have content),
    topped up from the other kind; task order is kept."""
    if len(records) <= cap:
        return list(records)
    right = [r for r in records if r.grade.correct]
    wrong = [r for r in records if not r.grade.correct]
    n_right = min(len(right), max(cap - len(wrong), cap // 2))
    chosen = {id(r) for r in right[:n_right]} | {id(r) for r in wrong[: cap - n_right]}
    return [r for r in records if id(r) in chosen]


def build_views(runs: list[RunResult], max_per_run: int = DEFAULT_MAX_TRAJECTORIES) -> list[RunView]:
    """One RunView per run; the per-run cap is shared evenly among its test sets."""
    views = []
    for i, run in enumerate(runs):
        set_names = list(dict.fromkeys(r.task.dataset for r in run.records))
        per_set = max(1, max_per_run // max(1, len(set_names)))
        sets = []
        for name in set_names:
            recs = run.records_for(name)
            scored = [r for r in recs if r.failure is None]  # the table's n: failures are not wrong answers
            sets.append(
                SetView(
                    set_name=name,
                    total=len(scored),
                    n_correct=sum(r.grade.correct for r in scored),
                    items=[item_view(r) for r in select_records(recs, per_set)],
                    failed=len(recs) - len(scored),
                )
            )
        s = run.summary
        views.append(
            RunView(
                anchor=f"run-{i}",
                label=run.label,
                model=s.model,
                mode=s.mode,
                sag_n=s.sag_n,
                run_name=s.run_name,
                sets=sets,
            )
        )
    return views
