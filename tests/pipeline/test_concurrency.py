"""`backend: llama-server` and `concurrency: N` in a pipeline config: local GGUF models are served by a managed
llama-server with N slots and N episodes run at once (issue 16).

Real 135M model, real llama-server built from the pinned sources, real pipeline stages.
"""

import json
from pathlib import Path

import pytest

from agentdistill.agent.records import read_trajectories
from agentdistill.evaluate.records import load_run
from agentdistill.models.loading import served_spec
from agentdistill.models.server import ServedLLM
from agentdistill.pipeline.config import load_config
from agentdistill.pipeline.runner import run_pipeline
from agentdistill.pipeline.stages.base import ModelPool


@pytest.mark.parametrize(
    ("spec", "served"),
    [
        ("qwen2.5-coder-0.5b", "server:qwen2.5-coder-0.5b"),
        ("llamacpp:/w/student.gguf", "server:/w/student.gguf"),
        ("gguf:/w/student.gguf", "server:/w/student.gguf"),
        ("/w/student.gguf", "server:/w/student.gguf"),
        ("hf:/w/merged", None),
        ("openai:m@http://127.0.0.1:1/v1", None),
        ("server:qwen2.5-coder-0.5b", None),
    ],
)
def test_which_specs_are_served(spec: str, served: str | None) -> None:
    assert served_spec(spec) == served


def test_top_level_concurrency_reaches_generate_and_eval_unless_they_set_their_own() -> None:
    cfg = load_config("smoke", {"concurrency": 3})
    assert (cfg.concurrency, cfg.generate.concurrency, cfg.eval.concurrency) == (3, 3, 3)
    own = load_config("smoke", {"concurrency": 3, "eval.concurrency": 1})
    assert (own.generate.concurrency, own.eval.concurrency) == (3, 1)
    assert load_config("smoke").generate.concurrency == 1


def test_pool_serves_a_local_gguf_under_its_in_process_name(tiny_gguf: Path) -> None:
    pool = ModelPool({"smollm2-135m": {"n_ctx": 1024}}, serve=True, parallel=2)
    llm = pool.get("smollm2-135m")
    try:
        assert isinstance(llm, ServedLLM)
        assert llm.name == "smollm2-135m" and llm.served.parallel == 2 and llm.served.n_ctx == 1024
        assert pool.get("smollm2-135m") is llm  # loaded once
    finally:
        pool.release()
    assert llm.served.process.poll() is not None  # released: the server is stopped


def test_pipeline_on_llama_server_at_concurrency_2_resumes_in_process(
    tiny_gguf: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "smoke"
    cfg = load_config("smoke", {"workdir": str(work), "backend": "llama-server", "concurrency": 2})
    cfg.eval.runs = cfg.eval.runs[:1]  # the untrained student: no training needed for this check
    result = run_pipeline(cfg, stages=("generate", "eval"))
    assert "loading model server:smollm2-135m" in capfd.readouterr().err
    trajs = read_trajectories(work / "generate" / "trajectories.jsonl")
    assert len(trajs) == 2 and all(t.totals.steps >= 1 for t in trajs)
    assert all(t.model == "smollm2-135m" for t in trajs)
    (run,) = [load_run(d) for d in result.run_dirs]
    assert len(run.records) == 2
    stamp = json.loads((work / "generate" / "settings.json").read_text())
    assert "concurrency" not in stamp and stamp["teacher"] == "smollm2-135m"
    # the same config in-process at concurrency 1 finds everything done: nothing re-run, nothing refused
    cfg1 = load_config("smoke", {"workdir": str(work)})
    cfg1.eval.runs = cfg1.eval.runs[:1]
    again = run_pipeline(cfg1, stages=("generate", "eval"))
    assert "server:" not in capfd.readouterr().err
    assert [t.model_dump_json() for t in read_trajectories(work / "generate" / "trajectories.jsonl")] == [
        t.model_dump_json() for t in trajs
    ]
    assert len(load_run(again.run_dirs[0]).records) == 2
