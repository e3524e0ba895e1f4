from pathlib import Path

from agentdistill.agent.records import Step, Trajectory, TrajectoryWriter, read_trajectories
from agentdistill.data.task import Task
from agentdistill.distill.filter import filter_trajectories

TASK = Task(id="t1", dataset="gsm8k-train", kind="math", question="1+1?", answer="2")


def traj(
    task: Task, raws: list[str], *, status="answered", correct=True, kinds=None, **settings
) -> Trajectory:
    kinds = kinds or [None] * len(raws)
    steps = [Step(index=i, raw=r, error_kind=k) for i, (r, k) in enumerate(zip(raws, kinds, strict=True))]
    return Trajectory(
        task=task, model="teacher", steps=steps, status=status, correct=correct, settings=settings
    )


def test_filter_keeps_correct_parsed_and_reports_reasons(tmp_path: Path) -> None:
    t2 = TASK.model_copy(update={"id": "t2"})
    t3 = TASK.model_copy(update={"id": "t3"})
    records = [
        traj(TASK, ["a", "b"]),  # kept
        traj(TASK, ["a", "b"]),  # duplicate of the first
        traj(TASK, ["c"]),  # distinct but over max_per_task=1
        traj(t2, ["x"], correct=False),  # incorrect
        traj(t2, ["y", "z"], kinds=["no_code", None]),  # a step did not parse
        traj(t3, ["p"], status="max_steps", correct=False),  # ran out of steps
        traj(t3, ["q", "r"], kinds=["exception", None]),  # execution error: kept (recovery is useful)
        traj(t3, ["s"]).model_copy(
            update={"forced_final_answer": True}
        ),  # forced answer: never training data
    ]
    src, dst = tmp_path / "all.jsonl", tmp_path / "kept.jsonl"
    with TrajectoryWriter(src) as w:
        for r in records:
            w.write(r)
    rep = filter_trajectories(src, dst, max_per_task=1)
    kept = read_trajectories(dst)
    assert [(t.task.id, [s.raw for s in t.steps]) for t in kept] == [("t1", ["a", "b"]), ("t3", ["q", "r"])]
    assert rep.total == 8 and rep.kept == 2 and rep.tasks == 3 and rep.tasks_kept == 2
    assert dict(rep.dropped) == {
        "duplicate": 1,
        "over_max_per_task": 1,
        "incorrect": 1,
        "parse_error": 1,
        "status:max_steps": 1,
        "forced_final_answer": 1,
    }


def test_filter_max_per_task_and_exec_errors(tmp_path: Path) -> None:
    src, dst = tmp_path / "all.jsonl", tmp_path / "kept.jsonl"
    with TrajectoryWriter(src) as w:
        for raws in (["a"], ["b"], ["c"]):
            w.write(traj(TASK, raws))
        w.write(traj(TASK, ["d"], kinds=["timeout"]))
    rep = filter_trajectories(src, dst, max_per_task=2, keep_exec_errors=False)
    assert rep.kept == 2 and rep.dropped["over_max_per_task"] == 1 and rep.dropped["exec_error"] == 1


def test_filter_cot_keeps_correct_distinct(tmp_path: Path) -> None:
    from agentdistill.common.jsonl import JsonlAppender, iter_jsonl
    from agentdistill.distill.filter import filter_cot

    src, dst = tmp_path / "cot.jsonl", tmp_path / "kept.jsonl"
    task = TASK.model_dump()
    with JsonlAppender(src) as out:
        out.write({"task": task, "text": "1+1=2. \\boxed{2}", "answer": "2", "correct": True})
        out.write({"task": task, "text": "1+1=2. \\boxed{2}", "answer": "2", "correct": True})
        out.write({"task": task, "text": "It is 3.", "answer": "3", "correct": False})
        out.write({"task": task, "text": "no idea", "answer": None, "correct": False})
    rep = filter_cot(src, dst, max_per_task=2)
    assert [r["text"] for _, r in iter_jsonl(dst)] == ["1+1=2. \\boxed{2}"]
    assert dict(rep.dropped) == {"duplicate": 1, "incorrect": 1, "no_answer": 1}


def test_filter_relaxed_for_smoke_runs(tmp_path: Path) -> None:
    src, dst = tmp_path / "all.jsonl", tmp_path / "kept.jsonl"
    with TrajectoryWriter(src) as w:
        w.write(traj(TASK, ["a"], status="max_steps", correct=False, kinds=["no_code"]))
    assert filter_trajectories(src, dst).kept == 0
    rep = filter_trajectories(src, dst, require_correct=False)
    assert rep.dropped == {"parse_error": 1}
    assert filter_trajectories(src, dst, require_correct=False, require_parsed=False).kept == 1


def test_judge_keeps_a_correct_paraphrase_em_rejects(tmp_path: Path, capsys) -> None:
    from agentdistill.agent import run_episode
    from agentdistill.agent.replay import ReplayLLM
    from agentdistill.grading import grade
    from agentdistill.grading.judge import LLMJudge

    qa = Task(id="q1", dataset="hotpotqa-train", kind="qa", question="Capital of France?", answer="Paris")
    step = "Thought: I know it.\nCode:\n```py\nfinal_answer('the French capital city, Paris, in Europe')\n```<end_code>"
    records = []
    for i in range(2):  # the real loop; graded by EM as generate does
        task = qa.model_copy(update={"id": f"q{i}", "question": f"{qa.question} ({i})"})  # not one cache key
        t = run_episode(task, ReplayLLM([step]), max_steps=2)
        t.correct = grade(t.task, t.final_answer).correct
        records.append(t)
    assert not any(t.correct for t in records)  # EM says no
    src, dst = tmp_path / "all.jsonl", tmp_path / "kept.jsonl"
    with TrajectoryWriter(src) as w:
        for t in records:
            w.write(t)
    assert filter_trajectories(src, dst).kept == 0
    assert "filter (judge)" not in capsys.readouterr().err  # no model calls, no progress
    judge = LLMJudge(
        ReplayLLM(['{"explanation": "same city", "score": 1}', "no verdict", "still none", "nope"])
    )
    rep = filter_trajectories(src, tmp_path / "kept2.jsonl", judge=judge)
    assert rep.kept == 1 and rep.judge == {"rescued": 1, "agree": 0, "unparsed": 1}
    # judging is minutes of model calls on a real run: a plain progress line with the count (stderr not a TTY)
    assert "filter (judge): 2/2 records" in capsys.readouterr().err
    assert rep.dropped == {"incorrect": 1}  # an unparsed verdict falls back to EM
    assert [t.task.id for t in read_trajectories(tmp_path / "kept2.jsonl")] == ["q0"]
