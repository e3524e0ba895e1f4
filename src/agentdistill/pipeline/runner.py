"""Run the stages of a pipeline config in order: generate → filter → train → eval → report.

Every stage reads and writes plain files under ``workdir``. Generation and evaluation resume record by
record; training is skipped when its inputs and settings are unchanged (a stamp file holds their hash).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from agentdistill.data import load_tasks
from agentdistill.data.task import Task
from agentdistill.distill.filter import filter_cot, filter_trajectories
from agentdistill.distill.generate import GenerateSettings, generate
from agentdistill.evaluate.run import EvalSettings, evaluate
from agentdistill.models.loading import load_llm
from agentdistill.llm.types import LLM
from agentdistill.pipeline.config import PipelineConfig, TaskSlice
from agentdistill.pipeline.train_stage import run_train_stage
from agentdistill.retrieval import load_retriever

console = Console(stderr=True)


@dataclass
class PipelineResult:
    workdir: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report_html: Path | None = None
    report_md: Path | None = None
    run_dirs: list[Path] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_slices(slices: list[TaskSlice]) -> list[Task]:
    tasks: list[Task] = []
    for s in slices:
        tasks.extend(load_tasks(s.set, limit=s.limit))
    return tasks


class ModelPool:
    """Loads each model spec once and shares it between stages/runs that use it."""

    def __init__(self, options: dict[str, dict[str, Any]]):
        self._options = options
        self._llms: dict[str, LLM] = {}

    def get(self, spec: str) -> LLM:
        if spec not in self._llms:
            console.print(f"[dim]loading model {spec}[/]")
            self._llms[spec] = load_llm(spec, **self._options.get(spec, {}))
        return self._llms[spec]

    def release(self, keep: set[str] | None = None) -> None:
        for spec in list(self._llms):
            if keep and spec in keep:
                continue
            self._llms.pop(spec).close()


class StaleOutputError(RuntimeError):
    """A stage's output dir was written with other settings; resuming would mix records."""


def check_settings(stage_dir: Path, settings: dict[str, Any], archive_stale: bool = False) -> None:
    """Record a stage's settings beside its output; never resume output made with different ones.

    Stale output is an error (teacher rollouts are expensive to lose), or with ``archive_stale`` it is moved
    aside to ``<dir>.stale-N`` (eval runs of a retrained model are cheap to redo and wrong to keep).
    """
    stage_dir.mkdir(parents=True, exist_ok=True)
    path = stage_dir / "settings.json"
    current = json.loads(json.dumps(settings, sort_keys=True, default=str))
    if path.exists():
        before = json.loads(path.read_text())
        if before != current:
            changed = sorted(k for k in set(before) | set(current) if before.get(k) != current.get(k))
            if archive_stale:
                n = 1
                while stage_dir.with_name(f"{stage_dir.name}.stale-{n}").exists():
                    n += 1
                stage_dir.rename(stage_dir.with_name(f"{stage_dir.name}.stale-{n}"))
                console.print(f"[yellow]{stage_dir}: settings changed ({', '.join(changed)}); old results moved "
                              f"to {stage_dir.name}.stale-{n}[/]")
                stage_dir.mkdir(parents=True)
                path.write_text(json.dumps(current, indent=2, sort_keys=True))
                return
            raise StaleOutputError(
                f"{stage_dir} holds output made with other settings (changed: {', '.join(changed)}); "
                f"delete it or choose another workdir to start over"
            )
    path.write_text(json.dumps(current, indent=2, sort_keys=True))


def _timed(result: PipelineResult, name: str, fn: Callable[[], Any]) -> Any:
    console.rule(f"[bold]stage: {name}")
    start = time.perf_counter()
    out = fn()
    result.stage_seconds[name] = round(time.perf_counter() - start, 1)
    console.print(f"[green]✓ {name}[/] in {result.stage_seconds[name]:.0f} s")
    return out


def run_pipeline(cfg: PipelineConfig, stages: tuple[str, ...] | None = None) -> PipelineResult:
    """Run (or resume) every stage of ``cfg``; ``stages`` limits which run (others must be complete)."""
    work = Path(cfg.workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(cfg.model_dump_json(indent=2))
    result = PipelineResult(workdir=work)
    pool = ModelPool({
        cfg.teacher.model: {"n_ctx": cfg.teacher.n_ctx, **cfg.teacher.options},
        cfg.student.model: {"n_ctx": cfg.student.n_ctx, **cfg.student.options},
    })
    retriever = load_retriever(cfg.retriever) if cfg.retriever else None
    wanted = set(stages or ("generate", "filter", "train", "eval", "report"))
    gen_dir, filt_dir, train_dir, eval_dir = (work / d for d in ("generate", "filter", "train", "eval"))
    mode = cfg.generate.mode
    raw = gen_dir / ("trajectories.jsonl" if mode == "agent" else "cot.jsonl")
    kept = filt_dir / ("kept.jsonl" if mode == "agent" else "kept_cot.jsonl")
    try:
        if "generate" in wanted:
            def do_generate() -> None:
                g = cfg.generate
                s = GenerateSettings(
                    mode=g.mode, ftp=g.ftp, samples=g.samples, sag=g.sag, temperature=g.temperature,
                    sample_temperature=g.sample_temperature, top_p=g.top_p, max_steps=g.max_steps,
                    max_tokens=g.max_tokens, prompt=g.prompt, seed=cfg.seed, concurrency=g.concurrency,
                )
                check_settings(gen_dir, {"teacher": cfg.teacher.model, "retriever": cfg.retriever,
                                         **g.model_dump(exclude={"tasks", "concurrency"}), "seed": cfg.seed})
                summary = generate(load_slices(g.tasks), pool.get(cfg.teacher.model), raw, s, retriever)
                (gen_dir / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2))
                console.print(
                    f"teacher yield: {summary.correct} correct of {summary.attempts} attempts on "
                    f"{summary.tasks} tasks = {summary.yield_per_100:.1f} per 100 tasks "
                    f"(solved {summary.solved_pct:.1f}%)"
                )
            _timed(result, "generate", do_generate)
        if "filter" in wanted:
            def do_filter() -> None:
                filt_dir.mkdir(parents=True, exist_ok=True)
                fn = filter_trajectories if mode == "agent" else filter_cot
                rep = fn(raw, kept, max_per_task=cfg.filter.max_per_task, **(
                    {"keep_exec_errors": cfg.filter.keep_exec_errors, "require_correct": cfg.filter.require_correct,
                     "require_parsed": cfg.filter.require_parsed}
                    if mode == "agent" else {}))
                (filt_dir / "report.json").write_text(json.dumps(rep.as_dict(), indent=2))
                console.print(f"kept {rep.kept} of {rep.total} ({rep.tasks_kept} tasks); dropped: "
                              f"{dict(rep.dropped) or 'none'}")
                if rep.kept == 0:
                    raise RuntimeError(f"no trajectory survived filtering ({raw}); nothing to train on")
            _timed(result, "filter", do_filter)
        distilled: str | None = None
        if "train" in wanted or "eval" in wanted:
            pool.release()  # free the teacher's memory for training
            distilled = _timed(result, "train", lambda: run_train_stage(cfg, kept, train_dir, mode,
                                                                          skip_if_done=True))
        if "eval" in wanted:
            result.run_dirs = _timed(result, "eval", lambda: _eval_stage(cfg, pool, retriever, eval_dir,
                                                                         distilled))
        if "report" in wanted:
            def do_report() -> None:
                from agentdistill.evaluate.records import load_run
                from agentdistill.evaluate.report import write_report

                runs = [load_run(d) for d in result.run_dirs or sorted(p for p in eval_dir.iterdir() if ".stale-" not in p.name)]
                paths = write_report(runs, work / "report", title=cfg.report_title)
                result.report_md, result.report_html = paths.markdown, paths.html
            _timed(result, "report", do_report)
    finally:
        pool.release()
        (work / "stage_seconds.json").write_text(json.dumps(result.stage_seconds, indent=2))
    return result


def _eval_stage(cfg: PipelineConfig, pool: ModelPool, retriever: Any, eval_dir: Path,
                distilled: str | None) -> list[Path]:
    tasks = load_slices(cfg.eval.sets)
    specs = {"teacher": cfg.teacher.model, "student": cfg.student.model}
    if distilled:
        specs["distilled"] = distilled
    run_dirs = []
    for run in cfg.eval.runs:
        spec = specs.get(run.model, run.model)
        if run.model == "distilled" and not distilled:
            raise RuntimeError("eval run uses the distilled model but the train stage produced none")
        prompt = run.prompt or ("teacher" if run.model == "teacher" else "student")
        e = cfg.eval
        s = EvalSettings(label=run.label, mode=run.mode, sag=run.sag, rag=run.rag, prompt=prompt,
                         max_steps=e.max_steps, max_tokens=e.max_tokens, temperature=e.temperature,
                         sag_temperature=e.sag_temperature, sag_top_p=e.sag_top_p, seed=cfg.seed,
                         concurrency=e.concurrency,
                         model_name=f"{cfg.student.model} (distilled)" if run.model == "distilled" else spec)
        run_dir = eval_dir / slug(run.label)
        stamp = eval_dir.parent / "train" / "DONE.json"
        trained = json.loads(stamp.read_text()).get("run_id") if run.model == "distilled" and stamp.exists() else None
        check_settings(run_dir, {"model": spec, "trained": trained, "run": run.model_dump(), "retriever": cfg.retriever,
                                 **e.model_dump(exclude={"sets", "runs", "concurrency"}), "seed": cfg.seed},
                       archive_stale=True)
        evaluate(tasks, lambda spec=spec: pool.get(spec), run_dir, s, retriever, run_name=slug(run.label))
        run_dirs.append(run_dir)
        pool.release(keep={specs.get(r.model, r.model) for r in cfg.eval.runs[cfg.eval.runs.index(run) + 1:]})
    return run_dirs
