"""Typed settings of an evaluation run, declared once.

An eval run is a *method* (``EvalMethod``: agent ± SAG or CoT ± RAG, and the prompt) under shared *sampling*
knobs (``EvalSampling``). The pipeline config composes them — its ``eval`` section is an ``EvalSampling`` with
a list of ``EvalMethod`` rows — and ``EvalSettings`` is both, what :func:`agentdistill.evaluate.run.evaluate`
takes. The CLI's defaults are checked against these models (``tests/pipeline/test_cli_defaults.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentdistill.agent.settings import MAX_STEPS, MAX_TOKENS, SAG_N, SAG_TEMPERATURE, SAG_TOP_P


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalMethod(_Strict):
    """How the model answers: an agent episode (``sag_n`` candidates per step) or one CoT answer (± RAG)."""

    mode: Literal["agent", "cot"] = "agent"
    sag_n: int = Field(SAG_N, ge=1)
    rag: bool = False  # CoT with the retriever's top-k passages before the question
    prompt: str | None = (
        None  # None: the teacher prompt for the pipeline's teacher, the student prompt otherwise
    )


class EvalSampling(_Strict):
    """Generation knobs shared by every run. With ``sag_n > 1`` steps sample at ``sag_temperature`` /
    ``sag_top_p``; otherwise every call uses ``temperature``."""

    max_steps: int = Field(MAX_STEPS, ge=1)
    max_tokens: int = Field(MAX_TOKENS, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    sag_temperature: float = Field(SAG_TEMPERATURE, ge=0.0)
    sag_top_p: float = Field(SAG_TOP_P, gt=0.0, le=1.0)
    # after max_steps without an answer, ask once for the answer only (the paper's eval does); reported apart
    force_final_answer: bool = True
    seed: int = 0
    concurrency: int = Field(1, ge=1)  # episodes in flight (thread-safe backends only)


class EvalSettings(EvalSampling, EvalMethod):
    """One evaluation run: its method, the shared sampling knobs, and how it is labelled."""

    label: str = ""  # the row name in results tables
    model_name: str | None = None  # how the model is named in records and reports (default: the LLM's name)

    @property
    def needs_retriever(self) -> bool:
        """Agent runs search; CoT runs only with RAG."""
        return self.mode == "agent" or self.rag

    @property
    def prompt_name(self) -> str:
        """The prompt to use: ``prompt``, or the student prompt when none was chosen."""
        return self.prompt or "student"
