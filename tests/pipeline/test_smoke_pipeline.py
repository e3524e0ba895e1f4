"""Every stage end to end on the real 135M model (teacher = student), then a resumed re-run that does no work."""

import json
from pathlib import Path

from agentdistill.agent.records import read_trajectories
from agentdistill.evaluate.records import load_run
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.ledger import ledger
from agentdistill.pipeline.runner import run_pipeline
from repo_scripts import load_script


def test_smoke_pipeline_runs_and_resumes(tiny_gguf: Path, tmp_path: Path) -> None:
    cfg = load_config("smoke", {"workdir": str(tmp_path / "smoke")})
    result = run_pipeline(cfg)
    work = Path(result.workdir)
    assert set(result.stage_seconds) == {"generate", "filter", "train", "eval", "report"}
    trajs = read_trajectories(work / "generate" / "trajectories.jsonl")
    assert len(trajs) == 2 and all(t.prefix for t in trajs)
    stamp = json.loads((work / "train" / "DONE.json").read_text())
    assert stamp["model_kind"] == "llamacpp" and (work / "train" / stamp["model_path"]).is_file()
    # the ledger's training hours are the trainer's clock over every attempt, not HF's last-attempt runtime
    assert (
        stamp["train_seconds"] == stamp["metrics"]["train_seconds"] > 0 and stamp["metrics"]["attempts"] == 1
    )
    train_row = {(r.arm, r.stage): r for r in ledger(work)}[("agent", "train")]
    assert train_row.seconds == stamp["train_seconds"] and not train_row.lower_bound
    # the report's ledger counts this run's filter time (it was written before the run's stage times were)
    published = json.loads((work / "report" / "ledger.json").read_text())
    filter_row = next(r for r in published if (r["arm"], r["stage"]) == ("agent", "filter"))
    stage_times = json.loads((work / "stage_seconds.json").read_text())
    assert filter_row["seconds"] == stage_times["filter"] == result.stage_seconds["filter"]
    runs = [load_run(d) for d in result.run_dirs]
    assert [r.label for r in runs] == [r.label for r in cfg.eval.runs]
    assert all(sum(m.n for m in r.summary.per_set.values()) == 2 for r in runs)
    html = Path(result.report_html).read_text()
    assert "Student agent-distilled + SAG" in html
    # a second run finds everything done: same records, training skipped (the stamp is unchanged)
    again = run_pipeline(cfg)
    assert len(read_trajectories(work / "generate" / "trajectories.jsonl")) == 2
    assert json.loads((work / "train" / "DONE.json").read_text()) == stamp
    # The kept records' bytes change, not the examples they convert to (a record's timestamp here; in the study, a
    # field the record schema gained): training is skipped, so the eval rows stay. The stamp hashed the file's
    # bytes before, so a new settings field retrained the study's student and retired its scored rows.
    traj = work / "generate" / "trajectories.jsonl"
    rows = [json.loads(line) for line in traj.read_text().splitlines()]
    traj.write_text(
        "".join(json.dumps({**r, "created_at": "2020-01-01T00:00:00+00:00"}) + "\n" for r in rows)
    )
    kept, scored = (
        (work / "filter" / "kept.jsonl").read_bytes(),
        [(d / "results.jsonl").read_bytes() for d in again.run_dirs],
    )
    run_pipeline(cfg)
    assert (work / "filter" / "kept.jsonl").read_bytes() != kept
    assert json.loads((work / "train" / "DONE.json").read_text()) == stamp
    assert [(d / "results.jsonl").read_bytes() for d in again.run_dirs] == scored
    assert not list(work.glob("eval/*.stale-*"))
    assert [len(load_run(d).records) for d in again.run_dirs] == [2, 2]
    # Another machine: the committed snapshot (records and stamps, no weights) unpacked into another workdir.
    # Train finds its stamp but no weights and trains again from the same kept records and seed; a
    # bit-identical rebuild is the same training run, so no eval row is redone.
    snap = load_script("scripts/snapshot_run.py")
    archive = tmp_path / "snapshot.tar.gz"
    snap.pack(work, archive)
    elsewhere = tmp_path / "elsewhere" / "smoke"
    snap.unpack(archive, elsewhere)
    assert not list(elsewhere.rglob("*.gguf"))
    moved = run_pipeline(load_config("smoke", {"workdir": str(elsewhere)}))
    done = json.loads((elsewhere / "train" / "DONE.json").read_text())
    assert [r["identical"] for r in done["rebuilds"]] == [True]
    assert done["run_id"] == stamp["run_id"] and done["weights_sha256"] == stamp["weights_sha256"]
    assert (elsewhere / "train" / done["model_path"]).is_file()
    for here, there in zip(again.run_dirs, moved.run_dirs, strict=True):
        assert (there / "results.jsonl").read_bytes() == (here / "results.jsonl").read_bytes()  # not redone
        assert not list(there.parent.glob(f"{there.name}.stale-*"))
    # A stamp whose inputs' hash no longer matches (an older hash formula, changed settings) trains again; weights
    # that come out bit-identical keep the run id and the eval rows, and the hours add up over both builds.
    older = {**done, "hash": "0" * 64}
    (elsewhere / "train" / "DONE.json").write_text(json.dumps(older))
    run_pipeline(load_config("smoke", {"workdir": str(elsewhere)}))
    redone = json.loads((elsewhere / "train" / "DONE.json").read_text())
    assert redone["run_id"] == stamp["run_id"] and redone["hash"] == done["hash"]
    assert [r["identical"] for r in redone["rebuilds"]] == [True, True]
    assert (
        redone["train_seconds"] == done["train_seconds"] + redone["rebuilds"][-1]["metrics"]["train_seconds"]
    )
    for here, there in zip(again.run_dirs, moved.run_dirs, strict=True):
        assert (there / "results.jsonl").read_bytes() == (here / "results.jsonl").read_bytes()
        assert not list(there.parent.glob(f"{there.name}.stale-*"))
