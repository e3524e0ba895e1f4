"""The pipeline's LLM judge (config ``judge:``): one ``LLMJudge`` over the shared model pool, one verdict cache.

Verdicts are cached in ``<workdir>/judge_cache.jsonl`` keyed by judge model, rubric, question, gold answer and
prediction, so filter, eval and re-runs never ask twice (grading/judge.py).
"""

from __future__ import annotations

from typing import Any

from agentdistill.pipeline.stages.base import Context

CACHE_FILE = "judge_cache.jsonl"


def judge_spec(ctx: Context) -> str | None:
    return ctx.cfg.judge.model if ctx.cfg.judge is not None else None


def stage_judge(ctx: Context) -> Any:
    """The config's judge (``grading.judge.LLMJudge``) or None; its model is loaded through ``ctx.pool``."""
    ref = ctx.cfg.judge
    if ref is None:
        return None
    from agentdistill.grading.judge import LLMJudge

    ctx.pool._options.setdefault(ref.model, ref.load_options())
    return LLMJudge(ctx.pool.get(ref.model), ctx.work / CACHE_FILE)
