"""Run one model on test sets (agent ± SAG, or CoT ± RAG), grade, and write results + summary.

Resumable like generation (common/runs.py): results.jsonl is keyed by (set, task id); a re-run grades only what
is missing or failed (backend unreachable: recorded with ``failure``, excluded from accuracy, retried).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agentdistill.agent import run_cot, run_episode
from agentdistill.common.files import atomic_write_json
from agentdistill.common.runs import check_stamp, record_key, run_batch
from agentdistill.data.task import Task
from agentdistill.evaluate.records import (
    RESULTS_FILE,
    SUMMARY_FILE,
    ResultRecord,
    RunSummary,
    read_results,
    summarize_records,
)
from agentdistill.evaluate.settings import EvalSettings
from agentdistill.grading import grade
from agentdistill.llm.reachability import UnreachableBreaker, check_reachable
from agentdistill.llm.types import LLM, ContextOverflowError, EndpointUnreachableError, GenerationConfig
from agentdistill.retrieval.types import Retriever

STAMP_FILE = "stamp.json"


def _gen(s: EvalSettings) -> GenerationConfig:
    if s.mode == "agent" and s.sag_n > 1:
        return GenerationConfig(
            max_tokens=s.max_tokens, temperature=s.sag_temperature, top_p=s.sag_top_p, seed=s.seed
        )
    return GenerationConfig(max_tokens=s.max_tokens, temperature=s.temperature, seed=s.seed)


def evaluate_task(task: Task, llm: LLM, s: EvalSettings, retriever: Retriever | None) -> ResultRecord:
    """One graded attempt: an agent episode or a CoT answer."""
    start = time.perf_counter()
    if s.mode == "agent":
        traj = run_episode(
            task,
            llm,
            retriever=retriever,
            prompt=s.prompt_name,
            max_steps=s.max_steps,
            gen=_gen(s),
            sag_n=s.sag_n,
            sag_temperature=s.sag_temperature,
            sag_top_p=s.sag_top_p,
            force_final_answer=s.force_final_answer,
        )
        prediction = traj.final_answer if traj.status == "answered" else None
        g = grade(task, prediction if prediction is not None else "")
        traj.correct, traj.grade = g.correct, g.model_dump()
        return ResultRecord(
            task=task,
            mode="agent",
            model=s.model_name or llm.name,
            sag_n=s.sag_n,
            prediction=prediction,
            grade=g,
            status=traj.status,
            steps=traj.totals.steps,
            parse_errors=traj.totals.parse_failures,
            tokens=traj.totals.completion_tokens,
            seconds=time.perf_counter() - start,
            trajectory=traj.model_dump(mode="json"),
            failure=(traj.error or "error") if traj.status == "error" else None,
        )
    try:
        cot = run_cot(task, llm, _gen(s), retriever=retriever if s.rag else None)
    except Exception as exc:
        # the question (+ passages) does not fit the context: scored, wrong; any other error is a backend
        # failure: recorded, excluded from accuracy, retried next run
        overflow, why = isinstance(exc, ContextOverflowError), f"{type(exc).__name__}: {exc}"
        return ResultRecord(
            task=task,
            mode="cot",
            model=s.model_name or llm.name,
            grade=grade(task, ""),
            status="context_overflow" if overflow else "error",
            seconds=time.perf_counter() - start,
            cot_text=why if overflow else None,
            failure=None if overflow else why,
        )
    g = grade(task, cot.answer if cot.answer is not None else "")
    return ResultRecord(
        task=task,
        mode="cot",
        model=s.model_name or llm.name,
        prediction=cot.answer,
        grade=g,
        status="answered" if cot.answer is not None else "error",
        steps=1,
        parse_errors=0,
        tokens=cot.usage.completion_tokens,
        seconds=time.perf_counter() - start,
        cot_text=cot.text,
    )


def _key(rec: dict) -> str:
    return record_key(rec["task"]["dataset"], rec["task"]["id"])


def is_failure(rec: dict) -> bool:
    """A backend/sandbox failure (not a wrong answer): excluded from accuracy, retried on the next run."""
    return rec.get("failure") is not None


def stamp_settings(settings: EvalSettings, model: str | None, extra: dict | None = None) -> dict:
    """What a run directory's records depend on (label and concurrency excluded: they change no record)."""
    d = settings.model_dump(exclude={"concurrency", "label", "model_name"})
    return {"stage": "eval", "model": model, **d, **(extra or {})}


def evaluate(
    tasks: list[Task],
    llm: LLM | Callable[[], LLM],
    run_dir: Path,
    settings: EvalSettings,
    retriever: Retriever | None = None,
    run_name: str | None = None,
    stamp_extra: dict | None = None,
    adopt_unstamped: bool = False,
) -> RunSummary:
    """Evaluate ``llm`` on ``tasks`` into ``run_dir``; returns the summary over all records on disk.

    ``llm`` may be a zero-argument loader: it is called only if some task is still to do, so a finished run
    is re-summarised without loading its model (then ``settings.model_name`` names the model in the stamp).
    A run dir made with other settings raises :class:`StaleOutputError` before any work (``adopt_unstamped``:
    see :func:`agentdistill.common.runs.check_stamp`); a record of results.jsonl that is not a
    :class:`ResultRecord` raises ``JsonlError`` naming file, line and field, also before any work.
    A failed question is recorded and the run goes on, except that 3 in a row that could not connect to the
    model's endpoint, still down when checked again, stop it with EndpointUnreachableError
    (`agentdistill.llm.reachability`; the records written stay and are summarised, a re-run resumes).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / RESULTS_FILE
    model_id = settings.model_name or getattr(llm, "name", None)
    check_stamp(
        run_dir / STAMP_FILE,
        stamp_settings(settings, model_id, stamp_extra),
        has_output=results.exists() and results.stat().st_size > 0,
        what=str(run_dir),
        adopt_unstamped=adopt_unstamped,
    )
    holder: dict[str, LLM] = {"llm": llm} if hasattr(llm, "generate") else {}

    def load(_: int) -> None:
        if "llm" not in holder:
            holder["llm"] = llm()  # type: ignore[operator]

    def one(task: Task) -> ResultRecord:
        return evaluate_task(task, holder["llm"], settings, retriever)

    def workers() -> int:  # known once the model is loaded: in-process llama.cpp runs one task at a time
        return settings.concurrency if getattr(holder.get("llm"), "thread_safe", False) else 1

    try:
        run_batch(
            tasks,
            lambda t: record_key(t.dataset, t.id),
            one,
            results,
            record_key_of=_key,
            to_json=lambda r: r.model_dump(mode="json"),
            failed=is_failure,
            tokens=lambda r: r.tokens,
            workers=workers,
            before_work=load,
            after_write=UnreachableBreaker(
                lambda r: r.get("failure"), lambda: check_reachable(holder["llm"]), str(results)
            ),
            description=f"eval {settings.label or run_dir.name}",
            record_model=ResultRecord,  # a resumed record without its task: one error naming file:line, not KeyError
        )
    except EndpointUnreachableError:
        _write_summary(tasks, results, run_dir, settings, holder.get("llm"), run_name)
        raise
    return _write_summary(tasks, results, run_dir, settings, holder.get("llm"), run_name)


def _write_summary(
    tasks: list[Task],
    results: Path,
    run_dir: Path,
    settings: EvalSettings,
    loaded: LLM | None,
    run_name: str | None,
) -> RunSummary:
    """The summary over every record of ``tasks`` on disk (a retried failure wins), written to summary.json."""
    wanted = {(t.dataset, t.id) for t in tasks}
    records = [r for r in read_results(results) if (r.task.dataset, r.task.id) in wanted]
    records = list({(r.task.dataset, r.task.id): r for r in records}.values())  # a retried failure wins
    summary = RunSummary(
        run_name=run_name or run_dir.name,
        mode=settings.mode,
        sag_n=settings.sag_n,
        model=settings.model_name or getattr(loaded, "name", None) or (records[0].model if records else ""),
        label=settings.label,
        per_set=summarize_records(records),
    )
    atomic_write_json(run_dir / SUMMARY_FILE, summary.model_dump(mode="json"))
    return summary
