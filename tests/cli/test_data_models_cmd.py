"""`agentdistill data` and `models` through the real app: full names when piped, one-line errors."""

from __future__ import annotations

from pathlib import Path

from agentdistill.data.catalog import SPECS
from agentdistill.models.registry import MODELS

from .helpers import assert_one_line_error, run_cli


def test_data_list_never_cuts_names_when_piped() -> None:
    r = run_cli("data", "list")
    assert r.code == 0
    for name in SPECS:
        assert any(
            line.split("│")[1:2] and line.split("│")[1].strip() == name for line in r.stdout.splitlines()
        ), name
    assert "…" not in r.stdout


def test_data_show_prints_tasks() -> None:
    r = run_cli("data", "show", "gsm8k-train", "-n", "1")
    assert r.code == 0 and "gsm8k-train" in r.stdout and "answer:" in r.stdout


def test_data_show_unknown_set_is_one_line() -> None:
    assert_one_line_error(
        run_cli("data", "show", "gsm8k-trian"), "unknown task set 'gsm8k-trian'", "gsm8k-train"
    )


def test_data_show_truncated_file_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text('{"id": "a", "question": "q", "answer": "1"}\n{"id": "b", "quest')
    assert_one_line_error(run_cli("data", "show", str(p)), f"{p}:2", "invalid JSON")


def test_models_list_shows_every_model_in_full() -> None:
    r = run_cli("models", "list")
    assert r.code == 0
    for name, spec in MODELS.items():
        assert name in r.stdout and spec.description in r.stdout
    assert "…" not in r.stdout.replace("… (", "")  # the package column's own "first … (n)" is not a cut


def test_models_path_of_cached_model(tiny_gguf: Path) -> None:
    r = run_cli("models", "path", "smollm2-135m")
    assert r.code == 0 and r.stdout.strip() == str(tiny_gguf)


def test_models_unknown_name_is_one_line() -> None:
    assert_one_line_error(run_cli("models", "path", "smollm3-135m"), "smollm3-135m")
