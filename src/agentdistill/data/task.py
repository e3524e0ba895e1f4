"""The task record (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TaskKind = Literal["qa", "math"]


class Task(BaseModel):
    id: str
    dataset: str
    kind: TaskKind  # decides the grader, the sandbox import preset and the prompt examples
    question: str
    answer: str
    aliases: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
