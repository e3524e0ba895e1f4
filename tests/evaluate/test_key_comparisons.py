"""Key comparisons (evaluate/compare.py): paired tests of A − B pooled per domain and overall, over two runs
made by the real eval runner (real loop and sandbox, scripted answers: ReplayLLM), in the report, the pipeline
config and the `report` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentdistill.agent.replay import ReplayLLM
from agentdistill.cli.main import app
from agentdistill.data.task import Task
from agentdistill.evaluate.compare import key_comparisons, parse_pair
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.report import write_report
from agentdistill.evaluate.run import evaluate
from agentdistill.evaluate.settings import EvalSettings
from agentdistill.pipeline.config import ConfigError, load_config

F = "```"
TASKS = [
    *(
        Task(id=f"h{i}", dataset="hotpotqa", kind="qa", question=f"Capital {i}?", answer="Paris")
        for i in range(3)
    ),
    *(Task(id=f"w{i}", dataset="2wiki", kind="qa", question=f"City {i}?", answer="Paris") for i in range(2)),
    *(
        Task(id=f"m{i}", dataset="gsm8k", kind="math", question=f"What is {i} + 4?", answer=str(i + 4))
        for i in range(3)
    ),
]
# per task, in TASKS order: does the run answer right?
RIGHT = {"A": [1, 1, 0, 1, 0, 1, 0, 0], "B": [0, 1, 0, 0, 0, 1, 1, 0]}


def _answer(task: Task, right: int) -> str:
    value = (task.answer if right else "Lyon") if task.kind == "qa" else (task.answer if right else "999")
    return f"Thought: done.\nCode:\n{F}py\nfinal_answer({value!r})\n{F}<end_code>"


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("key")
    dirs = []
    for label, right in RIGHT.items():
        script = [_answer(t, r) for t, r in zip(TASKS, right, strict=True)]
        evaluate(TASKS, ReplayLLM(script), root / label, EvalSettings(label=label, max_steps=1))
        dirs.append(root / label)
    return dirs


def test_pooled_per_domain_and_overall(run_dirs: list[Path]) -> None:
    rows = key_comparisons([load_run(d) for d in run_dirs], [("A", "B")])
    got = {r.set_name: r.comparison for r in rows}
    assert list(got) == ["QA (pooled)", "Math (pooled)", "All (pooled)"]
    qa, math, both = got["QA (pooled)"], got["Math (pooled)"], got["All (pooled)"]
    assert (qa.n, qa.accuracy_a, qa.accuracy_b, qa.only_a, qa.only_b) == (5, 0.6, 0.2, 2, 0)
    assert qa.diff == pytest.approx(0.4) and qa.p_value == pytest.approx(0.5)  # exact McNemar, 2 vs 0
    assert (math.n, math.only_a, math.only_b) == (3, 0, 1) and math.diff == pytest.approx(-1 / 3)
    assert (both.n, both.only_a, both.only_b, both.p_value) == (8, 2, 1, pytest.approx(1.0))
    assert both.diff_low <= both.diff <= both.diff_high


def test_report_leads_with_them_and_names_a_wrong_label(run_dirs: list[Path], tmp_path: Path) -> None:
    runs = [load_run(d) for d in run_dirs]
    write_report(runs, tmp_path, chart=False, comparisons=[parse_pair("A vs B")])
    md = (tmp_path / "report.md").read_text()
    key = md.split("## Key comparisons (paired)", 1)[1].split("## Paired comparisons", 1)[0]
    assert "| QA (pooled) | A | B | 5 | 60.0 | 20.0 | +40.0" in key
    with pytest.raises(ValueError, match="'C'"):
        write_report(runs, tmp_path, chart=False, comparisons=[("A", "C")])


def test_pair_syntax_and_config_labels_are_checked() -> None:
    assert parse_pair(" Student agent-distilled vs Student CoT-distilled ") == (
        "Student agent-distilled",
        "Student CoT-distilled",
    )
    with pytest.raises(ValueError, match="LABEL A vs LABEL B"):
        parse_pair("Student agent-distilled versus CoT")
    with pytest.raises(ConfigError, match="Student CoT-distiled"):
        load_config("study", {"compare": ["Student agent-distilled vs Student CoT-distiled"]})


def test_report_command_compare(run_dirs: list[Path], tmp_path: Path) -> None:
    cli = CliRunner()
    bad = cli.invoke(
        app, ["report", *map(str, run_dirs), "--out", str(tmp_path / "r"), "--compare", "A vs Z"]
    )
    assert bad.exit_code == 2 and "'Z'" in bad.output and not (tmp_path / "r").exists()
    ok = cli.invoke(app, ["report", *map(str, run_dirs), "--out", str(tmp_path / "r"), "--compare", "B vs A"])
    assert ok.exit_code == 0, ok.output
    assert "| All (pooled) | B | A | 8 | 37.5 | 50.0 | -12.5" in (tmp_path / "r" / "report.md").read_text()


def test_a_label_two_runs_share_is_refused(run_dirs: list[Path]) -> None:
    a, b = (load_run(d) for d in run_dirs)
    with pytest.raises(ValueError, match="more than one run"):
        key_comparisons([a, load_run(run_dirs[0]), b], [("A", "B")])


def test_pipeline_report_part_way_leaves_out_pairs_without_results(
    run_dirs: list[Path], tmp_path: Path
) -> None:
    """`--stages report` before every row has run: the pairs it can make lead the report, the rest wait."""
    import shutil

    from agentdistill.pipeline.runner import run_pipeline

    rows = [{"label": x, "model": "student"} for x in ("A", "B", "C")]
    cfg = load_config(
        "smoke", {"workdir": str(tmp_path / "w"), "eval.runs": rows, "compare": ["A vs B", "A vs C"]}
    )
    for d in run_dirs:
        shutil.copytree(d, tmp_path / "w" / "eval" / d.name)
    run_pipeline(cfg, ("report",))
    md = (tmp_path / "w" / "report" / "report.md").read_text()
    key = md.split("## Key comparisons (paired)", 1)[1].split("## Paired comparisons", 1)[0]
    assert "| All (pooled) | A | B | 8 |" in key and "| C |" not in key
    assert "Key comparisons (paired)" in (tmp_path / "w" / "report" / "report.html").read_text()


def test_pipeline_report_from_disk_keeps_the_configs_row_order(run_dirs: list[Path], tmp_path: Path) -> None:
    """`--stages report` reads the rows from their folders: in the config's order, not alphabetical."""
    import shutil

    from agentdistill.pipeline.runner import run_pipeline

    rows = [{"label": x, "model": "student"} for x in ("B", "A")]
    cfg = load_config("smoke", {"workdir": str(tmp_path / "w"), "eval.runs": rows, "compare": []})
    for d in run_dirs:
        shutil.copytree(d, tmp_path / "w" / "eval" / d.name.lower())  # the pipeline's folder names (slugs)
    run_pipeline(cfg, ("report",))
    md = (tmp_path / "w" / "report" / "report.md").read_text()
    table = md.split("## Accuracy (%)", 1)[1].split("\n## ", 1)[0]
    assert 0 < table.index(" | B | ") < table.index(" | A | ")
