"""The pipeline's YAML config: one file names every stage's settings; typos are errors, not silence.

Each stage section *is* that stage's typed settings model, declared once beside its runner
(``distill/settings.py``: generate, filter, train; ``evaluate/settings.py``: eval); this file only adds what a
pipeline needs around them — the tasks, the models, the eval rows — and one ``seed`` for every stage.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentdistill.distill.settings import FilterSettings, GenerateSettings, TrainSettings
from agentdistill.evaluate.compare import parse_pair
from agentdistill.evaluate.settings import EvalMethod, EvalSampling


class ConfigError(ValueError):
    """A bad config file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSlice(_Strict):
    """A task set (bundled name or a file) and how many of its tasks to take (first N, stable order)."""

    set: str
    limit: int | None = None


class GenerateStage(GenerateSettings):
    """``generate``: the teacher's rollout settings (:class:`GenerateSettings`) and the tasks to run."""

    tasks: list[TaskSlice]


class EvalRun(EvalMethod):
    """One row of the results table: a model (a role or any spec) and how it answers."""

    label: str  # the row name in the results table
    model: str  # "teacher", "student", "distilled", or any model spec
    # this row's budget per model turn (a CoT row answers in one turn); None: the stage's ``max_tokens``
    max_tokens: int | None = Field(None, ge=1)


class EvalStage(EvalSampling):
    """``eval``: shared sampling settings (:class:`EvalSampling`), the test sets and the runs."""

    sets: list[TaskSlice]
    runs: list[EvalRun]


class ModelRef(_Strict):
    model: str
    n_ctx: int = 8192
    options: dict[str, Any] = Field(default_factory=dict)

    def load_options(self) -> dict[str, Any]:
        """Backend options for ``load_llm``: an ``openai:`` server sets its own context, so it gets no ``n_ctx``."""
        return {**({} if self.model.startswith("openai:") else {"n_ctx": self.n_ctx}), **self.options}


class CotArm(_Strict):
    """The CoT-distillation arm (issue 15 item 1): the same teacher on the same ``generate.tasks`` in CoT mode,
    filtered to correct answers and trained into a second student, named ``distilled-cot`` in eval rows
    (``pipeline/stages/cot.py``; output under ``<workdir>/cot``). ``generate`` / ``train`` override the agent
    arm's settings of those stages (e.g. ``train: {max_seq_len: 4096}`` — the paper's CoT length)."""

    generate: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)


class PipelineConfig(_Strict):
    name: str
    workdir: Path = Path("runs/demo")
    seed: int = 0
    teacher: ModelRef
    student: ModelRef
    retriever: str = "default"
    generate: GenerateStage
    filter: FilterSettings = Field(default_factory=FilterSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalStage
    cot: CotArm | None = None  # a CoT-distilled student beside the agent-distilled one (same teacher, tasks)
    # LLM judge for QA answers (grading/judge.py, the paper's format): filter keeps what it judges correct, eval
    # writes its verdicts beside EM/F1 (judge.jsonl, judge_summary.json). None: exact match only.
    judge: ModelRef | None = None
    report_title: str = "agentdistill results"
    # the comparisons the report leads with, "LABEL A vs LABEL B" over eval row labels: paired tests of A − B
    # pooled per domain and overall (evaluate/compare.py key_comparisons)
    compare: list[str] = Field(default_factory=list)
    # how local GGUF models (embedded, trained students, judge) run (issue 16). "in-process": llama.cpp in this
    # process, one episode at a time. "llama-server": a managed llama-server per model (models/server.py) with
    # `concurrency` slots, driven over loopback HTTP — continuous batching, and at concurrency 1 still faster
    # than in-process on the CPU (its sampling is native; benchmarks/results/throughput.json).
    backend: Literal["in-process", "llama-server"] = "in-process"
    # episodes in flight in generate and eval (unless a stage sets its own); HTTP models (llama-server,
    # openai:) decode them in shared batches, in-process ones run them one at a time. Not part of any stamp:
    # records made at another concurrency resume. Batched decoding is not bit-identical to one sequence at a
    # time (throughput.json, `determinism`).
    concurrency: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _compare_names_rows(self) -> PipelineConfig:
        labels = [r.label for r in self.eval.runs]
        for text in self.compare:
            for label in parse_pair(text):
                if label not in labels:
                    raise ValueError(
                        f"compare {text!r}: no eval run is labelled {label!r} (labels: {labels})"
                    )
        return self

    @model_validator(mode="before")
    @classmethod
    def _one_seed(cls, raw: Any) -> Any:
        """The top-level ``seed`` (and ``concurrency``) is every stage's unless a stage sets its own."""
        if isinstance(raw, dict):
            for stage in SEEDED_STAGES:
                section = raw.setdefault(stage, {}) if stage == "train" else raw.get(stage)
                if isinstance(section, dict):
                    section.setdefault("seed", raw.get("seed", 0))
                    if stage != "train" and "concurrency" in raw:
                        section.setdefault("concurrency", raw["concurrency"])
        return raw


SEEDED_STAGES = ("generate", "train", "eval")
BUILTIN = ("demo", "paper", "smoke", "compare", "study", "study-ftp")
# fields renamed when the stage settings became one declaration each: an old config gets a pointed error
RENAMED = {
    "sag": "sag_n",
    "lr": "learning_rate",
    "batch_size": "per_device_batch",
    "grad_accum": "effective_batch (per_device_batch × accumulation steps)",
    "extra": "the training fields themselves, directly under train",
}


def builtin_config_path(name: str) -> Path:
    return Path(str(resources.files("agentdistill.pipeline") / "configs" / f"{name}.yaml"))


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _resolve(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if not path.exists() and str(path_or_name) in BUILTIN:
        path = builtin_config_path(str(path_or_name))
    if not path.exists():
        raise ConfigError(f"config not found: {path_or_name} (built-in configs: {', '.join(BUILTIN)})")
    return path


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``: mappings merge key by key, anything else (lists, null) replaces."""
    out = dict(base)
    for key, value in child.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The YAML mapping of ``path``, over its ``base`` config's (a built-in name or a path beside it)."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' loops: {' -> '.join(str(p) for p in (*seen, path.resolve()))}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    base = raw.pop("base", None)
    if base is None:
        return raw
    near = path.parent / str(base)
    base_path = near if near.is_file() else _resolve(str(base))
    return _merge(_read_raw(base_path, (*seen, path.resolve())), raw)


def load_config(
    path_or_name: str | Path, overrides: dict[str, Any] | None = None, *, given: dict[str, str] | None = None
) -> PipelineConfig:
    """Load a config file (or a built-in name, ``BUILTIN``); errors name the file and field.

    A config may start from another: ``base: study`` (a built-in name, or a file path relative to this one)
    takes that config and applies this file's keys over it — mappings merge key by key, lists and ``null``
    replace (as Hydra and torchtune configs compose).

    ``overrides`` (dotted key -> value) apply over the file; a problem with a field an override set is blamed
    on the override, named as ``given[key]`` says (the CLI: ``--set 'KEY=VALUE'``; default ``override KEY``),
    not on the file. Raises ``ConfigError``."""
    path = _resolve(path_or_name)
    raw = _read_raw(path)
    names = {key: (given or {}).get(key, f"override {key!r}") for key in overrides or {}}
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value, names[key])
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as e:
        problems: dict[str, list[str]] = {}  # source (the file, or an override) -> its problems
        for err in e.errors():
            where = _format_loc(err["loc"])
            if err["type"] == "extra_forbidden" and str(err["loc"][-1]) in RENAMED:
                problem = f"unknown field '{where}' (renamed: use {RENAMED[str(err['loc'][-1])]})"
            elif err["type"] == "extra_forbidden":
                problem = f"unknown field '{where}' (a typo?)"
            else:
                problem = f"field '{where}': {err['msg']}"
            problems.setdefault(_source(err["loc"], names, path), []).append(problem)
        raise ConfigError("; ".join(f"{src}: {'; '.join(p)}" for src, p in problems.items())) from None


def _source(loc: tuple[Any, ...], names: dict[str, str], path: Path) -> str:
    """Where the value at ``loc`` came from: the override that set it (or a mapping above it), else the file."""
    dotted = [str(p) for p in loc]
    for key, name in names.items():
        parts = key.split(".")
        if dotted[: len(parts)] == parts:
            return name
    return str(path)


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, name: str) -> None:
    """Set ``raw[a][b]... = value`` for ``dotted`` ``a.b...``, making mappings on the way; a part that holds
    something other than a mapping raises ``ConfigError`` naming the override (``name``)."""
    node = raw
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            above = ".".join(parts[: i + 1])
            raise ConfigError(f"{name}: '{above}' is a {type(node).__name__}, not a mapping with keys")
    node[parts[-1]] = value
