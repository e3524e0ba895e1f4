"""Stage ``cot``: the CoT-distillation arm — the paper's baseline student, trained beside the agent one.

With a ``cot:`` section a config trains two students from the same teacher on the same tasks: the agent arm
(``generate`` → ``filter`` → ``train``) and this arm — the same three stages on a derived config
(``cot_config``: CoT-mode generate, the arm's overrides, workdir ``<workdir>/cot``), so resume, settings checks
and the train stamp work alike. Eval rows name its student ``distilled-cot`` (``mode: cot``; ``rag: true`` for
the paper's CoT + RAG row). Without a ``cot:`` section the stage is not run.
"""

from __future__ import annotations

import json
from pathlib import Path

from agentdistill.pipeline.config import ConfigError, PipelineConfig, TaskSlice
from agentdistill.pipeline.stages.base import Context, Stage, console
from agentdistill.pipeline.stages.train import TrainedModel, read_done, trained_model

COT_MODEL = "distilled-cot"


def cot_config(cfg: PipelineConfig, workdir: Path) -> PipelineConfig:
    """The CoT arm's config: generate in CoT mode (first-thought prefix and SAG off unless the arm sets them),
    ``cot.generate`` / ``cot.train`` overrides applied, ``workdir``, no nested arm.

    Raises ``ConfigError`` naming the arm's bad field."""
    if cfg.cot is None:
        raise ValueError(f"config '{cfg.name}' has no cot section")
    raw = json.loads(cfg.model_dump_json())
    gen = {**raw["generate"], "mode": "cot"}
    for key, off in (("ftp", False), ("sag_n", 1), ("sag", 1)):  # agent-only knobs
        if key in gen:
            gen[key] = off
    gen.update(cfg.cot.generate)
    raw.update(
        generate=gen,
        train={**raw["train"], **cfg.cot.train},
        cot=None,
        workdir=str(workdir),
        name=f"{cfg.name}-cot",
    )
    try:
        return PipelineConfig.model_validate(raw)
    except Exception as exc:  # a pydantic ValidationError: say it is the arm's field
        raise ConfigError(f"config '{cfg.name}': field 'cot': {exc}") from None


class CotArmStage(Stage):
    name = "cot"
    inputs = ()
    run_for_dependents = True  # eval needs the CoT-distilled model's spec and run id

    def enabled(self, cfg: PipelineConfig) -> bool:
        return cfg.cot is not None

    def task_sets(self, cfg: PipelineConfig) -> dict[str, list[TaskSlice]]:
        """The arm's generate tasks (``cot.generate`` may replace them); a bad arm raises ``ConfigError``."""
        return {"cot.generate.tasks": cot_config(cfg, Path(cfg.workdir) / self.name).generate.tasks}

    def run(self, ctx: Context) -> TrainedModel:
        from agentdistill.pipeline.runner import run_pipeline

        sub = cot_config(ctx.cfg, ctx.folder(self))
        ctx.pool.release()  # the arm loads the teacher, then trains, in its own run
        console.print(f"CoT-distillation arm under {sub.workdir}")
        run_pipeline(sub, stages=("generate", "filter", "train"))
        train_dir = Path(sub.workdir) / "train"
        done = read_done(train_dir)
        model = trained_model(train_dir, done) if done is not None else None
        if model is None:
            raise RuntimeError(f"the CoT arm's train stage left no model under {train_dir}")
        return model


COT = CotArmStage()
