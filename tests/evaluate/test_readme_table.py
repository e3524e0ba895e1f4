"""The README's demo table is exactly what scripts/readme_table.py writes from the committed summaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_readme_table_comes_from_results_files() -> None:
    mod = load_script("scripts/readme_table.py")
    block = mod.table_text(ROOT / "results" / "demo")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"{mod.START}\n{block}{mod.END}" in readme
    assert (ROOT / "results" / "demo" / "table.md").read_text(encoding="utf-8") == block
    assert "(n=15)" in block and "40.0 [19.8, 64.3]" in block  # teacher on gsm-hard-500: 6 of 15


def test_script_rewrites_between_markers_and_refuses_bad_readme(tmp_path: Path) -> None:
    import shutil

    mod = load_script("scripts/readme_table.py")
    demo = tmp_path / "demo"
    demo.mkdir()
    for path in (ROOT / "results" / "demo").glob("eval_*.json"):
        shutil.copy(path, demo / path.name)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{mod.START}\nold table\n{mod.END}\noutro\n")
    assert mod.main(["--demo", str(demo), "--readme", str(readme)]) == 0
    assert (demo / "table.md").read_text() == mod.table_text(ROOT / "results" / "demo")
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith(f"{mod.END}\noutro\n")
    readme.write_text("no markers\n")
    assert mod.main(["--demo", str(demo), "--readme", str(readme)]) == 1
    with pytest.raises(ValueError, match="needs exactly one"):
        mod.replace_between_markers("x", "y", readme)


def test_report_mode_copies_the_reports_table_and_paired_tests(tmp_path: Path) -> None:
    mod = load_script("scripts/readme_table.py")
    report = ROOT / "results" / "demo" / "report.md"  # a report publish_run committed
    block = mod.report_text(report)
    text = report.read_text(encoding="utf-8")
    accuracy = text.split("## Accuracy (%)\n", 1)[1].split("\n## ", 1)[0].strip()
    paired = text.split("## Key comparisons (paired)\n", 1)[1].split("\n## ", 1)[0].strip()
    assert block.index("### Accuracy (%)") < block.index("### Key comparisons (paired)")
    assert accuracy in block and paired in block and "## Paired comparisons" not in block
    readmes = [tmp_path / "a.md", tmp_path / "b.md"]
    for r in readmes:
        r.write_text(f"top\n{mod.STUDY_START}\nold\n{mod.STUDY_END}\nend\n")
    assert mod.main(["--report", str(report), "--readme", *map(str, readmes)]) == 0
    for r in readmes:
        assert r.read_text() == f"top\n{mod.STUDY_START}\n{block}{mod.STUDY_END}\nend\n"
    with pytest.raises(ValueError, match="no section 'Nope'"):
        mod.report_text(report, ("Accuracy (%)", "Nope"))
    readmes[0].write_text(f"{mod.START}\n{mod.END}\n")  # the demo's markers, not the study's
    assert mod.main(["--report", str(report), "--readme", str(readmes[0])]) == 1


def test_the_study_readmes_show_the_published_report() -> None:
    """Both READMEs carry the published study report's table and paired tests, every row of the config."""
    from agentdistill.pipeline.config import load_config

    mod = load_script("scripts/readme_table.py")
    block = mod.report_text(ROOT / "results" / "study" / "report.md")
    for readme in (ROOT / "README.md", ROOT / "results" / "study" / "README.md"):
        assert f"{mod.STUDY_START}\n{block}{mod.STUDY_END}" in readme.read_text(encoding="utf-8"), readme
    assert "From `results/study/report.md`" in block
    table = block.split("### Accuracy (%)", 1)[1].split("###", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ")]
    header, body = rows[0], rows[1:]
    assert [r[2].strip() for r in body] == [r.label for r in load_config("study").eval.runs]
    sets = [f"{s.set} (n={s.limit})" for s in load_config("study").eval.sets]
    assert all(s in [h.strip() for h in header] for s in sets) and "Avg (n=200)" in header[-2]
    # the paired test the study exists for, on all 200 questions
    assert "| All (pooled) | Student agent-distilled | Student CoT-distilled | 200 |" in block
