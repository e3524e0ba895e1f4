"""Stage ``eval``: every configured run (teacher, student, distilled, any spec) on the test sets.

Each run has its own folder under ``eval/``; a run whose settings changed — including a retrained student
(another training run id) — is moved aside to ``<run>.stale-N`` and redone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdistill.evaluate.run import evaluate
from agentdistill.evaluate.settings import EvalMethod, EvalSampling, EvalSettings
from agentdistill.pipeline.config import EvalRun, PipelineConfig, TaskSlice
from agentdistill.pipeline.stages.base import (
    Context,
    Stage,
    check_settings,
    load_slices,
    settings_defaults,
    slug,
)
from agentdistill.pipeline.stages.train import TrainedModel


def run_settings(cfg: PipelineConfig, run: EvalRun, spec: str) -> EvalSettings:
    """The typed settings of one eval row: the shared sampling knobs, the row's method, its label."""
    shared = cfg.eval.model_dump(include=set(EvalSampling.model_fields))
    if run.max_tokens is not None:
        shared["max_tokens"] = run.max_tokens
    method = run.model_dump(include=set(EvalMethod.model_fields))
    method["prompt"] = run.prompt or ("teacher" if run.model == "teacher" else "student")
    name = f"{cfg.student.model} ({run.model})" if run.model in ("distilled", "distilled-cot") else spec
    return EvalSettings(**shared, **method, label=run.label, model_name=name)


class EvalStage(Stage):
    name = "eval"
    inputs = ("train", "cot")
    # eval rows that name a trained student -> the stage that trains it
    TRAINED_BY = {"distilled": "train", "distilled-cot": "cot"}

    def needs(self, cfg: PipelineConfig) -> tuple[str, ...]:
        """Only the students some row evaluates are trained (or checked up to date) before eval."""
        rows = {r.model for r in cfg.eval.runs}
        return tuple(stage for model, stage in self.TRAINED_BY.items() if model in rows)

    def task_sets(self, cfg: PipelineConfig) -> dict[str, list[TaskSlice]]:
        return {"eval.sets": cfg.eval.sets}

    def run(self, ctx: Context) -> list[Path]:
        cfg, e = ctx.cfg, ctx.cfg.eval
        # the stamp's settings at their defaults: a stamp written before a setting existed lacks it
        defaults = {**settings_defaults(type(e)), "run": settings_defaults(EvalRun)}
        trained: TrainedModel | None = ctx.outputs.get("train")
        tasks = load_slices(e.sets)
        specs = {"teacher": cfg.teacher.model, "student": cfg.student.model}
        if trained is not None:
            specs["distilled"] = trained.spec
        cot: TrainedModel | None = ctx.outputs.get("cot")  # the CoT arm's student (stages/cot.py)
        if cot is not None:
            specs["distilled-cot"] = cot.spec
        from agentdistill.grading.judge import judge_results_file
        from agentdistill.pipeline.stages.judging import judge_spec, stage_judge

        run_dirs = []
        for i, run in enumerate(e.runs):
            if run.model == "distilled" and trained is None:
                raise RuntimeError("eval run uses the distilled model but the train stage produced none")
            if run.model == "distilled-cot" and cot is None:
                raise RuntimeError("eval run uses the distilled-cot model but the config has no cot section")
            spec = specs.get(run.model, run.model)
            run_dir = ctx.folder(self) / slug(run.label)
            stamp: dict[str, Any] = {
                # a trained student is named by its row's model and training run id, not by its path: the
                # stamp travels with committed records to machines where the workdir lies elsewhere
                "model": run.model if run.model in self.TRAINED_BY else spec,
                "trained": (
                    trained.run_id
                    if run.model == "distilled" and trained
                    else cot.run_id
                    if run.model == "distilled-cot" and cot
                    else None
                ),
                "run": run.model_dump(),
                "retriever": cfg.retriever,
                **e.model_dump(exclude={"sets", "runs", "concurrency"}),
            }
            check_settings(run_dir, stamp, archive_stale=True, defaults=defaults)
            evaluate(
                tasks,
                lambda spec=spec: ctx.pool.get(spec),
                run_dir,
                run_settings(cfg, run, spec),
                ctx.retriever,
                run_name=slug(run.label),
                adopt_unstamped=True,
            )  # checked just above
            judge = stage_judge(ctx)
            if judge is not None:  # QA verdicts beside EM/F1: judge.jsonl, judge_summary.json in the run dir
                judge_results_file(run_dir / "results.jsonl", judge)
            run_dirs.append(run_dir)
            ctx.pool.release(keep={specs.get(r.model, r.model) for r in e.runs[i + 1 :]} | {judge_spec(ctx)})
        ctx.result.run_dirs = run_dirs
        return run_dirs


EVAL = EvalStage()
