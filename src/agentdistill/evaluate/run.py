"""Run one model on test sets (agent ± SAG, or CoT ± RAG), grade, and write results + summary.

Resumable like generation: results.jsonl is keyed by (set, task id); a re-run grades only what is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentdistill.agent import run_cot, run_episode
from agentdistill.common.jsonl import JsonlAppender
from agentdistill.common.pool import run_ordered
from agentdistill.common.progress import stage_progress
from agentdistill.data.task import Task
from agentdistill.evaluate.records import (
    RESULTS_FILE,
    SUMMARY_FILE,
    ResultRecord,
    RunSummary,
    read_results,
    summarize_records,
)
from agentdistill.grading import grade
from agentdistill.llm.types import LLM, GenerationConfig
from agentdistill.retrieval.types import Retriever


@dataclass
class EvalSettings:
    label: str = ""
    mode: Literal["agent", "cot"] = "agent"
    sag: int = 1
    rag: bool = False
    prompt: str = "student"
    max_steps: int = 5
    max_tokens: int = 384
    temperature: float = 0.0
    sag_temperature: float = 0.4  # paper: SAG samples at 0.4 / top_p 0.8
    sag_top_p: float = 0.8
    seed: int = 0
    concurrency: int = 1
    model_name: str | None = None  # how the model is named in records and reports (default: the LLM's name)


def result_key(rec: dict) -> str:
    return f"{rec['task']['dataset']}/{rec['task']['id']}"


def _gen(s: EvalSettings) -> GenerationConfig:
    if s.mode == "agent" and s.sag > 1:
        return GenerationConfig(max_tokens=s.max_tokens, temperature=s.sag_temperature, top_p=s.sag_top_p,
                                seed=s.seed)
    return GenerationConfig(max_tokens=s.max_tokens, temperature=s.temperature, seed=s.seed)


def evaluate_task(task: Task, llm: LLM, s: EvalSettings, retriever: Retriever | None) -> ResultRecord:
    """One graded attempt: an agent episode or a CoT answer."""
    start = time.perf_counter()
    if s.mode == "agent":
        traj = run_episode(task, llm, retriever=retriever, prompt=s.prompt, max_steps=s.max_steps,
                           gen=_gen(s), sag_n=s.sag)
        prediction = traj.final_answer if traj.status == "answered" else None
        g = grade(task, prediction if prediction is not None else "")
        traj.correct, traj.grade = g.correct, g.model_dump()
        return ResultRecord(
            task=task, mode="agent", model=s.model_name or llm.name, sag_n=s.sag, prediction=prediction, grade=g,
            status=traj.status, steps=traj.totals.steps, parse_errors=traj.totals.parse_failures,
            tokens=traj.totals.completion_tokens, seconds=time.perf_counter() - start,
            trajectory=traj.model_dump(mode="json"),
        )
    cot = run_cot(task, llm, _gen(s), retriever=retriever if s.rag else None)
    g = grade(task, cot.answer if cot.answer is not None else "")
    return ResultRecord(
        task=task, mode="cot", model=s.model_name or llm.name, prediction=cot.answer, grade=g,
        status="answered" if cot.answer is not None else "error", steps=1, parse_errors=0,
        tokens=cot.usage.completion_tokens, seconds=time.perf_counter() - start, cot_text=cot.text,
    )


def evaluate(
    tasks: list[Task], llm: LLM | Callable[[], LLM], run_dir: Path, settings: EvalSettings,
    retriever: Retriever | None = None, run_name: str | None = None,
) -> RunSummary:
    """Evaluate ``llm`` on ``tasks`` into ``run_dir``; returns the summary over all records on disk.

    ``llm`` may be a zero-argument loader: it is called only if some task is still to do, so a finished run
    is re-summarised without loading its model.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / RESULTS_FILE
    lock = threading.Lock()
    with JsonlAppender(results, key=result_key) as out:
        todo = [t for t in tasks if f"{t.dataset}/{t.id}" not in out.done]
        if todo and not hasattr(llm, "generate"):
            llm = llm()
        workers = settings.concurrency if getattr(llm, "thread_safe", False) else 1
        label = settings.label or run_dir.name
        with stage_progress(f"eval {label}", total=len(tasks), done=len(tasks) - len(todo)) as bar:
            def finish(rec: ResultRecord) -> None:
                with lock:
                    out.write(rec.model_dump(mode="json"))
                    bar.advance(rec.tokens)

            def one(task: Task) -> ResultRecord:
                return evaluate_task(task, llm, settings, retriever)

            run_ordered(todo, one, finish, workers)
    wanted = {f"{t.dataset}/{t.id}" for t in tasks}
    records = [r for r in read_results(results) if f"{r.task.dataset}/{r.task.id}" in wanted]
    summary = RunSummary(
        run_name=run_name or run_dir.name, mode=settings.mode, sag_n=settings.sag,
        model=settings.model_name or getattr(llm, "name", None) or (records[0].model if records else ""),
        label=settings.label, per_set=summarize_records(records),
    )
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n")
    return summary
