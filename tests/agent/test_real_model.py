"""Full episodes with the real SmolLM2-135M (llama.cpp), real sandbox and real BM25 over a tiny real corpus.

The model is tiny: these tests assert structure (well-formed trajectory, step limits, observations recorded,
valid statuses, FTP prefix verbatim), not correctness.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.agent import TrajectoryWriter, first_thought_prefix, read_trajectories, run_cot, run_episode
from agentdistill.agent.parse import STEP_STOP
from agentdistill.data.task import Task
from agentdistill.llm.types import GenerationConfig

GEN = GenerationConfig(max_tokens=96, temperature=0.0, seed=0, stop=STEP_STOP)
STATUSES = {"answered", "max_steps", "error"}


@pytest.fixture(scope="module")
def llm(tiny_gguf: Path):
    from agentdistill.models.loading import load_llm

    model = load_llm(f"llamacpp:{tiny_gguf}", n_ctx=4096)
    yield model
    model.close()


@pytest.fixture(scope="module")
def retriever(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    from agentdistill.retrieval import load_retriever
    from agentdistill.retrieval.index import build_index

    tmp = tmp_path_factory.mktemp("tiny-corpus")
    corpus = tmp / "corpus.jsonl"
    with open(shared_data / "raw" / "extra_paragraphs.jsonl") as src, open(corpus, "w") as out:
        for i, line in zip(range(12), src, strict=False):
            rec = json.loads(line)
            out.write(json.dumps({"id": f"p{i}", "title": rec["title"], "text": rec["text"]}) + "\n")
    build_index(corpus, tmp / "index", "bm25", progress=False)
    return load_retriever(str(tmp / "index"))


def _check_structure(traj, max_steps: int) -> None:
    assert traj.status in STATUSES
    assert traj.status != "error", traj.error
    agent_steps = [s for s in traj.steps if not s.forced]
    assert 1 <= len(agent_steps) <= max_steps
    # at most one forced final-answer turn, last, and only after max_steps agent steps without an answer
    assert traj.forced_final_answer == any(s.forced for s in traj.steps)
    if traj.forced_final_answer:
        assert traj.steps[-1].forced and len(agent_steps) == max_steps == len(traj.steps) - 1
    assert traj.messages[0]["role"] == "system" and traj.messages[1]["role"] == "user"
    for i, s in enumerate(traj.steps):
        assert s.index == i and s.raw.strip()
        assert traj.messages[2 + 2 * i] == {"role": "assistant", "content": s.raw}
        if not s.has_final_answer and not s.forced:
            assert s.observation  # every non-final step has an observation the model saw
            # (after the last agent step the forced final-answer request follows the observation)
            assert traj.messages[3 + 2 * i]["content"].startswith(f"Observation:\n{s.observation}")
        assert (s.error_kind is None) == (s.error is None)
    if traj.status == "answered":
        assert traj.steps[-1].has_final_answer and traj.final_answer is not None
    else:
        assert traj.final_answer is None and len(agent_steps) == max_steps
    assert traj.totals.steps == len(agent_steps) and traj.totals.completion_tokens > 0


def test_qa_episode_with_search(llm, retriever, tmp_path: Path) -> None:
    task = Task(
        id="q1",
        dataset="unit",
        kind="qa",
        question="Who directed the film The Mask of Dimitrios?",
        answer="Jean Negulesco",
    )
    traj = run_episode(task, llm, retriever=retriever, prompt="student", max_steps=3, gen=GEN)
    _check_structure(traj, 3)
    assert "search(query)" in traj.messages[0]["content"]
    assert traj.settings["search_tool"] == "search" and traj.settings["sandbox_imports"] == "qa"
    path = tmp_path / "t.jsonl"
    with TrajectoryWriter(path) as w:
        w.write(traj)
    assert read_trajectories(path)[0].model_dump() == traj.model_dump()


def test_gsm_hard_episode(llm, shared_data: Path) -> None:
    data = json.loads((shared_data / "benchmarks/math_dataset/test/gsm_hard_500_20250507.json").read_text())
    ex = data["examples"][0]
    task = Task(
        id=str(ex["id"]), dataset="gsm-hard", kind="math", question=ex["question"], answer=str(ex["answer"])
    )
    traj = run_episode(task, llm, prompt="teacher", max_steps=2, gen=GEN)
    _check_structure(traj, 2)
    assert "final_answer(102)" in traj.messages[0]["content"]  # the math worked example
    assert traj.settings["sandbox_imports"] == "math"


def test_first_thought_prefix_verbatim(llm) -> None:
    task = Task(id="f1", dataset="unit", kind="math", question="What is 17 * 23?", answer="391")
    cot = run_cot(task, llm, GenerationConfig(max_tokens=64, temperature=0.0))
    assert cot.text.strip() and cot.answer
    prefix = first_thought_prefix(cot.text)
    assert prefix.startswith("Thought: ") and prefix.endswith("\n\n")
    traj = run_episode(task, llm, max_steps=1, gen=GEN, prefix=prefix)
    first = traj.steps[0]
    assert first.raw.startswith(prefix) and first.prefix == prefix and traj.prefix == prefix
    assert traj.messages[2]["content"].startswith(prefix)
    assert len(first.raw) > len(prefix)  # the model continued after the prefix
