"""`agentdistill report`: table values, Markdown/HTML output, escaping, self-containment, input errors.

Run directories are written by the test from the real record models (evaluate/records.py for results, the
agent's Trajectory model for trajectories), the way `agentdistill eval` writes them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agentdistill.agent.records import Candidate, Step, Totals, Trajectory
from agentdistill.data.task import Task
from agentdistill.evaluate.records import (
    ResultRecord,
    RunInputError,
    RunSummary,
    discover_run_dirs,
    load_run,
    summarize_records,
)
from agentdistill.evaluate.report import write_report
from agentdistill.evaluate.report_table import accuracy_markdown, f1_markdown, results_table
from agentdistill.evaluate.stats import mean_interval, score_interval, wilson
from agentdistill.grading.types import Grade

EVIL_CODE = 'x = "</pre><script>alert(1)</script>"\nprint(x)'

QA = [
    ("hq-1", "Which city is the birthplace of the director of Jaws?", "Cincinnati", ["Cincinnati, Ohio"]),
    ("hq-2", "Are Aurora and Solaris both films by the same director?", "no", []),
    ("hq-3", "What year did the band that recorded Hysteria form?", "1977", []),
]
MATH = [
    ("gsm-1", "Tom has 3 apples and buys 4 more. How many apples does he have?", "7"),
    ("gsm-2", "A train travels 60 km/h for 2.5 hours. How far does it go in km?", "150"),
]


def qa_task(i: int) -> Task:
    tid, q, a, aliases = QA[i]
    return Task(id=tid, dataset="hotpotqa", kind="qa", question=q, answer=a, aliases=aliases)


def math_task(i: int) -> Task:
    tid, q, a = MATH[i]
    return Task(id=tid, dataset="gsm8k", kind="math", question=q, answer=a)


def agent_trajectory(task: Task, model: str, answer: str, *, sag_n: int = 1, code: str | None = None) -> dict:
    code1 = code or f'print(search("{task.question[:40]}"))'
    step1 = Step(
        index=0,
        raw=f"Thought: I should look this up.\nCode:\n```py\n{code1}\n```",
        thought="I should look this up.",
        code=code1,
        observation="1. (Jaws) Jaws is a 1975 film directed by Steven Spielberg...",
        tokens=42,
        seconds=1.3,
    )
    if sag_n > 1:
        step1.n_candidates, step1.n_valid, step1.winner = 3, 2, 1
        key = json.dumps(["1. (Jaws) Jaws is a 1975 film...", None])
        step1.candidates = [
            Candidate(index=0, raw="Thought: hmm", thought="hmm", error_kind="no_code", valid=False),
            Candidate(
                index=1,
                raw="...",
                code=code1,
                observation="1. (Jaws)",
                valid=True,
                vote_key=key,
                group_size=2,
            ),
            Candidate(
                index=2,
                raw="...",
                code=code1,
                observation="1. (Jaws)",
                valid=True,
                vote_key=key,
                group_size=2,
                shared_execution_with=1,
            ),
        ]
    step2 = Step(
        index=1,
        raw=f"Thought: Done.\nCode:\n```py\nfinal_answer({answer!r})\n```",
        thought="Done.",
        code=f"final_answer({answer!r})",
        observation="",
        final_answer=answer,
        has_final_answer=True,
        tokens=20,
        seconds=0.6,
    )
    traj = Trajectory(
        task=task,
        model=model,
        steps=[step1, step2],
        final_answer=answer,
        status="answered",
        totals=Totals(steps=2, completion_tokens=62, seconds=1.9),
    )
    return traj.model_dump(mode="json")


def record(
    task: Task,
    model: str,
    prediction: str | None,
    correct: bool,
    *,
    mode: str = "agent",
    sag_n: int = 1,
    code: str | None = None,
) -> ResultRecord:
    traj = (
        agent_trajectory(task, model, prediction or "", sag_n=sag_n, code=code) if mode == "agent" else None
    )
    return ResultRecord(
        task=task,
        mode=mode,
        model=model,
        sag_n=sag_n,
        prediction=prediction,
        grade=Grade(
            correct=correct,
            em=float(correct),
            f1=1.0 if correct else 0.25,
            method="qa-em" if task.kind == "qa" else "math-verify",
        ),
        status="answered" if prediction is not None else "max_steps",
        steps=2 if mode == "agent" else 0,
        parse_errors=1 if sag_n == 1 and not correct else 0,
        tokens=62,
        seconds=1.9,
        trajectory=traj,
        cot_text="Jaws was directed by Spielberg, born in Cincinnati.\n\nAnswer: Cincinnati"
        if mode == "cot"
        else None,
    )


def write_run(
    root: Path, name: str, label: str, records: list[ResultRecord], *, summary: bool = True
) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    if summary:
        first = records[0]
        s = RunSummary(
            run_name=name,
            model=first.model,
            mode=first.mode,
            sag_n=first.sag_n,
            label=label,
            per_set=summarize_records(records),
        )
        # math first on purpose: the table must still put QA sets first
        s.per_set = dict(sorted(s.per_set.items(), key=lambda kv: kv[0] != "gsm8k"))
        (d / "summary.json").write_text(s.model_dump_json(indent=2))
    return d


def make_runs(root: Path) -> list[Path]:
    teacher, student = "qwen2.5-coder-1.5b", "smollm2-135m"
    t = [
        record(qa_task(0), teacher, "Cincinnati", True),
        record(qa_task(1), teacher, "no", True),
        record(qa_task(2), teacher, "1976", False, code=EVIL_CODE),
        record(math_task(0), teacher, "7", True),
        record(math_task(1), teacher, "120", False),
    ]
    cot = [
        record(qa_task(i), student, p, c, mode="cot")
        for i, (p, c) in enumerate([("Cincinnati", True), ("yes", False), (None, False)])
    ]
    cot += [
        record(math_task(0), student, "7", True, mode="cot"),
        record(math_task(1), student, "150", True, mode="cot"),
    ]
    sag = [
        record(qa_task(0), student, "Cincinnati", True, sag_n=8),
        record(qa_task(1), student, "yes", False, sag_n=8),
        record(qa_task(2), student, "1977", True, sag_n=8),
        record(math_task(0), student, "7", True, sag_n=8),
        record(math_task(1), student, "150", True, sag_n=8),
    ]
    return [
        write_run(root, "teacher", "Teacher (agent)", t),
        write_run(root, "student-cot", "Student CoT", cot),
        write_run(root, "student-sag", "+ SAG", sag),
    ]


@pytest.fixture
def run_dirs(tmp_path: Path) -> list[Path]:
    return make_runs(tmp_path / "runs")


def test_table_values_layout_and_grouping(run_dirs: list[Path]) -> None:
    table = results_table([load_run(d) for d in run_dirs])
    # QA first; one set per domain: no domain average, the overall Avg over both
    assert [c.name for c in table.columns] == ["hotpotqa", "gsm8k", "Avg"]
    assert round(table.value("Teacher (agent)", "hotpotqa"), 1) == 66.7
    assert table.value("Teacher (agent)", "gsm8k") == 50.0
    assert round(table.value("Student CoT", "hotpotqa"), 1) == 33.3
    assert table.value("+ SAG", "gsm8k") == 100.0
    assert [(m, [r.label for r in rows]) for m, rows in table.groups()] == [
        ("qwen2.5-coder-1.5b", ["Teacher (agent)"]),
        ("smollm2-135m", ["Student CoT", "+ SAG"]),
    ]
    f1 = {r.label: r.f1 for r in table.rows}
    assert round(f1["Teacher (agent)"]["hotpotqa"], 1) == 75.0  # (1 + 1 + 0.25) / 3
    assert f1["Teacher (agent)"]["gsm8k"] is None
    low, high = score_interval(2.25, 3)  # the mean F1's interval, over the same 3 questions
    assert f"| 75.0 [{100 * low:.1f}, {100 * high:.1f}] |" in f1_markdown(table)
    md = accuracy_markdown(table)
    # every accuracy with its 95% Wilson interval; n in the header (same n in every row)
    assert "| Model | Method | hotpotqa (n=3) | gsm8k (n=2) |" in md
    assert "| qwen2.5-coder-1.5b | Teacher (agent) | 66.7 [20.8, 93.9] | 50.0 [9.5, 90.5] |" in md
    assert "|  | + SAG | 66.7 [20.8, 93.9] | 100.0 [34.2, 100.0] |" in md  # model named once per group


def test_domain_averages_when_two_sets_per_domain(tmp_path: Path) -> None:
    recs = [record(qa_task(0), "m", "Cincinnati", True)]
    bam = Task(id="b1", dataset="bamboogle", kind="qa", question="q?", answer="a")
    recs.append(record(bam, "m", "b", False))
    table = results_table([load_run(write_run(tmp_path, "r", "Agent", recs))])
    assert [c.name for c in table.columns] == ["hotpotqa", "bamboogle", "QA avg"]
    assert table.value("Agent", "QA avg") == 50.0


def test_overall_average_over_every_set_when_both_domains(run_dirs: list[Path]) -> None:
    """The paper's headline "Avg": the unweighted mean over every test set (here QA hotpotqa n=3, math gsm8k
    n=2), its interval the MOVER interval of that mean, since the sets' n differ; none with one domain."""
    table = results_table([load_run(d) for d in run_dirs])
    assert [c.name for c in table.columns] == ["hotpotqa", "gsm8k", "Avg"]
    teacher = next(r for r in table.rows if r.label == "Teacher (agent)")
    assert teacher.accuracy["Avg"] == pytest.approx((200 / 3 + 50) / 2)  # 2 of 3 and 1 of 2
    assert teacher.interval["Avg"] == mean_interval([wilson(2, 3), wilson(1, 2)])
    assert teacher.f1["Avg"] is None  # F1 is QA's alone
    assert "| Avg (n=5) |" in accuracy_markdown(table).split("\n")[0]


def test_report_files_markdown_and_self_contained_html(run_dirs: list[Path], tmp_path: Path) -> None:
    runs = [load_run(d) for d in run_dirs]
    paths = write_report(runs, tmp_path / "out", "Demo report")
    md, html = paths.markdown.read_text(), paths.html.read_text()
    assert "# Demo report" in md and "F1 on QA sets" in md and "![Accuracy per test set](accuracy.png)" in md
    assert "| qwen2.5-coder-1.5b | Teacher (agent) | hotpotqa | 3 | 66.7 [20.8, 93.9] | 75.0 |" in md
    assert paths.chart is not None and paths.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # self-contained: no external src/href, no stylesheet links, the chart inline
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert "<link" not in html
    assert 'src="data:image/png;base64,' in html
    # values in the HTML table; bold marks the best of a model's rows (+ SAG 66.7 vs CoT 33.3 on hotpotqa)
    assert "<td>66.7 [20.8, 93.9]</td>" in html and "(n=3)" in html
    assert re.search(r'class="\s*best">66\.7 \[', html) and not re.search(r'class="\s*best">33\.3 ', html)
    assert "Paired comparisons" in html and "McNemar exact p" in html
    assert "2 / 3 correct (66.7%, 95% CI 20.8–93.9)" in html  # the viewer's per-set count


def test_intervals_paired_tests_and_error_bars(run_dirs: list[Path], tmp_path: Path) -> None:
    from matplotlib.container import BarContainer

    from agentdistill.evaluate.charts import accuracy_figure
    from agentdistill.evaluate.compare import paired_rows

    runs = [load_run(d) for d in run_dirs]
    table = results_table(runs)
    teacher = table.rows[0].interval["hotpotqa"]
    assert (teacher.k, teacher.n) == (2, 3) and round(100 * teacher.low, 1) == 20.8
    # + SAG vs Student CoT on hotpotqa: hq-1 right for both, hq-2 wrong for both, hq-3 right only with SAG
    rows = {(r.set_name, r.a, r.b): r.comparison for r in paired_rows(runs, ["hotpotqa", "gsm8k"])}
    sag_cot = rows[("hotpotqa", "+ SAG (smollm2-135m)", "Student CoT (smollm2-135m)")]
    assert (sag_cot.n, sag_cot.only_a, sag_cot.only_b) == (3, 1, 0) and sag_cot.p_value == 1.0
    assert sag_cot.diff == pytest.approx(1 / 3) and sag_cot.diff_low <= sag_cot.diff <= sag_cot.diff_high
    md = write_report(runs, tmp_path / "out", chart=False).markdown.read_text()
    assert "## Paired comparisons" in md
    assert "| hotpotqa | + SAG (smollm2-135m) | Student CoT (smollm2-135m) | 3 | 66.7 | 33.3 | +33.3 [" in md
    # the chart's error bars span the Wilson interval of each bar
    ax = accuracy_figure(table).axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    segments = bars[0].errorbar.lines[2][0].get_segments()
    assert [round(float(seg[0][1]), 1) for seg in segments] == [20.8, 9.5]
    assert [round(float(seg[1][1]), 1) for seg in segments] == [93.9, 90.5]
    assert "(n=3)" in ax.get_xticklabels()[0].get_text()


def test_model_code_is_escaped(run_dirs: list[Path], tmp_path: Path) -> None:
    html = write_report([load_run(run_dirs[0])], tmp_path / "out", chart=False).html.read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 1  # only the page's own filter script


def test_viewer_filter_sag_votes_and_cot(run_dirs: list[Path], tmp_path: Path) -> None:
    html = write_report([load_run(d) for d in run_dirs], tmp_path / "out", chart=False).html.read_text()
    for f in ("all", "correct", "incorrect"):
        assert f'data-filter="{f}"' in html
    assert html.count('data-correct="correct"') == 3 + 3 + 4
    assert html.count('data-correct="incorrect"') == 2 + 2 + 1
    assert (
        "winner</span>" in html and "group of 2" in html and "no_code" in html and "same code as #1" in html
    )
    assert "Jaws was directed by Spielberg" in html  # CoT text
    assert "Gold</dt><dd>Cincinnati" in html and "also: Cincinnati, Ohio" in html
    assert "At most 200 questions per run are embedded" in html


def test_trajectory_cap_is_applied_and_stated(run_dirs: list[Path], tmp_path: Path) -> None:
    html = write_report(
        [load_run(run_dirs[0])], tmp_path / "o", chart=False, max_trajectories=2
    ).html.read_text()
    # cap shared by two sets: one question each; shown 1 of 3 and 1 of 2
    assert "showing 1 of 3" in html and "showing 1 of 2" in html
    assert html.count('class="item"') == 2


def test_malformed_results_line_names_file_and_line(tmp_path: Path) -> None:
    d = write_run(tmp_path, "r", "Agent", [record(qa_task(0), "m", "x", False)])
    good = (d / "results.jsonl").read_text()
    (d / "results.jsonl").write_text(good + '{"task": {"id": "t"\n')
    with pytest.raises(RunInputError, match=r"results\.jsonl:2: invalid JSON"):
        load_run(d)
    bad = json.loads(good)
    del bad["grade"]
    (d / "results.jsonl").write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RunInputError, match=r"results\.jsonl:3: field 'grade': Field required"):
        load_run(d)
    (d / "results.jsonl").write_text(good)
    summary = json.loads((d / "summary.json").read_text())
    summary["per_set"]["hotpotqa"]["accuracy"] = 66.7  # percent instead of a fraction
    (d / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunInputError, match=r"summary\.json: field 'per_set\.hotpotqa\.accuracy'"):
        load_run(d)


def test_missing_summary_is_rebuilt_and_stale_summary_flagged(tmp_path: Path) -> None:
    recs = [record(qa_task(i), "m", "a", i == 0) for i in range(3)]
    run = load_run(write_run(tmp_path, "nosum", "", recs, summary=False))
    assert run.label == "Agent" and round(run.summary.per_set["hotpotqa"].accuracy * 100, 1) == 33.3
    assert any("no summary.json" in w for w in run.warnings)
    d = write_run(tmp_path, "stale", "Agent", recs)
    with open(d / "results.jsonl", "a") as fh:
        fh.write(record(math_task(0), "m", "7", True).model_dump_json() + "\n")
    run = load_run(d)
    assert any("'gsm8k' has records but is missing" in w for w in run.warnings)
    assert run.summary.per_set["gsm8k"].accuracy == 1.0
    assert discover_run_dirs([tmp_path]) == [tmp_path / "nosum", tmp_path / "stale"]
    archived = write_run(tmp_path, "nosum.stale-1", "", recs)  # set aside by the pipeline: not a current run
    assert discover_run_dirs([tmp_path]) == [tmp_path / "nosum", tmp_path / "stale"]
    assert discover_run_dirs([archived]) == [archived]  # named, it is read


def test_cli_prints_table_and_html_path(run_dirs: list[Path], tmp_path: Path) -> None:
    from agentdistill.cli import report_cmd

    app = typer.Typer()
    report_cmd.register(app)

    @app.callback()
    def _root() -> None:  # keep `report` as a named sub-command, like under the real root app
        pass

    out = tmp_path / "rep"
    res = CliRunner().invoke(app, ["report", str(run_dirs[0].parent), "--out", str(out), "--title", "T"])
    assert res.exit_code == 0, res.output
    assert "66.7 [20.8, 93.9]" in res.output and "Teacher (agent)" in res.output and "(n=3)" in res.output
    assert str(out / "report.html") in res.output.replace("\n", "")
    assert (out / "report.md").exists()
    (run_dirs[0] / "results.jsonl").write_text("not json\n")
    res = CliRunner().invoke(app, ["report", str(run_dirs[0]), "--out", str(out)])
    assert res.exit_code == 1
    assert "results.jsonl:1: invalid JSON" in res.output.replace("\n", "")


def test_cli_judge_table_shows_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    from agentdistill.cli.eval_cmd import print_judge_summary

    hq = {"n": 15, "em_accuracy": 0.4, "judge_accuracy": 0.6, "agreement": 0.8, "unparsed": 0, "judged": 10}
    print_judge_summary({"judge_model": "j", "per_set": {"hq": hq}})
    out = capsys.readouterr().out
    assert "40.0 [19.8, 64.3]" in out and "60.0 [35.7, 80.2]" in out and "EM [95% CI]" in out
    assert "80.0 [49.0, 94.3]" in out  # agreement over the 10 verdicts the judge gave, with its interval


def test_domain_average_over_unequal_n_has_an_interval_and_a_set_with_every_attempt_failed_is_missing(
    tmp_path: Path,
) -> None:
    """Two faults this guards: an average over sets of different n had no interval (and no n); a set whose
    every attempt failed (backend down) showed as 0.0 and was averaged in as 0."""
    bam = [Task(id=f"b{i}", dataset="bamboogle", kind="qa", question="q?", answer="a") for i in range(2)]
    recs = [
        record(qa_task(0), "m", "Cincinnati", True),
        record(bam[0], "m", "a", True),
        record(bam[1], "m", "b", False),
    ]
    table = results_table([load_run(write_run(tmp_path, "r", "Agent", recs))])
    avg = table.rows[0].interval["QA avg"]
    assert table.value("Agent", "QA avg") == 75.0 and avg is not None
    assert avg.n == 3 and avg.p == pytest.approx(0.75) and avg.low < 0.75 < avg.high
    assert avg == mean_interval([wilson(1, 1), wilson(1, 2)])
    assert "75.0 [" in accuracy_markdown(table)
    f1_low, f1_high = table.rows[0].f1_interval["QA avg"]  # the mean F1's MOVER interval too
    assert f1_low < table.rows[0].f1["QA avg"] < f1_high

    down = record(bam[0], "m", None, False).model_copy(
        update={"status": "error", "failure": "ConnectError: x"}
    )
    failed = [record(qa_task(0), "m", "Cincinnati", True), down]
    table = results_table([load_run(write_run(tmp_path, "f", "Agent", failed))])
    assert table.value("Agent", "bamboogle") is None and table.value("Agent", "QA avg") is None
    assert accuracy_markdown(table).split("\n")[-1].endswith("| 100.0 [20.7, 100.0] | – | – |")


def test_viewer_counts_the_tables_n_not_failed_attempts(tmp_path: Path) -> None:
    """The fault this guards: the viewer's "k / N correct" counted failed attempts (backend down) as wrong
    answers, contradicting the table's n and accuracy."""
    down = record(qa_task(1), "m", None, False).model_copy(
        update={"status": "error", "failure": "ConnectError: x"}
    )
    recs = [record(qa_task(0), "m", "Cincinnati", True), down, record(qa_task(2), "m", "1976", False)]
    run = load_run(write_run(tmp_path, "r", "Agent", recs))
    html = write_report([run], tmp_path / "out", chart=False).html.read_text()
    assert results_table([run]).rows[0].interval["hotpotqa"].n == 2
    assert "1 / 2 correct (50.0%" in html and "1 failed (not scored)" in html


def test_a_summary_from_before_the_f1_interval_gets_it_from_the_records(tmp_path: Path) -> None:
    recs = [record(qa_task(i), "m", p, c) for i, (p, c) in enumerate([("Cincinnati", True), ("yes", False)])]
    run_dir = write_run(tmp_path, "old", "Agent", recs)
    summary = json.loads((run_dir / "summary.json").read_text())
    for m in summary["per_set"].values():
        del m["f1_low"], m["f1_high"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    low, high = score_interval(1.25, 2)
    assert f"| 62.5 [{100 * low:.1f}, {100 * high:.1f}] |" in f1_markdown(results_table([load_run(run_dir)]))
