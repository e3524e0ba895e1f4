"""Importing trajectories in the paper's released log format (fixtures/paper_log.jsonl: their record layout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.agent.paper_import import PaperLogError, iter_paper_log
from agentdistill.agent.records import read_trajectories

LOG = Path(__file__).parent / "fixtures" / "paper_log.jsonl"


def test_import_rebuilds_the_training_chat_and_steps() -> None:
    skipped: list[str] = []
    qa, math = list(iter_paper_log(LOG, skipped=skipped))
    assert skipped == [f"{LOG}:3"]  # the crashed run (log_data null) has no trajectory
    # tool-call messages dropped, tool responses are user turns
    assert [m["role"] for m in qa.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert (
        qa.messages[1]["content"].startswith("New task:\nWhich actress")
        and "IMPORTANT:" in qa.messages[1]["content"]
    )
    assert qa.messages[3]["content"].startswith("Call id: call_1\nObservation:\nExecution logs:\n")
    assert qa.task.question == "Which actress played Corliss Archer in the film Kiss and Tell?"
    assert qa.task.kind == "qa" and qa.task.answer == "Shirley Temple" and qa.task.dataset == "paper_log"
    assert qa.status == "answered" and qa.final_answer == "Shirley Temple" and qa.correct is True
    assert (
        len(qa.steps) == 2
        and qa.steps[0].code.startswith("results = web_search(")
        and qa.steps[0].error_kind is None
    )
    assert qa.steps[1].has_final_answer and qa.steps[0].observation == qa.messages[3]["content"]
    assert qa.settings["search_tool"] == "web_search" and qa.settings["prompt"] == "paper"
    assert qa.settings["answer_format"] is True  # a line follows the question, whatever its wording
    # MessageRole.X spellings, log_data as a JSON string, an execution error, the forced answer after max steps
    assert [m["role"] for m in math.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert math.task.kind == "math" and math.correct is False
    assert math.steps[0].error_kind == "exception" and math.steps[1].error_kind is None
    assert math.forced_final_answer is True and math.status == "max_steps" and math.final_answer is None


def test_cli_writes_trajectory_jsonl(tmp_path: Path) -> None:
    from agentdistill.cli.main import app

    out = tmp_path / "t.jsonl"
    result = CliRunner().invoke(app, ["import-paper", str(LOG), "--out", str(out), "--dataset", "paper-2k"])
    assert result.exit_code == 0, result.output
    assert "imported 2 trajectories (1 graded correct, 1 forced final answers)" in result.output
    assert "skipped 1 crashed run" in result.output
    trajs = read_trajectories(out)
    assert [t.task.dataset for t in trajs] == ["paper-2k", "paper-2k"] and trajs[0].correct is True


def test_bad_record_names_file_line_and_field(tmp_path: Path) -> None:
    from agentdistill.cli.main import app

    lines = LOG.read_text().splitlines()
    bad = json.loads(lines[0])
    bad["log_data"]["messages"][2]["role"] = "robot"
    path = tmp_path / "bad.jsonl"
    path.write_text(lines[1] + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(
        PaperLogError, match=r"bad.jsonl:2: field 'log_data.messages.2': unknown role 'robot'"
    ):
        list(iter_paper_log(path))
    result = CliRunner().invoke(app, ["import-paper", str(path), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1 and "bad.jsonl:2" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_imported_trajectories_filter_and_train_in_the_paper_format(tmp_path: Path) -> None:
    from agentdistill.agent.prompts import load_prompt
    from agentdistill.agent.records import TrajectoryWriter
    from agentdistill.distill.filter import filter_trajectories
    from agentdistill.distill.sft import records_to_sft

    imported = tmp_path / "imported.jsonl"
    with TrajectoryWriter(imported, fsync=False) as writer:
        for traj in iter_paper_log(LOG, skipped=[]):
            writer.write(traj)
    kept = tmp_path / "kept.jsonl"
    filter_trajectories(imported, kept)
    assert [t.task.kind for t in read_trajectories(kept)] == ["qa"]  # the math one is wrong and forced
    examples, skipped = records_to_sft(imported, student_prompt="paper")
    assert skipped["forced_final_answer"] == 1 and len(examples) == 1
    chat = examples[0]
    assert chat[0]["content"] == load_prompt("paper").render(kind="qa", search=True, max_steps=2, k=3)
    assert "- web_search: " in chat[0]["content"] and chat[1]["content"].startswith("New task:\n")
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant"]
    assert chat[2]["content"].endswith("```<end_code>") and chat[3]["content"].startswith("Call id: call_1\n")
