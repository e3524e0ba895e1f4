"""The OS limits of an episode, as (RLIMIT name, value) pairs the worker applies before dropping privileges.

The host has no CAP_SYS_RESOURCE here (prlimit on another uid fails), so the worker sets them itself in
its trusted window; once it has switched to its own uid it cannot raise a hard limit back.
"""

from __future__ import annotations

from .types import SandboxConfig

FORK_HEADROOM = 16  # extra processes per episode family for SAG forks (root only: the family has its own uid)
MB = 1024 * 1024


def episode_limits(cfg: SandboxConfig, root: bool) -> list[tuple[str, int]]:
    limits = [
        ("RLIMIT_AS", cfg.memory_mb * MB),
        ("RLIMIT_NOFILE", cfg.max_open_files),
        ("RLIMIT_FSIZE", cfg.max_file_mb * MB),
        ("RLIMIT_CORE", 0),
    ]
    if root:  # RLIMIT_NPROC counts processes per uid and is not enforced for root: the episode gets its own uid
        limits.append(("RLIMIT_NPROC", 1 + FORK_HEADROOM + cfg.max_processes))
    return limits
