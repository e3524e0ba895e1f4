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
