"""The FTP pilot script on real records: the smoke config's teacher rollouts (real 135M model, real retriever)
with and without the first-thought prefix, 2 attempts per task, paired by task."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentdistill.common.jsonl import iter_jsonl
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline
from repo_scripts import load_script

TASKS = [{"set": "multihop-train", "limit": 1}, {"set": "gsm8k-train", "limit": 1}]


@pytest.fixture(scope="module")
def arms(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ftp_pilot")
    works = {}
    for name, ftp in (("ftp", True), ("base", False)):
        work = root / name
        overrides = {
            "workdir": str(work),
            "generate.tasks": TASKS,
            "generate.ftp": ftp,
            "generate.samples": 2,
            "generate.stop_after_correct": 1,
            "generate.max_steps": 1,  # a short run: the pilot reads records, their length does not matter
            "generate.max_tokens": 48,
        }
        run_pipeline(load_config("smoke", overrides), stages=("generate",))
        works[name] = work
    return works


def _records(work: Path) -> list[dict]:
    return [r for _, r in iter_jsonl(work / "generate" / "trajectories.jsonl")]


def test_pilot_pairs_the_arms_task_by_task(arms: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pilot.json"
    mod = load_script("benchmarks/ftp_pilot.py")
    assert mod.main(["--ftp", str(arms["ftp"]), "--base", str(arms["base"]), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["run"]["command"].startswith("python benchmarks/ftp_pilot.py")
    assert len(res["run"]["load_end"]) == 3
    assert res["samples"] == 2 and res["tasks"] == 2 and res["rounds_compared"] == 2
    ftp_records = _records(arms["ftp"])
    assert all(r["settings"]["ftp"] and r["steps"][0]["prefix"].startswith("Thought: ") for r in ftp_records)
    for name, work in (("ftp", arms["ftp"]), ("no_ftp", arms["base"])):
        records, arm = _records(work), res["arms"][name]
        solved = {r["task"]["id"] for r in records if r["correct"]}
        assert arm["attempts"] == len(records)
        for task in {r["task"]["id"] for r in records}:  # an unsolved task gets both attempts, no more
            attempts = [r for r in records if r["task"]["id"] == task]
            assert len(attempts) == 2 or (len(attempts) == 1 and attempts[0]["correct"])
        assert arm["correct"] == sum(bool(r["correct"]) for r in records)
        assert arm["tasks"] == 2 and arm["tasks_solved"] == len(solved)
        assert arm["tasks_by_kind"] == {"math": 1, "qa": 1}
        assert arm["kept"] <= arm["tasks_solved"]
        assert arm["kept_per_100"]["all"] == pytest.approx(50 * arm["kept"])
        steps = [s for r in records for s in r["steps"] if not s.get("forced")]
        assert arm["steps"] == len(steps)
        assert arm["parse_failures"] == sum(r["totals"]["parse_failures"] for r in records)
        # the episodes' wall time and, with FTP, the CoT call that made each prefix before its episode
        cot_seconds = [r["settings"]["ftp_cot_seconds"] for r in records]
        assert all(c > 0 for c in cot_seconds) if name == "ftp" else not any(cot_seconds)
        seconds = sum(r["totals"]["seconds"] for r in records) + sum(cot_seconds)
        assert arm["seconds_per_task"] == pytest.approx(seconds / 2, abs=0.1)
        assert res["projection"][name]["hours"] == pytest.approx(
            arm["seconds_per_task"] * 600 / 3600, abs=0.06
        )
    paired = res["tasks_solved_ftp_minus_no_ftp"]
    assert paired["n"] == 2
    assert paired["diff_pts"] == pytest.approx(
        50 * (res["arms"]["ftp"]["tasks_solved"] - res["arms"]["no_ftp"]["tasks_solved"])
    )
    table = out.with_suffix(".md").read_text()
    assert "| ftp | 2 |" in table and "| no_ftp | 2 |" in table and "McNemar" in table


def test_a_pilot_cut_short_is_compared_on_its_finished_rounds(arms: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    shutil.copytree(arms["ftp"], cut)
    records = _records(cut)
    second = [r for r in records if r["settings"]["sample"] == 1]
    if not second:
        pytest.fail("the 135M teacher solved every smoke task at once: pick tasks it cannot solve")
    # as if the run was killed before the second attempt of an unsolved task: both arms count 1 attempt a task,
    # not the other task's 2 against this one's 1 (which would favour whatever the cut run had solved)
    dropped = second[0]
    kept = [r for r in records if r is not dropped]
    (cut / "generate" / "trajectories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    mod = load_script("benchmarks/ftp_pilot.py")
    res = mod.pilot(cut, arms["base"], {"qa": 300, "math": 300})
    assert res["tasks"] == 2 and res["rounds_compared"] == 1
    first = {
        name: [r for r in _records(w) if r["settings"]["sample"] == 0]
        for name, w in (("ftp", cut), ("no_ftp", arms["base"]))
    }
    for name, arm in res["arms"].items():
        assert arm["attempts"] == arm["tasks"] == 2
        assert arm["correct"] == sum(bool(r["correct"]) for r in first[name])
    assert mod.rounds_done(kept, 2) == 1 and mod.rounds_done(records, 2) == 2


def test_the_arms_must_be_what_they_say(arms: dict[str, Path], tmp_path: Path) -> None:
    mod = load_script("benchmarks/ftp_pilot.py")
    with pytest.raises(SystemExit, match="must have ftp=True"):
        mod.pilot(arms["base"], arms["base"], {"qa": 1, "math": 1})
    with pytest.raises(SystemExit, match="is missing"):
        mod.pilot(tmp_path / "nowhere", arms["base"], {"qa": 1, "math": 1})
    short = tmp_path / "short"
    shutil.copytree(arms["base"], short)
    records = [r for r in _records(short) if r["task"]["kind"] == "qa"]
    (short / "generate" / "trajectories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(SystemExit, match="1 of the pilot's tasks have no records"):
        mod.pilot(arms["ftp"], short, {"qa": 1, "math": 1})


def test_discordant_tasks_and_the_projection(arms: dict[str, Path], tmp_path: Path) -> None:
    """The real records, regraded: FTP solves the QA task at its first attempt, no FTP the math task at its
    second (the attempts after a correct one are removed, as generation never makes them)."""
    works = {}
    for name, solve in (("ftp", ("qa", 0)), ("base", ("math", 1))):
        works[name] = tmp_path / name
        shutil.copytree(arms[name], works[name])
        records = []
        for r in _records(works[name]):
            kind, sample = r["task"]["kind"], r["settings"]["sample"]
            if kind == solve[0] and sample > solve[1]:
                continue
            r["correct"] = (kind, sample) == solve
            records.append(r)
        (works[name] / "generate" / "trajectories.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records)
        )
    mod = load_script("benchmarks/ftp_pilot.py")
    res = mod.pilot(works["ftp"], works["base"], {"qa": 300, "math": 100})
    assert res["rounds_compared"] == 2 and res["tasks"] == 2
    ftp, base = res["arms"]["ftp"], res["arms"]["no_ftp"]
    assert (ftp["attempts"], ftp["tasks_solved"], ftp["yield_per_100"]) == (
        3,
        1,
        {"math": 0.0, "qa": 100.0, "all": 50.0},
    )
    assert (base["attempts"], base["tasks_solved"], base["yield_per_100"]) == (
        4,
        1,
        {"math": 100.0, "qa": 0.0, "all": 50.0},
    )
    paired = res["tasks_solved_ftp_minus_no_ftp"]
    assert (paired["only_ftp"], paired["only_no_ftp"], paired["diff_pts"], paired["mcnemar_p"]) == (
        1,
        1,
        0.0,
        1.0,
    )
    for name, arm in (("ftp", ftp), ("no_ftp", base)):
        proj, per_kind = res["projection"][name], arm["seconds_per_task_by_kind"]
        assert proj["kept"] == pytest.approx(
            3 * arm["kept_per_100"]["qa"] + arm["kept_per_100"]["math"], abs=0.1
        )
        assert proj["hours"] == pytest.approx(
            (300 * per_kind["qa"] + 100 * per_kind["math"]) / 3600, abs=0.06
        )
    assert ftp["errors"] == base["errors"] == 0
    assert mod.projection(ftp, {"qa": 1, "geometry": 1}) == {"kept": None, "hours": None}
    other = tmp_path / "other"
    shutil.copytree(arms["ftp"], other)
    settings = json.loads((other / "generate" / "settings.json").read_text())
    (other / "generate" / "settings.json").write_text(json.dumps({**settings, "max_tokens": 4096}))
    with pytest.raises(SystemExit, match="differ in max_tokens"):
        mod.pilot(other, arms["base"], {"qa": 1, "math": 1})
