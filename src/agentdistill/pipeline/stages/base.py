"""What every pipeline stage shares: the ``Stage`` shape, the run ``Context``, the model pool, the stale check.

A stage is an object with a ``name`` (also its folder under the workdir), the names of the stages whose output
it takes (``inputs``), its typed ``settings`` (a section of the pipeline config), the ``stamp`` its output
depends on, and ``run(ctx)``. The runner (``pipeline/runner.py``) runs the wanted stages in list order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel
from rich.console import Console

from agentdistill.common.files import move_stale
from agentdistill.common.runs import StaleOutputError  # noqa: F401 - re-exported (one error type for stale output)
from agentdistill.data import join_task_sets, load_tasks
from agentdistill.data.errors import DataError
from agentdistill.data.task import Task
from agentdistill.llm.types import LLM
from agentdistill.pipeline.config import PipelineConfig, TaskSlice

console = Console(stderr=True)


@dataclass
class PipelineResult:
    workdir: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report_html: Path | None = None
    report_md: Path | None = None
    run_dirs: list[Path] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # stage name -> what its run() returned


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_slices(slices: list[TaskSlice], section: str | None = None) -> list[Task]:
    """The tasks of a stage's slices, in order. Raises ``DataError`` for a set that cannot be read, a set with
    no tasks, or a task given by two slices (`join_task_sets`); with ``section`` (e.g. ``eval.sets``) the
    message names it and the slice's index."""

    def named(i: int | None, exc: DataError | str) -> DataError:
        at = f"{section}[{i}] ({slices[i].set})" if i is not None else section
        return DataError(f"{at}: {exc}" if section else str(exc))

    groups: list[tuple[str, list[Task]]] = []
    for i, s in enumerate(slices):
        try:
            tasks = load_tasks(s.set, limit=s.limit)
        except DataError as exc:
            raise named(i, exc) from None
        if not tasks and s.limit != 0:
            raise named(i, "no tasks in this set (an empty file?)")
        groups.append((f"{s.set}:{s.limit}" if s.limit is not None else s.set, tasks))
    try:
        return join_task_sets(groups)
    except DataError as exc:
        raise named(None, exc) from None


def check_task_sets(sections: dict[str, list[TaskSlice]]) -> None:
    """Read every set of ``sections`` (config section -> its set specs) as the stages will (`load_slices`), so
    a missing file, an unknown set name, a bad record, an empty set or a task given twice in a section fails
    before any work. Raises ``DataError`` naming the section, the set and (from the reader) the file, line and
    field."""
    for section, slices in sections.items():
        load_slices(slices, section)


class ModelPool:
    """Loads each model spec once (with its options, through ``loader``) and shares it between stages.

    ``serve``: every spec naming a local GGUF (embedded models, trained students) is served by a managed
    llama-server with ``parallel`` slots (``server:`` specs, `agentdistill.models.server`), so that many
    episodes are decoded in shared batches; the LLM keeps the in-process name, so stage stamps do not change.
    """

    def __init__(
        self,
        options: dict[str, dict[str, Any]],
        loader: Callable[..., LLM] | None = None,
        serve: bool = False,
        parallel: int = 1,
    ):
        self._options = options
        self._loader = loader
        self.serve, self.parallel = serve, parallel
        self._llms: dict[str, LLM] = {}

    def get(self, spec: str) -> LLM:
        if spec not in self._llms:
            from agentdistill.models.loading import as_served, load_llm

            if self._loader is None:
                self._loader = load_llm
            load, options = spec, dict(self._options.get(spec, {}))
            served = as_served(spec, options, self.parallel) if self.serve else None
            if served is not None:
                load, options = served
            console.print(f"[dim]loading model {load}[/]")
            self._llms[spec] = self._loader(load, **options)
        return self._llms[spec]

    def release(self, keep: set[str] | None = None) -> None:
        for spec in list(self._llms):
            if keep and spec in keep:
                continue
            self._llms.pop(spec).close()


# settings renamed since older workdirs were stamped (old name -> new): read under the new name, so a rename
# alone never makes finished output look stale
RENAMED_STAMP_KEYS = {"sag": "sag_n"}


def _as_stamp(obj: Any) -> Any:
    """A value as a stamp file holds it (JSON, keys sorted; what JSON cannot hold as its ``str``)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def settings_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The defaults of a settings model's fields, as a stamp holds them (required fields have none)."""
    return _as_stamp(
        {
            name: f.get_default(call_default_factory=True)
            for name, f in model.model_fields.items()
            if not f.is_required()
        }
    )


def _added_at_default(
    before: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """``before`` with the settings it lacks taken from ``current`` where they hold their default (nested too).

    A setting added to the code after a stamp was written is absent from it. Its default is the behaviour the code
    had before the setting existed (the project's rule for new settings), so at that value it changes nothing."""
    out = dict(before)
    for key, value in current.items():
        if key not in out:
            if key in defaults and defaults[key] == value:
                out[key] = value
        elif isinstance(value, dict) and isinstance(out[key], dict) and isinstance(defaults.get(key), dict):
            out[key] = _added_at_default(out[key], value, defaults[key])
    return out


def check_settings(
    stage_dir: Path,
    settings: dict[str, Any],
    archive_stale: bool = False,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Record a stage's settings beside its output; never resume output made with different ones.

    Stale output is an error (teacher rollouts are expensive to lose), or with ``archive_stale`` it is moved
    aside to ``<dir>.stale-N`` (eval runs of a retrained model are cheap to redo and wrong to keep). Not changes:
    a renamed setting (``RENAMED_STAMP_KEYS``), and a setting the stamp lacks that holds its default
    (``defaults``: the settings' defaults in the stamp's shape, ``settings_defaults``): one added to the code since.
    """
    stage_dir.mkdir(parents=True, exist_ok=True)
    path = stage_dir / "settings.json"
    current = _as_stamp(settings)
    if path.exists():
        before = {RENAMED_STAMP_KEYS.get(k, k): v for k, v in json.loads(path.read_text()).items()}
        before = _added_at_default(before, current, defaults or {})
        if before != current:
            changed = sorted(k for k in set(before) | set(current) if before.get(k) != current.get(k))
            if archive_stale:
                moved = move_stale(stage_dir)
                console.print(
                    f"[yellow]{stage_dir}: settings changed ({', '.join(changed)}); old results moved "
                    f"to {moved.name}[/]"
                )
                stage_dir.mkdir(parents=True)
                path.write_text(json.dumps(current, indent=2, sort_keys=True))
                return
            raise StaleOutputError(
                f"{stage_dir} holds output made with other settings (changed: {', '.join(changed)}); "
                f"delete it or choose another workdir to start over"
            )
    path.write_text(json.dumps(current, indent=2, sort_keys=True))


@dataclass
class Context:
    """One pipeline run: the config, its workdir, shared models and retriever, and what stages returned."""

    cfg: PipelineConfig
    work: Path
    pool: ModelPool
    retriever: Any
    result: PipelineResult
    outputs: dict[str, Any] = field(default_factory=dict)  # stage name -> what its run() returned

    def folder(self, stage: Stage) -> Path:
        return self.work / stage.name


class Stage:
    """One step of the pipeline. Subclasses set ``name`` / ``inputs`` and implement ``run``.

    ``run_for_dependents``: the stage also runs (normally a quick no-op: its output is up to date) whenever a
    wanted stage lists it in ``inputs`` — training, whose result eval needs in memory (the model and run id).
    Stages without it hand over files that later stages find on disk.
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    run_for_dependents: ClassVar[bool] = False

    def needs(self, cfg: PipelineConfig) -> tuple[str, ...]:
        """The inputs this config really uses (default: all of ``inputs``)."""
        return self.inputs

    def enabled(self, cfg: PipelineConfig) -> bool:
        """False when the config does not ask for this stage at all (e.g. ``cot`` without a ``cot:`` section)."""
        return True

    def task_sets(self, cfg: PipelineConfig) -> dict[str, list[TaskSlice]]:
        """The task sets the stage reads, by config section (e.g. ``{"eval.sets": [...]}``): the runner reads
        them all before the first stage runs (``check_task_sets``)."""
        return {}

    def settings(self, cfg: PipelineConfig) -> Any:
        """This stage's typed settings: its section of the pipeline config."""
        return getattr(cfg, self.name)

    def stamp(self, ctx: Context) -> dict[str, Any] | None:
        """What the stage's output depends on; output made with another stamp is never resumed (None: no check)."""
        return None

    def stamp_defaults(self, cfg: PipelineConfig) -> dict[str, Any]:
        """The stamp's settings at their defaults (``settings_defaults``): an older stamp may lack them."""
        return {}

    def run(self, ctx: Context) -> Any:
        raise NotImplementedError
