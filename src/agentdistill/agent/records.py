"""Trajectory records (DESIGN.md §4) and their JSONL file: one line per task attempt.

A trajectory holds everything needed to audit a run and rebuild its training example without re-running it.
The writer makes each record one ``write`` on an append-mode file followed by fsync, so a killed run leaves
whole lines only; a torn last line (power loss) is repaired on open and reported by the reader.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentdistill.agent.settings import MAX_STEPS, SAG_N
from agentdistill.common.jsonl import JsonlError, read_jsonl, repair_tail
from agentdistill.data.task import Task

# "context_overflow": the conversation outgrew the model's context (scored, wrong); "error": an outage
# (backend unreachable, sandbox failure), left out of accuracy and retried by a resumed run
Status = Literal["answered", "max_steps", "context_overflow", "error"]
SCHEMA_VERSION = 1


class Candidate(BaseModel):
    """One SAG sample for a step, run in its own sandbox fork."""

    index: int
    raw: str  # prefix + continuation, as generated
    thought: str = ""
    code: str = ""
    error_kind: str | None = None  # parse kind ("no_code", "syntax", …) or sandbox kind ("exception", …)
    error: str | None = None
    observation: str = ""
    final_answer: Any = None
    has_final_answer: bool = False
    valid: bool = False  # parsed and ran without raising: takes part in the vote
    vote_key: str | None = None  # JSON [observation, repr(final_answer) or null]
    group_size: int = 0
    tokens: int = 0
    finish_reason: str = "stop"
    exec_seconds: float = 0.0
    shared_execution_with: int | None = None  # identical code: reused this candidate's run
    # host tool calls this candidate's fork made ({name, args, seconds[, error]}), losers' included: their
    # searches cost host time and are accounted here though their state is discarded (issue 14 item 3)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class Step(BaseModel):
    index: int
    raw: str  # the assistant message content (prefix + continuation)
    thought: str = ""
    code: str = ""
    observation: str = ""  # what the model saw next (without the "Observation:" label)
    error_kind: str | None = None
    error: str | None = None
    final_answer: Any = None
    has_final_answer: bool = False
    prefix: str = ""  # first-thought prefix given to the model for this step, if any
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    tokens: int = 0  # completion tokens, summed over candidates
    gen_seconds: float = 0.0
    exec_seconds: float = 0.0
    seconds: float = 0.0
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    n_candidates: int = 1
    n_valid: int = 0
    winner: int = 0
    candidates: list[Candidate] = Field(default_factory=list)  # empty when SAG is off
    # What the paper's turn format (agent/paper_format.py) shows: printed output alone, the value of the
    # code's last statement as str (None: no value), and the source line an execution error points at.
    stdout: str = ""
    last_value: str | None = None
    error_line: str | None = None
    forced: bool = False  # the forced final-answer turn after max_steps (not an agent step; never trained on)


class Totals(BaseModel):
    steps: int = 0  # agent steps; the forced final-answer turn (Step.forced) is not counted
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    gen_seconds: float = 0.0
    exec_seconds: float = 0.0
    seconds: float = 0.0
    parse_failures: int = 0
    exec_errors: int = 0


class TrajectorySettings(BaseModel):
    """What produced a trajectory, as written by the agent loop and (``sample`` .. ``ftp_cot_seconds``) by ``generate``.

    Typed so that readers use names something writes: ``search_tool`` and ``k`` are None when the episode had
    no retriever (the student prompt then offers no search). Records written before this model existed read
    unchanged: missing fields take these defaults, unknown keys are kept as extras.
    """

    model_config = ConfigDict(extra="allow")

    prompt: str = "student"  # the prompt template's name
    max_steps: int = MAX_STEPS
    sag_n: int = SAG_N
    generation: dict[str, Any] = Field(default_factory=dict)  # the GenerationConfig of a step, as a dict
    k: int | None = None  # passages per search; None: no retriever
    search_tool: str | None = None  # the search tool's name in the prompt; None: no retriever
    sandbox_imports: str | None = None
    force_final_answer: bool = False  # whether the loop would ask for the answer after max_steps
    # written by teacher generation (distill/generate.py)
    sample: int = 0
    seed: int | None = None
    ftp: bool = False
    ftp_cot: str | None = None  # the CoT the first-thought prefix was cut from
    ftp_cot_seconds: float = 0.0  # wall time of that CoT call, before the episode (not in ``totals.seconds``)

    @property
    def search(self) -> bool:
        """Whether the episode offered the search tool."""
        return self.search_tool is not None

    def __getitem__(self, key: str) -> Any:
        """``settings["k"]`` as for the old plain dict; a name nothing writes raises ``KeyError``."""
        if key in type(self).model_fields or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(f"trajectory settings have no field {key!r}")


class Trajectory(BaseModel):
    version: int = SCHEMA_VERSION
    task: Task
    model: str
    settings: TrajectorySettings = Field(default_factory=TrajectorySettings)
    messages: list[dict[str, str]] = Field(default_factory=list)  # full chat incl. system
    steps: list[Step] = Field(default_factory=list)
    final_answer: Any = None
    status: Status = "max_steps"
    error: str | None = None
    correct: bool | None = None  # filled by the caller (grading)
    grade: dict[str, Any] | None = None
    prefix: str | None = None  # first-thought prefix used, if any
    # True when the answer came from the extra "answer only" turn asked after max_steps (the paper's
    # provide_final_answer): graded, reported separately, never training data (its last step has forced=True)
    forced_final_answer: bool = False
    totals: Totals = Field(default_factory=Totals)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def answer_text(self) -> str | None:
        return None if self.final_answer is None else str(self.final_answer)


class TrajectoryFormatError(ValueError):
    """A trajectory file has a bad line; the message names file, line and field."""


class TrajectoryWriter:
    """Append trajectories to a JSONL file, one durable line per record."""

    def __init__(self, path: str | Path, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.repaired_bytes = _drop_torn_tail(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, traj: Trajectory) -> None:
        data = (traj.model_dump_json() + "\n").encode()
        view = memoryview(data)
        while view:  # one write() for regular files; loop only guards against short writes
            written = os.write(self._fd, view)
            view = view[written:]
        if self.fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a torn write); return how many bytes were removed."""
    removed = repair_tail(path)
    if removed:
        warnings.warn(f"{path}: removed a torn last line ({removed} bytes)", stacklevel=3)
    return removed


def iter_trajectories(
    path: str | Path, *, truncated: Literal["warn", "error", "ignore"] = "warn"
) -> Iterator[Trajectory]:
    """Yield validated trajectories; a torn last line is skipped with a warning (or raises, or is ignored).

    Raises ``TrajectoryFormatError`` naming the file, line and field (``common.jsonl.read_jsonl``).
    """

    def torn(msg: str) -> None:
        if truncated == "error":
            raise TrajectoryFormatError(msg)
        if truncated == "warn":
            warnings.warn(msg, stacklevel=4)

    try:
        for _, traj in read_jsonl(Path(path), Trajectory, on_torn_tail=torn):
            yield traj
    except JsonlError as exc:
        raise TrajectoryFormatError(str(exc)) from exc


def read_trajectories(
    path: str | Path, *, truncated: Literal["warn", "error", "ignore"] = "warn"
) -> list[Trajectory]:
    """All trajectories in a JSONL file, validated; errors name the file, line and field."""
    return list(iter_trajectories(path, truncated=truncated))
