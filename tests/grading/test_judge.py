"""LLM judge: the paper's verdict format parsed, malformed replies retried then counted, verdicts cached, the
run-level tally (judge accuracy, EM agreement), and a real model's clear verdicts on obvious pairs."""

import json

import pytest

from agentdistill.data.task import Task
from agentdistill.grading import LLMJudge
from agentdistill.grading.judge import (
    FORMAT_REMINDER,
    JudgeTally,
    judge_results_file,
    parse_verdict,
    read_judge_summary,
)
from agentdistill.grading.types import Grade


class RecordedJudge:
    """Plays back judge replies recorded from a model (the only stand-in here); counts calls."""

    name = "recorded-judge"

    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []

    def generate(self, messages, config, prefix=""):
        from agentdistill.llm.types import Completion, GenerationResult, Usage

        self.calls.append((messages, config))
        text = self.replies.pop(0)
        return GenerationResult(
            completions=[Completion(text=text, finish_reason="stop", tokens=3)], usage=Usage()
        )


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"explanation": "Same city.", "score": 1}', True),
        ('{"explanation": "Different city.", "score": 0}', False),
        ('```json\n{"explanation": "same", "score": "1"}\n```', True),
        ('Sure. {"explanation": "x", "score": 0} done', False),
        ('{"explanation": "cut short because', None),
        (
            '{"explanation": "cut", "score": 1',
            True,
        ),  # a reply cut at max_tokens: the score fragment still reads
        ('{"explanation": "x", "score": 0.5}', None),
        ("The prediction names the same person.\n**Score:** 1", True),  # markdown instead of JSON
        ("Different years.\nScore: **0**", False),
        ("**Score**: 10", None),
        ('{"explanation": "x", "score": 10}', None),
        ("The answers match.", None),
        # replies without the JSON: a score phrase, or a last line that is only a verdict
        ("Score: 1/1", True),
        ("Score: 0/1", False),
        ("Same person.\nScore: 1.", True),
        ("{'explanation': 'single quotes', 'score': 1}", True),
        ("Both name the same city. The score is 1.", True),
        ("CORRECT", True),
        ("**INCORRECT**", False),
        ("The answer is correct.", True),
        ("The answer is not correct.", False),
        ("Reasoning first.\nVerdict: incorrect", False),
        ("1", True),
        ("0", False),
        ("The answer is correct in part but misses the year.", None),
        ("", None),
    ],
)
def test_parse_verdict(text, want):
    assert parse_verdict(text) is want


def test_malformed_reply_is_retried_with_a_reminder(tmp_path):
    api = RecordedJudge(["I think they match.", '{"explanation": "same city", "score": 1}'])
    judge = LLMJudge(api, tmp_path / "c.jsonl")
    g = judge.judge("Capital of France?", "Paris", "the city of Paris")
    assert g.correct is True and g.method == "judge"
    assert len(api.calls) == 2
    retry_messages = api.calls[1][0]
    assert [m["role"] for m in retry_messages] == ["user", "assistant", "user"]
    assert (
        retry_messages[1]["content"] == "I think they match."
        and retry_messages[2]["content"] == FORMAT_REMINDER
    )
    rec = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert rec["attempts"] == 2 and rec["verdict"] is True


def test_unparseable_after_retries_is_counted_not_called_incorrect_silently(tmp_path):
    api = RecordedJudge(["maybe", "hmm", "no idea"])
    judge = LLMJudge(api, tmp_path / "c.jsonl", retries=2)
    g = judge.judge("Capital of France?", "Paris", "Lyon")
    assert len(api.calls) == 3
    assert g.correct is False and g.method == "judge-unparsed" and "after 3 attempts" in g.detail
    tally = JudgeTally()
    tally.add(g, em_correct=False)
    tally.add(Grade(correct=True, method="judge"), em_correct=False)
    tally.add(Grade(correct=True, method="judge"), em_correct=True)
    d = tally.as_dict()
    assert d["unparsed"] == 1 and d["n"] == 3 and d["judge_correct"] == 2
    assert d["agreement"] == pytest.approx(0.5)  # of the two parsed verdicts, one agrees with EM


def test_empty_predictions_are_wrong_but_not_counted_as_agreeing_verdicts(tmp_path):
    """The fault this guards: an empty prediction (never sent to the judge) counted as a parsed verdict agreeing
    with EM, so a weak model's many non-answers inflated the judge/EM agreement."""
    api = RecordedJudge(['{"explanation": "same", "score": 1}', '{"explanation": "same", "score": 1}'])
    judge = LLMJudge(api, tmp_path / "c.jsonl")
    tally = JudgeTally()
    for _ in range(10):
        g = judge.judge("Capital of France?", "Paris", "  ")
        assert g.correct is False and g.method == "judge-empty"
        tally.add(g, em_correct=False)
    tally.add(judge.judge("Capital of France?", "Paris", "the city of Paris"), em_correct=False)
    tally.add(judge.judge("Capital of Italy?", "Rome", "Rome, Italy"), em_correct=False)
    d = tally.as_dict()
    assert len(api.calls) == 2 and (d["n"], d["judged"], d["empty"]) == (12, 2, 10)
    assert d["agreement"] == 0.0 and d["judge_correct"] == 2  # both verdicts disagree with EM


def test_cache_by_judge_model_and_torn_line(tmp_path):
    cache = tmp_path / "judge.jsonl"
    task = Task(id="1", dataset="d", kind="qa", question="Capital of France?", answer="Paris")
    api = RecordedJudge(['{"explanation": "same", "score": 1}'])
    judge = LLMJudge(api, cache)
    assert judge.grade(task, "the city of Paris").correct
    assert judge.grade(task, "the city of Paris").correct and len(api.calls) == 1  # cached in memory
    assert "Capital of France?" in api.calls[0][0][0]["content"] and api.calls[0][1].temperature == 0
    with cache.open("a") as fh:
        fh.write('{"key": "trunc')  # a kill mid-write
    again = LLMJudge(RecordedJudge([]), cache)  # same judge model: reads the file, asks nothing
    assert again.grade(task, "the city of Paris").correct
    other = RecordedJudge(['{"explanation": "no", "score": 0}'])
    other.name = "another-judge"
    assert not LLMJudge(other, cache).grade(task, "the city of Paris").correct  # another model is asked anew
    assert len(other.calls) == 1
    assert not judge.grade(task, "").correct  # an empty answer is never correct, and costs no call


def test_cache_reads_back_a_prediction_with_line_separators(tmp_path):
    """A prediction holding U+2028, U+2029 or U+0085 is cached raw (ensure_ascii=False); its verdict is read back
    by the next judge on that file: no second call (docs/reviews/bad-input-2026-12-02.md item 17)."""
    cache = tmp_path / "judge.jsonl"
    task = Task(id="1", dataset="d", kind="qa", question="Capital of France?", answer="Paris")
    prediction = "Paris\u2028(the capital)\u2029of France\u0085."
    api = RecordedJudge(['{"explanation": "same", "score": 1}'])
    assert LLMJudge(api, cache).grade(task, prediction).correct and len(api.calls) == 1
    assert "\u2028" in cache.read_text(encoding="utf-8")
    again = RecordedJudge([])  # any call would fail: nothing left to reply
    assert LLMJudge(again, cache).grade(task, prediction).correct and again.calls == []


def test_judge_results_file_tallies_against_em(tmp_path, capsys):
    tasks = [Task(id=str(i), dataset="hq", kind="qa", question=f"q{i}", answer="Paris") for i in range(3)]
    rows = [
        {"task": tasks[0].model_dump(), "prediction": "Paris", "grade": {"correct": True}},
        {"task": tasks[1].model_dump(), "prediction": "the city of Paris", "grade": {"correct": False}},
        {"task": tasks[2].model_dump(), "prediction": "Lyon", "grade": {"correct": False}},
        {
            "task": Task(id="m", dataset="gsm", kind="math", question="1+1", answer="2").model_dump(),
            "prediction": "2",
            "grade": {"correct": True},
        },
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    api = RecordedJudge(
        [
            '{"explanation": "a", "score": 1}',
            '{"explanation": "b", "score": 1}',
            '{"explanation": "c", "score": 0}',
        ]
    )
    summary = judge_results_file(results, LLMJudge(api))
    hq = summary["per_set"]["hq"]
    assert "gsm" not in summary["per_set"] and len(api.calls) == 3  # math is not judged
    assert hq["judge_correct"] == 2 and hq["em_correct"] == 1 and hq["agreement"] == pytest.approx(2 / 3)
    lines = [json.loads(x) for x in (tmp_path / "judge.jsonl").read_text().splitlines()]
    assert [x["judge"]["correct"] for x in lines] == [True, True, False]
    assert json.loads((tmp_path / "judge_summary.json").read_text()) == summary
    assert read_judge_summary(tmp_path) == summary and read_judge_summary(tmp_path / "none") is None
    # a real row is ~100 judge calls (minutes): a plain progress line over the QA answers (stderr not a TTY)
    assert f"judge {tmp_path.name}: 3/3 answers" in capsys.readouterr().err


@pytest.fixture(scope="module")
def coder_judge():
    from agentdistill.models.loading import load_llm

    # the 1.5B: with this rubric the 0.5B called "Berlin" a match for "Paris" (its explanation restated the
    # question); the 1.5B gave the right, parsed verdict on 6 of 6 obvious pairs (Paris/Berlin,
    # Shakespeare/Dickens, 1945/1939)
    llm = load_llm("qwen2.5-coder-1.5b", n_ctx=2048)
    yield llm
    llm.close()


@pytest.mark.parametrize(("prediction", "want"), [("Paris", True), ("Berlin", False)])
def test_real_model_gives_a_clear_parsed_verdict_on_an_obvious_pair(coder_judge, tmp_path, prediction, want):
    judge = LLMJudge(coder_judge, tmp_path / "c.jsonl")
    g = judge.judge("What is the capital of France?", "Paris", prediction)
    rec = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
    assert rec["verdict"] is want, rec["replies"]
    assert g.method == "judge" and g.correct is want


def test_judge_results_file_judges_a_retried_question_once_and_skips_failures(tmp_path):
    """Records from the real eval runner: both questions fail (unreachable endpoint), a resumed run answers the first
    and fails the second again; the judge sees the first question's last record only."""
    from agentdistill.agent.replay import ReplayLLM
    from agentdistill.evaluate.run import EvalSettings, evaluate
    from agentdistill.llm.openai_http import OpenAIHTTPLLM
    from local_servers import free_port

    tasks = [
        Task(id="1", dataset="hq", kind="qa", question="Capital of France?", answer="Paris"),
        Task(id="2", dataset="hq", kind="qa", question="Capital of Italy?", answer="Rome"),
    ]
    s = EvalSettings(label="cot", mode="cot", max_tokens=16)
    dead = OpenAIHTTPLLM("m", [f"http://127.0.0.1:{free_port()}/v1"], retries=1, backoff=0.01, timeout=2)
    evaluate(tasks, dead, tmp_path, s)  # an unreachable endpoint: every call is a backend failure
    evaluate(
        tasks, ReplayLLM(["The answer is Paris."], name="m"), tmp_path, s
    )  # retries both: one answer, one failure
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(r["task"]["id"], r["failure"] is None) for r in rows] == [
        ("1", False), ("2", False), ("1", True), ("2", False)
    ]  # fmt: skip
    api = RecordedJudge(['{"explanation": "same", "score": 1}'])
    summary = judge_results_file(tmp_path / "results.jsonl", LLMJudge(api))
    assert len(api.calls) == 1
    assert summary["per_set"]["hq"]["n"] == 1 and summary["per_set"]["hq"]["judge_correct"] == 1


def test_judge_seconds_are_the_calls_own_and_survive_a_resume_from_the_cache(tmp_path):
    """The eval stage's hours count the judge: ``seconds`` is each verdict's call time when it was made, so
    re-judging a resumed row from the cache (no calls) reports the same cost, not zero."""
    import time

    class SlowJudge(RecordedJudge):
        def generate(self, messages, config, prefix=""):
            time.sleep(0.05)
            return super().generate(messages, config, prefix)

    tasks = [Task(id=str(i), dataset="hq", kind="qa", question=f"q{i}", answer="Paris") for i in range(2)]
    rows = [{"task": t.model_dump(), "prediction": "Paris", "grade": {"correct": True}} for t in tasks]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "cache.jsonl"
    first = judge_results_file(results, LLMJudge(SlowJudge(['{"score": 1}'] * 2), cache))
    assert first["seconds"] >= 0.1  # two calls of at least 0.05 s
    lines = [json.loads(x) for x in cache.read_text().splitlines()]
    assert all(x["seconds"] >= 0.05 for x in lines)
    resumed = judge_results_file(results, LLMJudge(RecordedJudge([]), cache))  # all cached: asks nothing
    assert resumed == first
