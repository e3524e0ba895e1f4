"""Defaults of an agent episode, declared once: the loop, the batch runners' settings and the CLI read them here.

``MAX_TOKENS`` is the budget of one model turn — one agent step (Thought + Code) or one CoT answer — for the
teacher and the student alike: 512 tokens (the loop's and ``agentdistill run``'s old default; ``generate`` and
``eval`` used 384, which cut long first steps). ``SAG_N`` is the number of candidates per step (1: SAG off); it
keeps that one name from the CLI (``--sag-n``) to :func:`agentdistill.agent.run_episode`, where it becomes the
sampler's ``GenerationConfig.n``. SAG samples at ``SAG_TEMPERATURE`` / ``SAG_TOP_P`` (the paper's 0.4 / 0.8).
"""

from __future__ import annotations

MAX_STEPS = 5  # agent steps before the episode stops (a forced final-answer turn, if on, comes after)
MAX_TOKENS = 512  # tokens per model turn (agent step or CoT answer)
SAG_N = 1  # candidates per step; 1 = SAG off
SAG_TEMPERATURE = 0.4
SAG_TOP_P = 0.8
SEARCH_K = 3  # passages per search call
