"""`--unsafe-no-sandbox`: the only way the CLI runs model code without the kernel sandbox, and it says so."""

from __future__ import annotations

from typer.testing import CliRunner

from agentdistill.cli.main import app
from agentdistill.sandbox import Sandbox
from agentdistill.sandbox.types import UNSAFE_ENV, SandboxConfig


def test_flag_switches_the_default_and_warns(monkeypatch) -> None:
    monkeypatch.setenv(UNSAFE_ENV, "0")  # recorded, so the flag's "1" is undone after the test
    assert SandboxConfig().unsafe_no_sandbox is False  # the default is the kernel sandbox
    result = CliRunner().invoke(app, ["data", "list"])
    assert result.exit_code == 0 and "without the kernel sandbox" not in result.output
    assert SandboxConfig().unsafe_no_sandbox is False
    result = CliRunner().invoke(app, ["--unsafe-no-sandbox", "data", "list"])
    assert result.exit_code == 0, result.output
    assert "warning: --unsafe-no-sandbox" in result.output
    assert SandboxConfig().unsafe_no_sandbox is True  # what run_episode's sandboxes are built with
    with Sandbox() as sb:
        assert sb.isolation["bubblewrap"] is False and sb.isolation["seccomp"] is False
        assert sb.run("final_answer(6 * 7)").final_answer == 42


def test_the_flag_does_not_leak_into_later_tests() -> None:
    assert SandboxConfig().unsafe_no_sandbox is False
