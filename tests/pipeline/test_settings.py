import json
from pathlib import Path

import pytest

from agentdistill.pipeline.runner import StaleOutputError, check_settings


def test_same_settings_resume_and_changed_settings_refused(tmp_path: Path) -> None:
    stage = tmp_path / "generate"
    check_settings(stage, {"teacher": "a", "samples": 1})
    (stage / "trajectories.jsonl").write_text("{}\n")
    check_settings(stage, {"samples": 1, "teacher": "a"})  # same settings, any key order: resume
    with pytest.raises(StaleOutputError, match=r"changed: samples"):
        check_settings(stage, {"teacher": "a", "samples": 2})
    assert (stage / "trajectories.jsonl").exists()  # nothing lost


def test_stale_eval_output_is_archived(tmp_path: Path) -> None:
    run = tmp_path / "eval" / "student"
    check_settings(run, {"trained": "h1"}, archive_stale=True)
    (run / "results.jsonl").write_text("old\n")
    check_settings(run, {"trained": "h2"}, archive_stale=True)
    assert not (run / "results.jsonl").exists()
    assert (tmp_path / "eval" / "student.stale-1" / "results.jsonl").read_text() == "old\n"


def test_a_renamed_setting_alone_does_not_make_output_stale(tmp_path: Path) -> None:
    """Workdirs stamped before `sag` became `sag_n` resume; a changed value is still refused."""
    stage = tmp_path / "generate"
    stage.mkdir()
    (stage / "settings.json").write_text('{"teacher": "a", "sag": 1}')
    check_settings(stage, {"teacher": "a", "sag_n": 1})
    (stage / "settings.json").write_text('{"teacher": "a", "sag": 1}')
    with pytest.raises(StaleOutputError, match=r"changed: sag_n"):
        check_settings(stage, {"teacher": "a", "sag_n": 4})


def test_a_setting_added_since_the_stamp_changes_nothing_at_its_default(tmp_path: Path) -> None:
    """Output stamped before a setting existed resumes while the setting holds its default (the behaviour from
    before it existed); any other value is a change. Nested settings (an eval row's) alike."""
    stage = tmp_path / "generate"
    stage.mkdir()
    old = {"teacher": "a", "run": {"mode": "agent"}}
    defaults = {"samples": 1, "run": {"rag": False}}
    (stage / "settings.json").write_text(json.dumps(old))
    check_settings(
        stage, {"teacher": "a", "samples": 1, "run": {"mode": "agent", "rag": False}}, defaults=defaults
    )
    assert json.loads((stage / "settings.json").read_text())["samples"] == 1  # the stamp now names it
    (stage / "settings.json").write_text(json.dumps(old))
    with pytest.raises(StaleOutputError, match=r"\(changed: samples\)"):
        check_settings(
            stage, {"teacher": "a", "samples": 4, "run": {"mode": "agent", "rag": False}}, defaults=defaults
        )
    with pytest.raises(StaleOutputError, match=r"\(changed: run\)"):
        check_settings(
            stage, {"teacher": "a", "samples": 1, "run": {"mode": "agent", "rag": True}}, defaults=defaults
        )
    with pytest.raises(
        StaleOutputError, match=r"\(changed: samples\)"
    ):  # a setting without a declared default
        check_settings(stage, {"teacher": "a", "samples": 1, "run": {"mode": "agent"}})
