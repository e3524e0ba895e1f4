"""Every stage end to end on the real 135M model (teacher = student), then a resumed re-run that does no work."""

import json
from pathlib import Path

from agentdistill.agent.records import read_trajectories
from agentdistill.evaluate.records import load_run
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline


def test_smoke_pipeline_runs_and_resumes(tiny_gguf: Path, tmp_path: Path) -> None:
    cfg = load_config("smoke", {"workdir": str(tmp_path / "smoke")})
    result = run_pipeline(cfg)
    work = Path(result.workdir)
    assert set(result.stage_seconds) == {"generate", "filter", "train", "eval", "report"}
    trajs = read_trajectories(work / "generate" / "trajectories.jsonl")
    assert len(trajs) == 2 and all(t.prefix for t in trajs)
    stamp = json.loads((work / "train" / "DONE.json").read_text())
    assert stamp["model_spec"].startswith("llamacpp:") and Path(stamp["model_spec"][9:]).is_file()
    runs = [load_run(d) for d in result.run_dirs]
    assert [r.label for r in runs] == [r.label for r in cfg.eval.runs]
    assert all(sum(m.n for m in r.summary.per_set.values()) == 2 for r in runs)
    html = Path(result.report_html).read_text()
    assert "Student agent-distilled + SAG" in html
    # a second run finds everything done: same records, training skipped (the stamp is unchanged)
    again = run_pipeline(cfg)
    assert len(read_trajectories(work / "generate" / "trajectories.jsonl")) == 2
    assert json.loads((work / "train" / "DONE.json").read_text()) == stamp
    assert [len(load_run(d).records) for d in again.run_dirs] == [2, 2]
