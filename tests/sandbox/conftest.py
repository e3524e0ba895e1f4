"""Sandbox fixtures: small limits so adversarial cases end quickly."""

from __future__ import annotations

import pytest

from agentdistill.sandbox import Sandbox, SandboxConfig

FAST = SandboxConfig(cpu_seconds=1, wall_seconds=8.0, memory_mb=1024, max_open_files=32, max_file_mb=4,
                     output_chars=2000)


@pytest.fixture
def sandbox():
    with Sandbox(config=FAST) as sb:
        yield sb
