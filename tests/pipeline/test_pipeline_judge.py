"""A config's `judge:` reaches the eval stage: each run's QA answers get verdicts beside EM (judge.jsonl,
judge_summary.json), math is not judged, verdicts are cached in the workdir. The student is scripted
(ReplayLLM, real loop and sandbox) and the judge replays recorded replies, through the pipeline's model loader."""

import json
from pathlib import Path

from agentdistill.agent.replay import ReplayLLM
from agentdistill.grading.judge import read_judge_summary
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline

F = "```"
ANSWER = f"Thought: I know it.\nCode:\n{F}py\nfinal_answer('Paris')\n{F}<end_code>"


def test_eval_stage_writes_judge_verdicts_beside_em(tmp_path: Path) -> None:
    cfg = load_config(
        "smoke",
        {
            "workdir": str(tmp_path / "w"),
            "retriever": "",
            "judge": {"model": "recorded-judge"},
            "eval.runs": [{"label": "Student", "model": "student"}],
            "eval.sets": [{"set": "hotpotqa-paper-closed", "limit": 2}, {"set": "gsm-hard-500", "limit": 1}],
        },
    )
    loaded: dict[str, ReplayLLM] = {}

    def loader(spec: str, **options: object) -> ReplayLLM:
        if spec == "recorded-judge":  # a judge reply as recorded from a model, for every question
            loaded[spec] = ReplayLLM(['{"explanation": "same meaning", "score": 1}'], name=spec, cycle=True)
        else:
            loaded[spec] = ReplayLLM([ANSWER], name=spec, cycle=True)
        return loaded[spec]

    result = run_pipeline(cfg, stages=("eval",), llm_loader=loader)
    assert list(result.stage_seconds) == ["eval"]  # no student is trained for a row that names none
    run_dir = result.run_dirs[0]
    summary = read_judge_summary(run_dir)
    assert summary["judge_model"] == "recorded-judge"
    assert set(summary["per_set"]) == {"hotpotqa-paper-closed"}  # math is graded by equivalence, not judged
    qa = summary["per_set"]["hotpotqa-paper-closed"]
    assert qa["n"] == 2 and qa["judge_correct"] == 2 and qa["unparsed"] == 0
    results = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    em = sum(r["grade"]["correct"] for r in results if r["task"]["kind"] == "qa")
    assert qa["em_correct"] == em and qa["agreement"] == em / 2
    assert len(loaded["recorded-judge"].calls) == 2
    cache = [json.loads(x) for x in (Path(result.workdir) / "judge_cache.jsonl").read_text().splitlines()]
    assert len(cache) == 2 and all(c["verdict"] is True for c in cache)
