"""Teacher rollouts: K attempts per task in agent mode (± first-thought prefix, ± SAG) or CoT mode.

Output is append-only JSONL keyed by (task id, sample index): a re-run skips finished keys, a killed run
loses at most the tasks in flight, and each record carries the seed that reproduces it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentdistill.agent import first_thought_prefix, run_cot, run_episode
from agentdistill.agent.records import Trajectory, TrajectoryWriter, iter_trajectories
from agentdistill.common.jsonl import JsonlAppender, iter_jsonl
from agentdistill.common.pool import run_ordered
from agentdistill.common.progress import stage_progress
from agentdistill.data.task import Task
from agentdistill.grading import grade
from agentdistill.llm.types import LLM, GenerationConfig
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


@dataclass
class GenerateSettings:
    mode: Literal["agent", "cot"] = "agent"
    ftp: bool = True
    samples: int = 1
    sag: int = 1
    temperature: float = 0.0
    sample_temperature: float = 0.7
    top_p: float = 1.0
    max_steps: int = 5
    max_tokens: int = 384
    prompt: str = "teacher"
    seed: int = 0
    concurrency: int = 1


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


def record_key(task_id: str, sample: int) -> str:
    return f"{task_id}#{sample}"


def _gen_config(s: GenerateSettings, seed: int) -> GenerationConfig:
    temperature = s.sample_temperature if s.samples > 1 else s.temperature
    return GenerationConfig(max_tokens=s.max_tokens, temperature=temperature, top_p=s.top_p, seed=seed)


def _agent_attempt(
    task: Task, sample: int, llm: LLM, retriever: Retriever | None, s: GenerateSettings
) -> Trajectory:
    seed = attempt_seed(s.seed, task.id, sample)
    gen = _gen_config(s, seed)
    prefix = None
    cot_text = None
    if s.ftp:
        # Only the CoT's first paragraph is used: stop at the first blank line instead of paying for the rest.
        cot = run_cot(task, llm, GenerationConfig(max_tokens=s.max_tokens, temperature=gen.temperature,
                                                  top_p=gen.top_p, seed=seed, stop=("\n\n",)))
        cot_text = cot.text
        prefix = first_thought_prefix(cot.text) or None
    traj = run_episode(
        task, llm, retriever=retriever, prompt=s.prompt, max_steps=s.max_steps, gen=gen,
        sag_n=s.sag, prefix=prefix,
    )
    g = grade(task, traj.final_answer) if traj.status == "answered" else None
    traj.correct = bool(g and g.correct)
    traj.grade = g.model_dump() if g else None
    traj.settings.update(sample=sample, seed=seed, ftp=s.ftp, ftp_cot=cot_text)
    return traj


def _cot_attempt(task: Task, sample: int, llm: LLM, s: GenerateSettings) -> CotRecord:
    seed = attempt_seed(s.seed, task.id, sample)
    start = time.perf_counter()
    cot = run_cot(task, llm, _gen_config(s, seed))
    g = grade(task, cot.answer) if cot.answer is not None else None
    return CotRecord(
        task=task, model=llm.name, sample=sample, seed=seed, text=cot.text, answer=cot.answer,
        correct=bool(g and g.correct), grade=g.model_dump() if g else None,
        completion_tokens=cot.usage.completion_tokens, seconds=time.perf_counter() - start,
        settings={"temperature": _gen_config(s, seed).temperature, "max_tokens": s.max_tokens},
    )


def _existing_keys(out: Path, mode: str) -> set[str]:
    if not out.exists():
        return set()
    if mode == "agent":
        return {record_key(t.task.id, int(t.settings.get("sample", 0))) for t in iter_trajectories(out)}
    return {record_key(r["task"]["id"], int(r.get("sample", 0))) for _, r in iter_jsonl(out)}


def generate(
    tasks: list[Task],
    llm: LLM,
    out: Path,
    settings: GenerateSettings,
    retriever: Retriever | None = None,
    on_record: Callable[[Any], None] | None = None,
) -> GenerateSummary:
    """Run the teacher over ``tasks`` (``settings.samples`` attempts each), appending to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if settings.mode == "agent":
        writer: Any = TrajectoryWriter(out)  # repairs a torn tail before we read the keys
        done = _existing_keys(out, "agent")
    else:
        writer = JsonlAppender(out, key=lambda r: record_key(r["task"]["id"], int(r.get("sample", 0))))
        done = set(writer.done)
    todo = [(t, k) for t in tasks for k in range(settings.samples) if record_key(t.id, k) not in done]
    lock = threading.Lock()
    summary = GenerateSummary(skipped_resumed=len(tasks) * settings.samples - len(todo))
    # llama.cpp in-process is one model in one process: tasks run one after another; HTTP backends
    # declare ``thread_safe`` and get ``concurrency`` tasks in flight.
    workers = settings.concurrency if getattr(llm, "thread_safe", False) else 1

    def one(item: tuple[Task, int]) -> Any:
        task, sample = item
        if settings.mode == "agent":
            return _agent_attempt(task, sample, llm, retriever, settings)
        return _cot_attempt(task, sample, llm, settings)

    start = time.perf_counter()
    try:
        with stage_progress(f"generate ({settings.mode})", total=len(todo)) as bar:
            def finish(rec: Any) -> None:
                with lock:
                    if settings.mode == "agent":
                        writer.write(rec)
                        tokens = rec.totals.completion_tokens
                    else:
                        writer.write(rec.model_dump(mode="json"))
                        tokens = rec.completion_tokens
                    bar.advance(tokens)
                    if on_record:
                        on_record(rec)

            run_ordered(todo, one, finish, workers)
    finally:
        writer.close()
    summarize_file(out, settings.mode, tasks, summary)
    summary.seconds = time.perf_counter() - start
    return summary


def summarize_file(out: Path, mode: str, tasks: list[Task], summary: GenerateSummary) -> GenerateSummary:
    """Fill ``summary`` from everything on disk for these tasks (this run plus resumed records)."""
    wanted = {t.id for t in tasks}
    solved: set[str] = set()
    summary.tasks = len(wanted)
    if mode == "agent":
        for t in iter_trajectories(out):
            if t.task.id not in wanted:
                continue
            summary.attempts += 1
            summary.by_status[t.status] = summary.by_status.get(t.status, 0) + 1
            summary.steps += t.totals.steps
            summary.tokens += t.totals.completion_tokens
            summary.answered += t.status == "answered"
            if t.correct:
                summary.correct += 1
                solved.add(t.task.id)
    else:
        for _, r in iter_jsonl(out):
            rec = CotRecord.model_validate(r)
            if rec.task.id not in wanted:
                continue
            summary.attempts += 1
            summary.tokens += rec.completion_tokens
            summary.answered += rec.answer is not None
            if rec.correct:
                summary.correct += 1
                solved.add(rec.task.id)
    summary.tasks_solved = len(solved)
    return summary
