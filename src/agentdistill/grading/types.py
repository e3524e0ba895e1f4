"""A grade for one prediction."""

from __future__ import annotations

from pydantic import BaseModel


class Grade(BaseModel):
    correct: bool  # the headline metric: EM for QA, equivalence for math
    em: float = 0.0
    f1: float = 0.0
    cover_em: float = 0.0  # QA only: gold contained in a short prediction; reported apart from EM
    method: str = ""  # "qa-em", "math-verify", "numeric", "judge", ...
    detail: str = ""
