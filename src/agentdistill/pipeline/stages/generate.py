"""Stage ``generate``: teacher rollouts over the config's tasks (resumable; refuses output of other settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdistill.common.files import atomic_write_json
from agentdistill.distill.generate import generate
from agentdistill.distill.settings import GenerateSettings
from agentdistill.pipeline.config import PipelineConfig, TaskSlice
from agentdistill.pipeline.stages.base import Context, Stage, console, load_slices, settings_defaults


class GenerateStage(Stage):
    name = "generate"

    def records(self, cfg: PipelineConfig, work: Path) -> Path:
        """The records this stage writes (agent trajectories or CoT answers): the filter stage's input."""
        return work / self.name / ("trajectories.jsonl" if cfg.generate.mode == "agent" else "cot.jsonl")

    def task_sets(self, cfg: PipelineConfig) -> dict[str, list[TaskSlice]]:
        return {"generate.tasks": cfg.generate.tasks}

    def settings(self, cfg: PipelineConfig) -> GenerateSettings:
        return GenerateSettings.model_validate(
            cfg.generate.model_dump(include=set(GenerateSettings.model_fields))
        )

    def stamp(self, ctx: Context) -> dict[str, Any]:
        cfg = ctx.cfg
        return {
            "teacher": cfg.teacher.model,
            "retriever": cfg.retriever,
            **cfg.generate.model_dump(exclude={"tasks", "concurrency"}),
        }

    def stamp_defaults(self, cfg: PipelineConfig) -> dict[str, Any]:
        return settings_defaults(type(cfg.generate))

    def run(self, ctx: Context) -> Path:
        cfg, out = ctx.cfg, self.records(ctx.cfg, ctx.work)
        # the stage's own stamp (settings.json) was checked: records made before generate() stamped its output
        # are adopted rather than refused
        summary = generate(
            load_slices(cfg.generate.tasks),
            ctx.pool.get(cfg.teacher.model),
            out,
            self.settings(cfg),
            ctx.retriever,
            adopt_unstamped=True,
        )
        atomic_write_json(ctx.folder(self) / "summary.json", summary.as_dict())
        console.print(
            f"teacher yield: {summary.correct} correct of {summary.attempts} attempts on "
            f"{summary.tasks} tasks = {summary.yield_per_100:.1f} per 100 tasks (solved {summary.solved_pct:.1f}%)"
        )
        return out


GENERATE = GenerateStage()
