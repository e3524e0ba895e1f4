"""`agentdistill run`: a real 135M episode printed as a trace; bad options give clear errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agentdistill.agent import read_trajectories
from agentdistill.cli.main import app

runner = CliRunner()


def test_run_prints_trace_and_saves(tiny_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "traj.jsonl"
    result = runner.invoke(
        app,
        [
            "run",
            "What is 6 times 7?",
            "--model",
            f"llamacpp:{tiny_gguf}",
            "--kind",
            "math",
            "--retriever",
            "none",
            "--max-steps",
            "1",
            "--max-tokens",
            "48",
            "--save",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Step 1/1" in result.output and "Thought:" in result.output and "Observation" in result.output
    assert ("Final answer" in result.output) or ("No answer within 1 steps" in result.output)
    [traj] = read_trajectories(out)
    assert traj.task.question == "What is 6 times 7?" and len([s for s in traj.steps if not s.forced]) == 1
    assert traj.totals.steps == 1  # a forced final-answer turn after max_steps is marked, not an agent step
    assert traj.forced_final_answer == any(s.forced for s in traj.steps)


def test_run_rejects_bad_options() -> None:
    result = runner.invoke(app, ["run", "q", "--kind", "poetry"])
    assert result.exit_code != 0 and "--kind must be qa or math" in result.output
    result = runner.invoke(app, ["run", "q", "--prompt", "nosuch", "--retriever", "none"])
    assert result.exit_code != 0 and "neither a built-in" in result.output
