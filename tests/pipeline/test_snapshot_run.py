"""scripts/snapshot_run.py: a workdir's records travel in one archive and a resumed run on the other side
skips the finished work; weights stay behind."""

import json
from pathlib import Path

from agentdistill.agent.replay import ReplayLLM
from agentdistill.data import load_tasks
from agentdistill.distill.generate import GenerateSettings, generate
from repo_scripts import load_script


def test_pack_unpack_resumes_without_work_and_leaves_weights(tmp_path: Path) -> None:
    snap = load_script("scripts/snapshot_run.py")
    tasks = load_tasks("gsm8k-train", limit=2)
    work = tmp_path / "runs" / "study"
    out = work / "cot" / "generate" / "cot.jsonl"
    s = GenerateSettings(mode="cot", samples=2, max_tokens=32)
    generate(tasks, ReplayLLM(["No idea.\n\nAnswer: \\boxed{0}"], cycle=True), out, s)
    (work / "train").mkdir()
    (work / "train" / "model-q8_0.gguf").write_bytes(b"GGUF" + bytes(64))  # weights: rebuilt, not carried
    (work / "train" / "checkpoints" / "c1").mkdir(parents=True)
    (work / "train" / "checkpoints" / "c1" / "trainer_state.json").write_text("{}")

    archive = tmp_path / "snap.tar.gz"
    assert snap.pack(work, archive) == 2  # the records and their stamp
    manifest = json.loads((tmp_path / "snap.manifest.json").read_text())
    assert manifest["records"] == {"cot/generate/cot.jsonl": 4}
    again = tmp_path / "elsewhere"
    assert snap.unpack(archive, again) == 2
    moved = again / "cot" / "generate" / "cot.jsonl"
    assert moved.read_bytes() == out.read_bytes()
    assert not (again / "train" / "model-q8_0.gguf").exists()
    assert not (again / "train" / "checkpoints").exists()
    idle = ReplayLLM(["unused"])
    summary = generate(tasks, idle, moved, s)  # stamp travelled too: resumes, nothing to do
    assert idle.calls == [] and summary.skipped_resumed == 4


def test_records_travel_whatever_their_size_and_a_torn_line_stays_behind(tmp_path: Path, capsys) -> None:
    """The fault this guards: a trajectories file past the size cap was silently left out, so the committed
    snapshot held no rollouts. Records are never capped; other big files are named; a live writer's torn last
    line is not packed (the resumed run generates that attempt again)."""
    snap = load_script("scripts/snapshot_run.py")
    tasks = load_tasks("gsm8k-train", limit=2)
    work = tmp_path / "study"
    out = work / "generate" / "cot.jsonl"
    s = GenerateSettings(mode="cot", samples=1, max_tokens=32)
    generate(tasks, ReplayLLM(["No idea.\n\nAnswer: \\boxed{0}"], cycle=True), out, s)
    whole = out.read_bytes()
    snap.MAX_BYTES = len(whole) // 2  # the records are "big"; the stamp is not
    assert Path(f"{out}.stamp.json").stat().st_size <= snap.MAX_BYTES and whole.count(b"\n") == 2
    with out.open("ab") as fh:
        fh.write(b'{"task": {"id": "torn')  # a writer killed mid-line
    (work / "report.html").write_text("x" * (snap.MAX_BYTES + 1))

    archive = tmp_path / "snap.tar.gz"
    assert snap.pack(work, archive) == 2  # the records and their stamp; not the big report
    manifest = json.loads((tmp_path / "snap.manifest.json").read_text())
    assert manifest["records"] == {"generate/cot.jsonl": 2}
    assert manifest["left_out"] == [f"report.html ({snap.MAX_BYTES + 1} bytes > {snap.MAX_BYTES})"]
    assert "left out of the snapshot: report.html" in capsys.readouterr().err
    again = tmp_path / "elsewhere"
    snap.unpack(archive, again)
    assert (again / "generate" / "cot.jsonl").read_bytes() == whole
    idle = ReplayLLM(["unused"])
    assert generate(tasks, idle, again / "generate" / "cot.jsonl", s).skipped_resumed == 2
