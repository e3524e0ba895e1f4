"""The report over runs made by the real eval stage with the real 135M model (no hand-written records)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdistill.data.task import Task
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.report import write_report
from agentdistill.evaluate.report_table import results_table

TASKS = [
    Task(
        id="g1",
        dataset="gsm8k",
        kind="math",
        answer="7",
        question="Tom has 3 apples and buys 4 more. How many apples does he have?",
    ),
    Task(id="q1", dataset="hotpotqa", kind="qa", answer="Paris", question="What is the capital of France?"),
]


@pytest.fixture(scope="module")
def llm(tiny_gguf: Path):
    from agentdistill.models.loading import load_llm

    model = load_llm(f"llamacpp:{tiny_gguf}", n_ctx=2048, n_threads=2)
    yield model
    model.close()


def _check(run_dirs: list[Path], out: Path) -> str:
    runs = [load_run(d) for d in run_dirs]
    assert not [w for r in runs for w in r.warnings]  # summary.json agrees with results.jsonl
    table = results_table(runs)
    assert [c.name for c in table.columns] == ["hotpotqa", "gsm8k", "Avg"]
    for run, row in zip(runs, table.rows, strict=True):
        for name in ("hotpotqa", "gsm8k"):
            expected = (
                100.0 * sum(r.grade.correct for r in run.records_for(name)) / len(run.records_for(name))
            )
            assert row.accuracy[name] == pytest.approx(expected)
        assert row.accuracy["Avg"] == pytest.approx((row.accuracy["hotpotqa"] + row.accuracy["gsm8k"]) / 2)
    html = write_report(runs, out, "real runs").html.read_text()
    assert html.count('class="item"') == 2 * len(runs)
    return html


def test_report_over_real_cot_run(llm, tmp_path: Path) -> None:
    from agentdistill.evaluate.run import EvalSettings, evaluate

    evaluate(TASKS, llm, tmp_path / "cot", EvalSettings(label="Student CoT", mode="cot", max_tokens=64))
    html = _check([tmp_path / "cot"], tmp_path / "out")
    assert "Chain of thought" in html


def test_report_over_real_sag_run(llm, tmp_path: Path) -> None:
    from agentdistill.evaluate.run import EvalSettings, evaluate

    evaluate(TASKS, llm, tmp_path / "sag", EvalSettings(label="+ SAG", sag_n=2, max_steps=1, max_tokens=64))
    html = _check([tmp_path / "sag"], tmp_path / "out")
    assert "Step 1" in html and "SAG: 2 candidates" in html
