"""LLM judge: verdict parsing, caching per (question, prediction), and the real llm interface end to end."""

import json

import pytest

from agentdistill.data.task import Task
from agentdistill.grading import LLMJudge
from agentdistill.grading.judge import parse_verdict


class FakeJudgeAPI:
    """Stands for a remote judge API (the only thing mocked): returns scripted replies, counts calls."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def generate(self, messages, config, prefix=""):
        from agentdistill.llm.types import Completion, GenerationResult, Usage

        self.calls.append((messages, config))
        text = self.replies.pop(0)
        return GenerationResult(completions=[Completion(text=text, finish_reason="stop", tokens=3)], usage=Usage())


@pytest.mark.parametrize(("text", "want"), [
    ("Verdict: CORRECT", True), ("Verdict: INCORRECT", False), ("verdict - correct.", True),
    ("**Verdict:** Incorrect", False), ("CORRECT", True), ("incorrect.", False), ("Yes", True),
    ("I think it might be right", None), ("", None), ("Verdict: maybe", None),
])
def test_parse_verdict(text, want):
    assert parse_verdict(text) is want


def test_judge_caches_and_reports_unparsed(tmp_path):
    cache = tmp_path / "judge.jsonl"
    api = FakeJudgeAPI(["Verdict: CORRECT", "blah blah"])
    judge = LLMJudge(api, cache)
    task = Task(id="1", dataset="d", kind="qa", question="Capital of France?", answer="Paris")
    g = judge.grade(task, "the city of Paris")
    assert g.correct and g.method == "judge"
    assert api.calls[0][1].temperature == 0 and "Capital of France?" in api.calls[0][0][0]["content"]
    assert judge.grade(task, "the city of Paris").correct and len(api.calls) == 1  # cached
    bad = judge.grade(task, "Lyon")
    assert not bad.correct and bad.method == "judge-unparsed" and "blah" in bad.detail
    # a fresh judge reads the cache file (and skips a line cut short by a kill)
    with cache.open("a") as fh:
        fh.write('{"key": "trunc')
    again = LLMJudge(FakeJudgeAPI([]), cache)
    assert again.grade(task, "the city of Paris").correct
    assert len([json.loads(x) for x in cache.read_text().splitlines()[:2]]) == 2


def test_judge_with_real_model(tiny_gguf, tmp_path):
    from agentdistill.models.loading import load_llm

    llm = load_llm(f"llamacpp:{tiny_gguf}", n_ctx=1024)
    try:
        judge = LLMJudge(llm, tmp_path / "c.jsonl", max_tokens=8)
        g = judge.judge("What is 2+2?", "4", "4")
        assert g.method in ("judge", "judge-unparsed")
        assert (tmp_path / "c.jsonl").exists()
    finally:
        llm.close()
