"""Stage ``filter``: keep the teacher records worth training on (agent trajectories or CoT answers)."""

from __future__ import annotations

from pathlib import Path

from agentdistill.common.files import atomic_write_json
from agentdistill.distill.filter import filter_cot, filter_trajectories
from agentdistill.pipeline.config import PipelineConfig
from agentdistill.pipeline.stages.base import Context, Stage, console
from agentdistill.pipeline.stages.generate import GENERATE


class FilterStage(Stage):
    name = "filter"
    inputs = ("generate",)

    def kept(self, cfg: PipelineConfig, work: Path) -> Path:
        """The kept records: the train stage's input."""
        return work / self.name / ("kept.jsonl" if cfg.generate.mode == "agent" else "kept_cot.jsonl")

    def run(self, ctx: Context) -> Path:
        cfg, f = ctx.cfg, ctx.cfg.filter
        src, kept = GENERATE.records(cfg, ctx.work), self.kept(cfg, ctx.work)
        ctx.folder(self).mkdir(parents=True, exist_ok=True)
        from agentdistill.pipeline.stages.judging import stage_judge

        judge = stage_judge(ctx)  # QA correctness by the config's judge, when it has one
        if cfg.generate.mode == "agent":
            rep = filter_trajectories(src, kept, **f.model_dump(), judge=judge)
        else:
            rep = filter_cot(
                src, kept, max_per_task=f.max_per_task, judge=judge, require_correct=f.require_correct
            )
        atomic_write_json(ctx.folder(self) / "report.json", rep.as_dict())
        console.print(
            f"kept {rep.kept} of {rep.total} ({rep.tasks_kept} tasks); dropped: {dict(rep.dropped) or 'none'}"
        )
        if rep.kept == 0:
            raise NothingKeptError(
                f"no trajectory survived filtering ({src}: {rep.total} records, dropped: {dict(rep.dropped)}); "
                "nothing to train on"
            )
        return kept


class NothingKeptError(RuntimeError):
    """The filter kept no record: the teacher solved nothing the filter accepts (a weak teacher, too few tasks)."""


FILTER = FilterStage()
