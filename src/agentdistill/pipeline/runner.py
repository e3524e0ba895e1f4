"""Run the stages of a pipeline config in order: generate → filter → train → eval → report.

The stages are objects listed in ``pipeline/stages`` (name, folder, settings, inputs, run). Every stage reads
and writes plain files under ``workdir``. Generation and evaluation resume record by record; training is skipped
when its inputs and settings are unchanged (a stamp file holds their hash). A stage's ``stamp`` is checked
against the one beside its output before it runs: output made with other settings is never resumed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from agentdistill.common.files import atomic_write_text
from agentdistill.llm.types import LLM
from agentdistill.pipeline.config import ConfigError, PipelineConfig
from agentdistill.pipeline.stages import STAGES, Context, Stage
from agentdistill.pipeline.stages.base import (  # noqa: F401 - re-exported: the CLI and tests import them here
    ModelPool,
    PipelineResult,
    StaleOutputError,
    check_settings,
    check_task_sets,
    console,
    load_slices,
    slug,
    stable_hash,
)
from agentdistill.retrieval import load_retriever


def plan(cfg: PipelineConfig, stages: tuple[str, ...] | None) -> list[Stage]:
    """The stages to run, in order: the wanted ones plus the ``run_for_dependents`` inputs they need."""
    names = [s.name for s in STAGES]
    wanted = set(stages or names)
    unknown = sorted(wanted - set(names))
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)}; the stages are {', '.join(names)}")
    by_name = {s.name: s for s in STAGES}
    for stage in reversed(STAGES):  # later stages first, so an added input's own inputs are seen too
        if stage.name in wanted:
            wanted |= {n for n in stage.needs(cfg) if by_name[n].run_for_dependents}
    return [s for s in STAGES if s.name in wanted]


def _timed(result: PipelineResult, stage: Stage, ctx: Context) -> None:
    console.rule(f"[bold]stage: {stage.name}")
    start = time.perf_counter()
    stamp = stage.stamp(ctx)
    if stamp is not None:
        check_settings(ctx.folder(stage), stamp, defaults=stage.stamp_defaults(ctx.cfg))
    ctx.outputs[stage.name] = stage.run(ctx)
    result.stage_seconds[stage.name] = round(time.perf_counter() - start, 1)
    # recorded as each stage ends: the report stage's ledger then counts this invocation's earlier stages, and a
    # run killed later keeps the seconds of the stages it finished
    _record_seconds(ctx.work / "stage_seconds.json", {stage.name: result.stage_seconds[stage.name]})
    console.print(f"[green]✓ {stage.name}[/] in {result.stage_seconds[stage.name]:.0f} s")


def _record_seconds(path: Path, seconds: dict[str, float]) -> None:
    """Add a finished stage's wall seconds to ``stage_seconds.json``: each stage's total over every invocation
    that ran it, so a run resumed many times (or a ``--stages report`` re-run) keeps its real cost. A stage killed
    before it ends adds nothing; the ledger (``pipeline/ledger.py``) sums the records' own seconds instead."""
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = {}
    before = before if isinstance(before, dict) else {}
    total = {**before, **{k: round(float(before.get(k) or 0.0) + v, 1) for k, v in seconds.items()}}
    atomic_write_text(path, json.dumps(total, indent=2))


def run_pipeline(
    cfg: PipelineConfig,
    stages: tuple[str, ...] | None = None,
    *,
    llm_loader: Callable[..., LLM] | None = None,
) -> PipelineResult:
    """Run (or resume) every stage of ``cfg``; ``stages`` limits which run (others must be complete).

    ``llm_loader(spec, **options)`` loads a model (default: ``agentdistill.models.load_llm``).
    Raises ``ConfigError`` for an unknown stage name, ``StaleOutputError`` for output of other settings, and
    ``DataError`` for a task set of a planned stage that cannot be read (checked before any stage runs).
    """
    todo = plan(cfg, stages)
    # every set the planned stages read, read now: a typo in an eval set must not wait for generate and train
    check_task_sets({k: v for s in todo if s.enabled(cfg) for k, v in s.task_sets(cfg).items()})
    work = Path(cfg.workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(cfg.model_dump_json(indent=2))
    result = PipelineResult(workdir=work)
    pool = ModelPool(
        {
            cfg.teacher.model: cfg.teacher.load_options(),
            cfg.student.model: cfg.student.load_options(),
        },
        loader=llm_loader,
        serve=cfg.backend == "llama-server",
        parallel=cfg.concurrency,
    )
    retriever = load_retriever(cfg.retriever) if cfg.retriever else None
    ctx = Context(cfg=cfg, work=work, pool=pool, retriever=retriever, result=result, outputs=result.outputs)
    try:
        for stage in todo:
            if stage.enabled(cfg):
                _timed(result, stage, ctx)
    finally:
        pool.release()
    return result
