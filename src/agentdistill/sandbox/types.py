"""Records that cross the sandbox boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ErrorKind = Literal["syntax", "exception", "timeout", "memory", "killed", "import", "output"]


@dataclass(frozen=True)
class SandboxConfig:
    """Per-step limits; each is enforced by the OS in the worker process."""

    cpu_seconds: int = 10
    wall_seconds: float = 20.0
    memory_mb: int = 2048
    max_processes: int = 0  # extra processes the worker may create (0: none)
    max_open_files: int = 64
    max_file_mb: int = 16
    output_chars: int = 4000  # observation budget; longer output is truncated with a marker
    imports: str | tuple[str, ...] = "default"  # a preset name ("default", "math", "qa") or module names


@dataclass
class ExecError:
    kind: ErrorKind
    type: str  # e.g. "ZeroDivisionError"
    message: str
    line: int | None = None  # line number in the model's code
    text: str | None = None  # the offending source line


@dataclass
class ExecResult:
    stdout: str = ""
    error: ExecError | None = None
    final_answer: Any = None  # JSON-able value, or its repr() string
    has_final_answer: bool = False
    observation: str = ""  # what the model sees next: output + error, truncated to budget
    seconds: float = 0.0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "args", "seconds"}]

    @property
    def ok(self) -> bool:
        return self.error is None
