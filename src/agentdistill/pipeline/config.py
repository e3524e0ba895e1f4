"""The pipeline's YAML config: one file names every stage's settings; typos are errors, not silence."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A bad config file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSlice(_Strict):
    """A task set (bundled name or a file) and how many of its tasks to take (first N, stable order)."""

    set: str
    limit: int | None = None


class GenerateStage(_Strict):
    tasks: list[TaskSlice]
    mode: Literal["agent", "cot"] = "agent"
    ftp: bool = True  # first-thought prefix from the teacher's own CoT
    samples: int = 1  # independent attempts per task
    sag: int = 1  # teacher-side self-consistent action generation
    temperature: float = 0.0  # used when samples == 1; samples > 1 use sample_temperature
    sample_temperature: float = 0.7
    top_p: float = 1.0
    max_steps: int = 5
    max_tokens: int = 384
    prompt: str = "teacher"
    concurrency: int = 1


class FilterStage(_Strict):
    max_per_task: int = 1  # distinct correct trajectories kept per task
    keep_exec_errors: bool = True  # the student learns to recover from errors
    require_correct: bool = True  # false (smoke tests, ablations): keep trajectories whatever their outcome
    require_parsed: bool = True  # false (smoke tests): keep trajectories with unparsable steps too


class TrainStage(_Strict):
    lora: bool = True
    epochs: float = 2.0
    lr: float = 2e-4
    lora_r: int = 64
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    batch_size: int = 1
    grad_accum: int = 8
    max_seq_len: int = 2048
    max_steps: int = -1
    export_gguf: bool = True
    extra: dict[str, Any] = Field(default_factory=dict)  # passed through to TrainConfig


class EvalRun(_Strict):
    label: str  # the row name in the results table
    model: str  # "teacher", "student", "distilled", or any model spec
    mode: Literal["agent", "cot"] = "agent"
    sag: int = 1
    rag: bool = False  # CoT with top-k passages prepended
    prompt: str | None = None  # default: teacher prompt for the teacher, student prompt otherwise


class EvalStage(_Strict):
    sets: list[TaskSlice]
    runs: list[EvalRun]
    max_steps: int = 5
    max_tokens: int = 384
    temperature: float = 0.0
    sag_temperature: float = 0.4
    sag_top_p: float = 0.8
    concurrency: int = 1


class ModelRef(_Strict):
    model: str
    n_ctx: int = 8192
    options: dict[str, Any] = Field(default_factory=dict)


class PipelineConfig(_Strict):
    name: str
    workdir: Path = Path("runs/demo")
    seed: int = 0
    teacher: ModelRef
    student: ModelRef
    retriever: str = "default"
    generate: GenerateStage
    filter: FilterStage = Field(default_factory=FilterStage)
    train: TrainStage = Field(default_factory=TrainStage)
    eval: EvalStage
    report_title: str = "agentdistill results"


BUILTIN = ("demo", "paper", "smoke")


def builtin_config_path(name: str) -> Path:
    return Path(str(resources.files("agentdistill.pipeline") / "configs" / f"{name}.yaml"))


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_config(path_or_name: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load a config file (or a built-in name: demo, paper, smoke); errors name the file and field."""
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in BUILTIN:
        path = builtin_config_path(str(path_or_name))
    if not path.exists():
        raise ConfigError(f"config not found: {path_or_name} (built-in configs: {', '.join(BUILTIN)})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            where = _format_loc(err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown field '{where}' (a typo?)")
            else:
                problems.append(f"field '{where}': {err['msg']}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
