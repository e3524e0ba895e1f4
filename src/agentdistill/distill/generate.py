"""Teacher rollouts: K attempts per task in agent mode (± first-thought prefix, ± SAG) or CoT mode.

Output is append-only JSONL keyed by (set, task id, sample index): a re-run skips finished keys, a killed run
loses at most the tasks in flight, and each record carries the seed that reproduces it.
"""

from __future__ import annotations

import errno
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentdistill.agent import first_thought_prefix, run_cot, run_episode
from agentdistill.agent.records import Trajectory
from agentdistill.common.jsonl import iter_jsonl
from agentdistill.common.runs import check_stamp, latest_by_key, record_key, run_batch, stamp_path
from agentdistill.data.task import Task
from agentdistill.distill.settings import GenerateSettings
from agentdistill.grading import grade
from agentdistill.llm.reachability import UnreachableBreaker, check_reachable
from agentdistill.llm.types import LLM, ContextOverflowError, GenerationConfig
from agentdistill.retrieval.types import Retriever


class CotRecord(BaseModel):
    """One CoT attempt (CoT-distillation baseline data, and the source of first-thought prefixes)."""

    task: Task
    model: str
    sample: int = 0
    seed: int | None = None
    text: str
    answer: str | None = None
    correct: bool | None = None
    grade: dict[str, Any] | None = None
    completion_tokens: int = 0
    seconds: float = 0.0
    settings: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None  # backend failure ("ExcType: message"); such a record is retried on resume


@dataclass
class GenerateSummary:
    """What a generation run produced; ``yield_per_100`` is correct trajectories per 100 tasks."""

    tasks: int = 0
    attempts: int = 0
    correct: int = 0
    tasks_solved: int = 0
    answered: int = 0
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    skipped_resumed: int = 0
    failed: int = 0  # attempts that ended in a backend/sandbox error (retried by the next run)
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def yield_per_100(self) -> float:
        return 100.0 * self.correct / self.tasks if self.tasks else 0.0

    @property
    def solved_pct(self) -> float:
        return 100.0 * self.tasks_solved / self.tasks if self.tasks else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.update(yield_per_100=round(self.yield_per_100, 2), solved_pct=round(self.solved_pct, 2))
        return d


def attempt_seed(base: int, task_id: str, sample: int) -> int:
    """A stable per-(task, sample) seed: independent of order, concurrency and resume."""
    digest = hashlib.sha256(f"{base}:{task_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _gen_config(s: GenerateSettings, seed: int) -> GenerationConfig:
    return GenerationConfig(
        max_tokens=s.max_tokens, temperature=s.attempt_temperature, top_p=s.top_p, seed=seed
    )


def _agent_attempt(
    task: Task, sample: int, llm: LLM, retriever: Retriever | None, s: GenerateSettings
) -> Trajectory:
    seed = attempt_seed(s.seed, task.id, sample)
    gen = _gen_config(s, seed)
    prefix = None
    cot_text = None
    cot_seconds = 0.0
    if s.ftp:
        cot_start = time.perf_counter()
        # Only the CoT's first paragraph is used: stop at the first blank line instead of paying for the rest.
        try:
            cot = run_cot(
                task,
                llm,
                GenerationConfig(
                    max_tokens=s.max_tokens,
                    temperature=gen.temperature,
                    top_p=gen.top_p,
                    seed=seed,
                    stop=("\n\n",),
                ),
            )
        except Exception:  # backend down: the episode below records the failure (status "error")
            cot = None
        cot_seconds = round(time.perf_counter() - cot_start, 3)
        cot_text = cot.text if cot is not None else None
        prefix = (first_thought_prefix(cot.text) or None) if cot is not None else None
    traj = run_episode(
        task,
        llm,
        retriever=retriever,
        prompt=s.prompt,
        max_steps=s.max_steps,
        gen=gen,
        sag_n=s.sag_n,
        sag_temperature=gen.temperature,
        sag_top_p=gen.top_p,
        prefix=prefix,
        force_final_answer=s.force_final_answer,
    )
    g = grade(task, traj.final_answer) if traj.status == "answered" else None
    traj.correct = bool(g and g.correct)
    traj.grade = g.model_dump() if g else None
    traj.settings = traj.settings.model_copy(
        update={
            "sample": sample,
            "seed": seed,
            "ftp": s.ftp,
            "ftp_cot": cot_text,
            "ftp_cot_seconds": cot_seconds,
        }
    )
    return traj


def _cot_attempt(task: Task, sample: int, llm: LLM, s: GenerateSettings) -> CotRecord:
    seed = attempt_seed(s.seed, task.id, sample)
    start = time.perf_counter()
    try:
        cot = run_cot(task, llm, _gen_config(s, seed))
    except Exception as exc:
        # the question does not fit the context: a final, wrong attempt; any other error is a backend
        # failure: recorded, retried on the next run
        overflow, why = isinstance(exc, ContextOverflowError), f"{type(exc).__name__}: {exc}"
        return CotRecord(
            task=task,
            model=llm.name,
            sample=sample,
            seed=seed,
            text="",
            correct=False if overflow else None,
            error=None if overflow else why,
            seconds=time.perf_counter() - start,
            settings={"max_tokens": s.max_tokens, "context_overflow": why} if overflow else {},
        )
    g = grade(task, cot.answer) if cot.answer is not None else None
    return CotRecord(
        task=task,
        model=llm.name,
        sample=sample,
        seed=seed,
        text=cot.text,
        answer=cot.answer,
        correct=bool(g and g.correct),
        grade=g.model_dump() if g else None,
        completion_tokens=cot.usage.completion_tokens,
        seconds=time.perf_counter() - start,
        settings={"temperature": _gen_config(s, seed).temperature, "max_tokens": s.max_tokens},
    )


def _sample_of(mode: str, r: dict[str, Any]) -> int:
    """The attempt number of a record (agent trajectories keep it in ``settings``)."""
    return int((r.get("settings") or {}).get("sample", 0) if mode == "agent" else r.get("sample", 0) or 0)


def _key_of(mode: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: record_key(r["task"]["dataset"], r["task"]["id"], _sample_of(mode, r))


def _failure(mode: str) -> Callable[[dict[str, Any]], str | None]:
    """A record's backend/sandbox failure ("ExcType: message"), or None."""
    if mode == "agent":
        return lambda r: (r.get("error") or "error") if r.get("status") == "error" else None
    return lambda r: r.get("error")


def _failed(mode: str) -> Callable[[dict[str, Any]], bool]:
    """Backend/sandbox failures: written down, not counted as done, retried by the next run."""
    failure = _failure(mode)
    return lambda r: failure(r) is not None


def stamp_settings(
    settings: GenerateSettings, model: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What an output file's records depend on (concurrency excluded: it does not change records; an unset
    ``stop_after_correct`` is left out, so output stamped before that field existed still resumes)."""
    d = settings.model_dump(exclude={"concurrency"})
    if d.get("stop_after_correct") is None:
        d.pop("stop_after_correct", None)
    return {"stage": "generate", "model": model, **d, **(extra or {})}


def generate(
    tasks: list[Task],
    llm: LLM,
    out: Path,
    settings: GenerateSettings,
    retriever: Retriever | None = None,
    on_record: Callable[[Any], None] | None = None,
    stamp_extra: dict[str, Any] | None = None,
    adopt_unstamped: bool = False,
) -> GenerateSummary:
    """Run the teacher over ``tasks`` (``settings.samples`` attempts each), appending to ``out``.

    Records are keyed by (set, task id, sample). ``out`` made with other settings (model, sampling, prompt,
    ``stamp_extra`` such as the retriever spec) raises :class:`StaleOutputError` before any work;
    ``adopt_unstamped``: see :func:`agentdistill.common.runs.check_stamp`. A record in ``out`` that is not a
    trajectory (CoT mode: a :class:`CotRecord`) raises ``JsonlError`` naming file, line and field; ``out``
    being a directory raises ``IsADirectoryError``; both before any work.
    A failed attempt is recorded and the run goes on, except that 3 attempts in a row that could not connect to
    the model's endpoint, still down when checked again, stop it with EndpointUnreachableError
    (`agentdistill.llm.reachability`; the records written stay, a re-run resumes).
    """
    out = Path(out)
    if out.is_dir():  # not output "made with other settings": a file is expected here
        raise IsADirectoryError(errno.EISDIR, "is a directory; the output is one JSONL file", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    check_stamp(
        stamp_path(out),
        stamp_settings(settings, llm.name, stamp_extra),
        has_output=out.exists() and out.stat().st_size > 0,
        what=str(out),
        adopt_unstamped=adopt_unstamped,
    )
    # llama.cpp in-process is one model in one process: tasks run one after another; HTTP backends
    # declare ``thread_safe`` and get ``concurrency`` tasks in flight.
    workers = settings.concurrency if getattr(llm, "thread_safe", False) else 1
    breaker = UnreachableBreaker(_failure(settings.mode), lambda: check_reachable(llm), str(out))

    def one(item: tuple[Task, int]) -> Any:
        task, sample = item
        if settings.mode == "agent":
            return _agent_attempt(task, sample, llm, retriever, settings)
        return _cot_attempt(task, sample, llm, settings)

    def tokens(rec: Any) -> int:
        return rec.totals.completion_tokens if settings.mode == "agent" else rec.completion_tokens

    def batch(items: list[tuple[Task, int]], description: str) -> int:
        return run_batch(
            items,
            lambda it: record_key(it[0].dataset, it[0].id, it[1]),
            one,
            out,
            record_key_of=_key_of(settings.mode),
            to_json=lambda rec: rec.model_dump(mode="json"),
            failed=_failed(settings.mode),
            tokens=tokens,
            workers=workers,
            description=description,
            on_record=on_record,
            record_model=Trajectory if settings.mode == "agent" else CotRecord,  # resumed records checked
            after_write=breaker,
        ).skipped

    start = time.perf_counter()
    label = f"generate ({settings.mode})"
    if settings.stop_after_correct is None:
        skipped = batch([(t, k) for t in tasks for k in range(settings.samples)], label)
    else:  # rounds: attempt k only for tasks still short of stop_after_correct correct attempts
        skipped = 0
        for k in range(settings.samples):
            wins = correct_per_task(out, settings.mode, before=k) if k else {}
            todo = [(t, k) for t in tasks if wins.get((t.dataset, t.id), 0) < settings.stop_after_correct]
            if todo:
                skipped += batch(todo, f"{label} attempt {k + 1}/{settings.samples}")
    summary = GenerateSummary(skipped_resumed=skipped)
    summarize_file(out, settings.mode, tasks, summary)
    summary.seconds = time.perf_counter() - start
    return summary


def correct_per_task(out: Path, mode: str, before: int | None = None) -> dict[tuple[str, str], int]:
    """Correct attempts per (set, task id) in ``out`` among samples ``< before`` (all when None); the last
    record per (set, task, sample) counts."""
    wins: dict[tuple[str, str], int] = {}
    if not Path(out).exists():
        return wins
    for r in latest_by_key((r for _, r in iter_jsonl(out)), _key_of(mode)):
        if before is not None and _sample_of(mode, r) >= before:
            continue
        key = (r["task"]["dataset"], r["task"]["id"])
        wins[key] = wins.get(key, 0) + bool(r.get("correct"))
    return wins


def summarize_file(out: Path, mode: str, tasks: list[Task], summary: GenerateSummary) -> GenerateSummary:
    """Fill ``summary`` from everything on disk for these tasks (this run plus resumed records).

    The last record per (set, task, sample) counts, so a retried failure replaces the failed attempt.
    """
    wanted = {(t.dataset, t.id) for t in tasks}
    solved: set[tuple[str, str]] = set()
    summary.tasks = len(wanted)
    records = latest_by_key((r for _, r in iter_jsonl(out)), _key_of(mode))
    for r in records:
        if (r["task"]["dataset"], r["task"]["id"]) not in wanted:
            continue
        summary.attempts += 1
        if mode == "agent":
            t = Trajectory.model_validate(r)
            summary.by_status[t.status] = summary.by_status.get(t.status, 0) + 1
            summary.steps += t.totals.steps
            summary.tokens += t.totals.completion_tokens
            summary.answered += t.status == "answered"
            correct = bool(t.correct)
        else:
            rec = CotRecord.model_validate(r)
            status = (
                "error" if rec.error is not None else "answered" if rec.answer is not None else "no_answer"
            )
            summary.by_status[status] = summary.by_status.get(status, 0) + 1
            summary.tokens += rec.completion_tokens
            summary.answered += rec.answer is not None
            correct = bool(rec.correct)
        if correct:
            summary.correct += 1
            solved.add((r["task"]["dataset"], r["task"]["id"]))
    summary.failed = summary.by_status.get("error", 0)
    summary.tasks_solved = len(solved)
    return summary
