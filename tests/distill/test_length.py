"""Training never trains on a cut trajectory (issue 13 §4): a real over-length trajectory — a search step with a
long observation from the real retriever, then final_answer — is dropped before training (or the run refused),
counted with its length, measured with the real tokenizer and training template, before the model loads."""

from __future__ import annotations

import json

import pytest

from agentdistill.agent import run_episode
from agentdistill.agent.records import TrajectoryWriter
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.distill.train import TrainConfig
from agentdistill.distill.train.length import OverLengthError, fit_to_length
from agentdistill.distill.train.trainer import prepare_examples

F = "```"
QA = Task(
    id="hp1", dataset="unit", kind="qa", question="Which country is Paris the capital of?", answer="France"
)


def _episode(steps: list[str], retriever=None):
    traj = run_episode(QA, ReplayLLM(steps), retriever=retriever, max_steps=3, k=3)
    assert traj.status == "answered", traj.error
    traj.correct = True
    return traj


@pytest.fixture(scope="module")
def trajectories(tmp_path_factory):
    from agentdistill.retrieval import load_retriever

    search = f"Thought: look it up.\nCode:\n{F}py\nprint(search('Paris capital of France'))\n{F}<end_code>"
    answer = f"Thought: it is France.\nCode:\n{F}py\nfinal_answer('France')\n{F}<end_code>"
    long = _episode([search, answer], retriever=load_retriever("default"))
    short = _episode([answer])
    path = tmp_path_factory.mktemp("len") / "kept.jsonl"
    with TrajectoryWriter(path, fsync=False) as w:
        w.write(long)
        w.write(short)
    return path, long


def _cfg(tiny_hf_dir, data, tmp_path, **kw):
    return TrainConfig(model=str(tiny_hf_dir), data=data, out_dir=tmp_path / "out", **kw)


def test_long_real_trajectory_is_dropped_not_cut(tiny_hf_dir, trajectories, tmp_path):
    data, long = trajectories
    assert len(long.steps[0].observation) > 800  # three real passages
    examples, report = prepare_examples(_cfg(tiny_hf_dir, data, tmp_path, max_seq_len=100_000))
    assert report.dropped == [] and report.kept == 2
    long_len = report.longest
    assert 300 < long_len < 1500  # a few hundred tokens: system, task, search step, observation, answer step
    # one token short of the long example: it is dropped whole, the short one kept whole (nothing is cut)
    limit = long_len - 1
    kept, report = prepare_examples(_cfg(tiny_hf_dir, data, tmp_path, max_seq_len=limit))
    assert report.dropped == [(0, long_len)] and report.kept == 1
    assert kept == [examples[1]]  # the short example, unchanged: its final_answer step is there
    assert "final_answer('France')" in kept[0][-1]["content"]
    assert f"dropped 1 of 2 examples longer than max_seq_len={limit}" in report.line()
    assert report.as_dict()["dropped_lengths"] == [long_len]


def test_max_seq_len_128_refuses_or_drops_with_lengths(tiny_hf_dir, trajectories, tmp_path):
    data, _ = trajectories
    # both examples exceed 128 tokens (the student system prompt alone is longer): nothing is cut and trained
    with pytest.raises(OverLengthError, match=r"every one of the 2 examples is longer than max_seq_len=128"):
        prepare_examples(_cfg(tiny_hf_dir, data, tmp_path, max_seq_len=128))
    with pytest.raises(
        OverLengthError, match=r"2 of 2 examples are longer than max_seq_len=128 \(example:tokens 0:\d+"
    ):
        prepare_examples(_cfg(tiny_hf_dir, data, tmp_path, max_seq_len=128, over_length="refuse"))


def test_refuse_policy_names_the_examples():
    ex = [[{"role": "assistant", "content": "a"}]] * 3
    kept, rep = fit_to_length(ex, [10, 50, 20], 30)
    assert len(kept) == 2 and rep.dropped == [(1, 50)] and rep.longest == 50 and rep.longest_kept == 20
    with pytest.raises(OverLengthError, match=r"1 of 3 examples .* 1:50.* at least 50"):
        fit_to_length(ex, [10, 50, 20], 30, "refuse")
    assert json.loads(json.dumps(rep.as_dict()))["dropped_examples"] == [1]
