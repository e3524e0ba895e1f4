"""Records that cross the sandbox boundary."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

UNSAFE_ENV = "AGENTDISTILL_UNSAFE_NO_SANDBOX"  # "1": SandboxConfig() defaults to unsafe_no_sandbox=True
ErrorKind = Literal["syntax", "exception", "timeout", "memory", "killed", "import", "output"]


@dataclass(frozen=True)
class SandboxConfig:
    """Limits of one episode. Kernel-enforced: memory, processes, files, CPU, scratch size (rlimits, tmpfs);
    host-enforced per step: wall time (tool time included), tool calls, query size, output, final answer size.

    ``unsafe_no_sandbox=True`` runs the worker without bubblewrap, namespaces and seccomp (only the rlimits and
    the Python guards): for machines where the kernel refuses user namespaces and the user accepts the risk.
    Without it, a layer the kernel refuses is a ``SandboxStartError`` (never a silent unconfined run). Its
    default is taken from ``$AGENTDISTILL_UNSAFE_NO_SANDBOX=1``, which the CLI's ``--unsafe-no-sandbox`` sets.
    """

    cpu_seconds: int = 10  # per step (soft RLIMIT_CPU -> a clean "CPU time limit" error)
    wall_seconds: float = 20.0  # per step, host tool time included
    memory_mb: int = 2048  # RLIMIT_AS per process
    # extra processes the code may have at once (0: none) beyond the SAG fork headroom; they end with their step
    max_processes: int = 0
    max_open_files: int = 64
    max_file_mb: int = 16  # RLIMIT_FSIZE
    output_chars: int = 4000  # observation budget; longer output is truncated with a marker
    imports: str | tuple[str, ...] = "default"  # a preset name ("default", "math", "qa") or module names
    scratch_mb: int = 64  # the episode's private tmpfs (all its files, forks' copies included)
    # resident memory and tmpfs pages of all the episode's processes together (never below memory_mb); enforced by
    # a memory cgroup when the host runs as root and the kernel has one (Sandbox.isolation["memory_cgroup"])
    episode_memory_mb: int = 4096
    episode_cpu_seconds: int = 600  # hard RLIMIT_CPU of each worker process
    max_tool_calls: int = 32  # per step; later calls fail with a clear error
    max_tool_arg_chars: int = 4000  # JSON size of one tool call's arguments (e.g. a search query)
    max_final_answer_chars: int = 100_000  # JSON size of the final answer payload
    unsafe_no_sandbox: bool = field(default_factory=lambda: os.environ.get(UNSAFE_ENV) == "1")


@dataclass
class ExecError:
    kind: ErrorKind
    type: str  # e.g. "ZeroDivisionError"
    message: str
    line: int | None = None  # line number in the model's code
    text: str | None = None  # the offending source line


@dataclass
class ExecResult:
    """One step's outcome.

    ``final_answer`` (with ``has_final_answer``) is the *first* ``final_answer(...)`` of the step. Plain JSON values
    (None, bool, int, finite float, str, lists / str-keyed dicts of them; numpy scalars and arrays become these)
    arrive unchanged. Any other value arrives as a typed payload, a dict with a string ``type`` and string forms::

        {"type": "sympy", "text": "pi/2", "python": "pi/2", "latex": "\\frac{\\pi}{2}"}
        {"type": "rational", "exact": "1/3", "text": "1/3", "latex": "\\frac{1}{3}", "python": "Fraction(1, 3)",
         "numerator": 1, "denominator": 3}                        # Fraction or sympy.Rational
        {"type": "decimal", "exact": "0.10", "text": "0.10", "python": "Decimal('0.10')"}
        {"type": "float", "text": "nan", "python": "float('nan')"}                 # nan, inf, -inf
        {"type": "complex", "text": "(1+2j)", "python": "(1+2j)", "real": 1.0, "imag": 2.0}
        {"type": "tuple" | "set", "items": [...encoded items...], "text": "(1, 2)"}
        {"type": "dict", "items": [[key, value], ...], "text": "..."}             # non-string keys
        {"type": "repr", "repr": "...", "text": "..."}                             # anything else

    sympy Integers become int, sympy Floats float. ``grading.types.is_payload`` / ``payload_text`` read them;
    ``final_answer_text`` is the one-line form shown to people (``_answer.describe``).
    """

    stdout: str = ""
    error: ExecError | None = None
    final_answer: Any = (
        None  # plain JSON value, or a typed payload dict (sandbox/_answer.py): {"type", "text", ...}
    )
    has_final_answer: bool = False
    final_answer_text: str | None = None  # what was sent, for people: "pi/2 (sympy; LaTeX \\frac{\\pi}{2})"
    observation: str = ""  # what the model sees next: output + error, truncated to budget
    seconds: float = 0.0
    tool_calls: list[dict[str, Any]] = field(
        default_factory=list
    )  # [{"name", "args", "kwargs", "seconds", "error"?}]

    @property
    def ok(self) -> bool:
        return self.error is None
