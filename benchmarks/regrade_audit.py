"""Re-grade a pipeline run's stored records with the current graders and count what changes.

A grader fix must not leave published figures graded by the old rules unannounced. This reads every eval row
(``<work>/eval/*/results.jsonl``) and the teacher's generate records (agent trajectories and CoT attempts),
grades each stored answer again as the pipeline would now (a CoT row's answer re-extracted from its text with
``agent.cot.extract_answer``), and reports per row how many verdicts flip, which questions, and the accuracy
under both. QA is compared on exact match (the LLM judge is not re-run: a QA answer whose extraction changed
is listed, since its judge verdict is then stale). Backend failures (``failure``) are skipped, as accuracy
skips them.

    python benchmarks/regrade_audit.py --work runs/study --out results/study/regrade_audit.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agentdistill.agent.cot import extract_answer
from agentdistill.agent.records import iter_trajectories
from agentdistill.common.jsonl import iter_jsonl
from agentdistill.data.task import Task
from agentdistill.evaluate.records import read_results
from agentdistill.grading import grade


def _verdict(g: Any) -> bool:
    return bool(g.get("em", 0.0) >= 1.0) if g.get("method", "").startswith("qa") else bool(g.get("correct"))


def _flip(task: Task, old_pred: Any, new_pred: Any, old_grade: dict) -> dict | None:
    """The changed verdict of one record (None when it stands). QA: exact match; math: equivalence."""
    new = grade(task, new_pred if new_pred is not None else "").model_dump()
    before, after = _verdict(old_grade), _verdict(new)
    stale_judge = task.kind == "qa" and old_pred != new_pred
    if before == after and not stale_judge:
        return None
    return {
        "set": task.dataset,
        "id": task.id,
        "kind": task.kind,
        "gold": str(task.answer),
        "old_prediction": None if old_pred is None else str(old_pred)[:200],
        "new_prediction": None if new_pred is None else str(new_pred)[:200],
        "before": before,
        "after": after,
    }


def audit_eval(work: Path) -> list[dict]:
    rows = []
    for results in sorted((work / "eval").glob("*/results.jsonl")):
        flips, kept, right_before, right_after = [], 0, 0, 0
        for rec in read_results(results):
            if rec.failure:
                continue
            kept += 1
            new_pred = extract_answer(rec.cot_text) if rec.mode == "cot" and rec.cot_text else rec.prediction
            old = rec.grade.model_dump()
            flip = _flip(rec.task, rec.prediction, new_pred, old)
            right_before += _verdict(old)
            right_after += _verdict(old) if flip is None else flip["after"]
            if flip is not None:
                flips.append(flip)
        rows.append(_row(results.parent.name, kept, right_before, right_after, flips))
    return rows


def audit_generate(work: Path) -> list[dict]:
    rows = []
    agent = work / "generate" / "trajectories.jsonl"
    if agent.exists():
        flips, n, before, after = [], 0, 0, 0
        for traj in iter_trajectories(agent):
            n += 1
            pred = traj.final_answer if traj.status == "answered" else None
            flip = _flip(traj.task, pred, pred, traj.grade or {"correct": bool(traj.correct)})
            before += bool(traj.correct)
            after += bool(traj.correct) if flip is None else flip["after"]
            if flip is not None:
                flips.append(flip | {"sample": traj.settings.sample})
        rows.append(_row("generate (agent)", n, before, after, flips))
    cot = work / "cot" / "generate" / "cot.jsonl"
    if cot.exists():
        flips, n, before, after = [], 0, 0, 0
        for _, rec in iter_jsonl(cot):
            n += 1
            task = Task.model_validate(rec["task"])
            new_pred = extract_answer(rec["text"]) if rec.get("text") else rec.get("answer")
            old = rec.get("grade") or {"correct": bool(rec.get("correct"))}
            flip = _flip(task, rec.get("answer"), new_pred, old)
            before += bool(rec.get("correct"))
            after += bool(rec.get("correct")) if flip is None else flip["after"]
            if flip is not None:
                flips.append(flip | {"sample": rec.get("sample")})
        rows.append(_row("generate (cot)", n, before, after, flips))
    return rows


def _row(name: str, n: int, before: int, after: int, flips: list[dict]) -> dict:
    verdicts = [f for f in flips if f["before"] != f["after"]]
    return {
        "row": name,
        "n": n,
        "correct_before": before,
        "correct_after": after,
        "flips": len(verdicts),
        "flips_by_kind": dict(Counter(f["kind"] for f in verdicts)),
        "qa_prediction_changed": sum(
            1 for f in flips if f["kind"] == "qa" and f["old_prediction"] != f["new_prediction"]
        ),
        "records": flips,
    }


def markdown(res: dict) -> str:
    run = res["run"]
    lines = [
        f"# Re-grade audit of `{res['work']}` with the graders at {run['git_commit'][:7]}",
        "",
        f"`{run['command']}` · {run['date']} · load {run['load_start']}",
        "",
        "| records | n | correct (as stored) | correct (re-graded) | verdicts flipped "
        "| QA answers re-extracted |",
        "|:---|---:|---:|---:|---:|---:|",
    ]
    for r in res["eval"] + res["generate"]:
        lines.append(
            f"| {r['row']} | {r['n']} | {r['correct_before']} | {r['correct_after']} | {r['flips']} | "
            f"{r['qa_prediction_changed']} |"
        )
    lines += ["", "QA: exact match; math: equivalence. Each flipped record is listed in the JSON file."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/study"), help="a pipeline run's workdir")
    ap.add_argument("--out", type=Path, default=Path("results/study/regrade_audit.json"))
    args = ap.parse_args(argv)
    if not args.work.is_dir():
        ap.error(f"--work {args.work}: no such run directory")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results_and_markdown

    stamp = start_stamp(["benchmarks/regrade_audit.py", *(sys.argv[1:] if argv is None else argv)])
    res = {"work": str(args.work), "eval": audit_eval(args.work), "generate": audit_generate(args.work)}
    write_results_and_markdown(args.out, res, stamp, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
