"""The rlimits of an episode worker, as (RLIMIT name, soft, hard) triples it applies to itself at start.

The worker sets them before it drops every capability, so model code can lower them but never raise a hard limit.
RLIMIT_NPROC counts processes per uid *per user namespace*: each episode family has its own user namespace, so the
cap is per episode (the family's init, the worker, its SAG forks and any processes the code starts).
"""

from __future__ import annotations

from .types import SandboxConfig

FORK_HEADROOM = 16  # extra processes per episode family for SAG forks
MB = 1024 * 1024
SIGPENDING = 64


def family_pids(cfg: SandboxConfig) -> int:
    """Processes one episode family may hold: its init, the worker, SAG forks, and ``max_processes``."""
    return 2 + FORK_HEADROOM + cfg.max_processes


def episode_memory_bytes(cfg: SandboxConfig) -> int:
    """The memory cgroup limit of one episode family, in bytes: ``episode_memory_mb``, never below ``memory_mb``."""
    return max(cfg.episode_memory_mb, cfg.memory_mb) * MB


def episode_limits(cfg: SandboxConfig, own_uid: bool = True) -> list[tuple[str, int, int]]:
    """``own_uid``: the family has a uid (or user namespace) of its own, so RLIMIT_NPROC counts only it."""
    limits = [
        ("RLIMIT_AS", cfg.memory_mb * MB, cfg.memory_mb * MB),
        ("RLIMIT_NOFILE", cfg.max_open_files, cfg.max_open_files),
        ("RLIMIT_FSIZE", cfg.max_file_mb * MB, cfg.max_file_mb * MB),
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_CPU", cfg.episode_cpu_seconds, cfg.episode_cpu_seconds),
        # queued signals count against the (host) user, which is host root when root starts the sandbox
        ("RLIMIT_SIGPENDING", SIGPENDING, SIGPENDING),
        ("RLIMIT_MSGQUEUE", 0, 0),
        # no real-time scheduling (SCHED_FIFO would starve the host) and no higher priority, whatever the host has
        ("RLIMIT_RTPRIO", 0, 0),
        ("RLIMIT_NICE", 0, 0),
    ]
    if own_uid:  # otherwise the count would include every host process of this uid
        n = family_pids(cfg)
        limits.append(("RLIMIT_NPROC", n, n))
    return limits


_POSITIVE = (
    "cpu_seconds",
    "wall_seconds",
    "memory_mb",
    "max_open_files",
    "max_file_mb",
    "output_chars",
    "scratch_mb",
    "episode_memory_mb",
    "episode_cpu_seconds",
    "max_tool_calls",
    "max_tool_arg_chars",
    "max_final_answer_chars",
)


def check_config(cfg: SandboxConfig) -> None:
    """Raise ``ValueError`` naming the first field of ``cfg`` that is not a valid limit."""
    for name in _POSITIVE:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"SandboxConfig.{name}: must be a positive number, got {value!r}")
    if isinstance(cfg.max_processes, bool) or not isinstance(cfg.max_processes, int) or cfg.max_processes < 0:
        raise ValueError(f"SandboxConfig.max_processes: must be an integer >= 0, got {cfg.max_processes!r}")
