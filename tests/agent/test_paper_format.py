"""The paper's turn format: a golden transcript through the real loop (ReplayLLM + real sandbox + real BM25),
the last statement's value, and the search-result layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agentdistill.agent import run_episode
from agentdistill.agent.paper_format import LAST_TOOL, PaperFormat, paper_passages, with_last_value
from agentdistill.agent.prompts import load_prompt
from agentdistill.agent.replay import ReplayLLM
from agentdistill.agent.turns import PlainFormat, turn_format
from agentdistill.data.task import Task
from agentdistill.retrieval.types import Passage

FIXTURES = Path(__file__).parent / "fixtures"
F = "```"
QUERY = "Kiss and Tell film Corliss Archer"
CORPUS = [
    (
        "p-kiss",
        "Kiss and Tell (1945 film)",
        "Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer.",
    ),
    ("p-temple", "Shirley Temple", "Shirley Temple Black was an American film actress and diplomat."),
    ("p-nile", "Nile", "The Nile is a major north-flowing river in northeastern Africa."),
]
TASK = Task(
    id="q1",
    dataset="unit",
    kind="qa",
    question="Which actress played Corliss Archer in the film Kiss and Tell?",
    answer="Shirley Temple",
)


def step(thought: str, code: str) -> str:
    return f"Thought: {thought}\nCode:\n{F}py\n{code}\n{F}<end_code>"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):
    from agentdistill.retrieval import load_retriever
    from agentdistill.retrieval.index import build_index

    tmp = tmp_path_factory.mktemp("paper-corpus")
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in CORPUS))
    build_index(corpus, tmp / "index", "bm25", progress=False)
    return load_retriever(str(tmp / "index"))


def golden(retriever) -> list[dict[str, str]]:
    messages = yaml.safe_load((FIXTURES / "paper_golden.yaml").read_text(encoding="utf-8"))
    hits = retriever.search(QUERY, 2)
    assert [h.title for h in hits] == ["Kiss and Tell (1945 film)", "Shirley Temple"]
    for m in messages:
        for i, hit in enumerate(hits):
            m["content"] = m["content"].replace(f"<<score{i}>>", f"{hit.score:.2f}")
    return messages


def test_golden_transcript_search_error_final_answer(retriever) -> None:
    llm = ReplayLLM(
        [
            step(
                "I will search for the film first.",
                f'print("Searching the corpus.")\ndocs = web_search(query="{QUERY}")',
            ),
            step(
                "The film is from 1945; I will keep the year as a number.",
                'print("Parsing the year.")\nyear = int("19x45")',
            ),
            step(
                "The first document says Shirley Temple played Corliss Archer.",
                'final_answer("Shirley Temple")',
            ),
        ]
    )
    traj = run_episode(TASK, llm, retriever=retriever, prompt="paper", k=2, max_steps=5)
    assert traj.status == "answered", traj.error
    assert traj.final_answer == "Shirley Temple"
    expected = golden(retriever)
    assert [m["role"] for m in traj.messages] == [m["role"] for m in expected]
    for i, (got, want) in enumerate(zip(traj.messages, expected, strict=True)):
        assert got["content"] == want["content"], f"message {i} ({want['role']}) differs"
    # the model was asked with exactly these turns, and stopped by the paper's stop strings
    assert llm.calls[2][0] == traj.messages[:-1]
    assert llm.calls[0][1].stop == ("<end_code>", "Observation:", "Calling tools:")
    # the hidden last-value tool is not part of the record
    assert all(c["name"] != LAST_TOOL for s in traj.steps for c in s.tool_calls)
    assert [c["name"] for c in traj.steps[0].tool_calls] == ["web_search"]
    assert traj.steps[0].last_value is not None and traj.steps[0].last_value.startswith(
        "\nRetrieved documents:"
    )
    assert traj.steps[1].error_kind == "exception" and traj.steps[1].stdout == "Parsing the year.\n"
    # training renders the same system prompt for this trajectory (distill/sft.py with the paper prompt)
    from agentdistill.distill.sft import student_system_prompt

    assert student_system_prompt(traj, "paper") == traj.messages[0]["content"]


def test_parse_error_turn_has_no_call_id(retriever) -> None:
    llm = ReplayLLM(["I think it is Shirley Temple.", step("answer", 'final_answer("Shirley Temple")')])
    traj = run_episode(TASK, llm, retriever=retriever, prompt="paper", max_steps=3)
    turn = traj.messages[3]["content"]
    assert turn.startswith("Error:\nError in code parsing:\n") and "Call id" not in turn
    assert turn.endswith(
        "Make sure to provide correct code blobs.\nNow let's retry: take care not to repeat "
        "previous errors! If you have retried several times, try a completely different approach.\n"
    )


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("x = 2 + 3", "5"),
        ("2 + 3", "5"),
        ("x = 1\nx += 4", "5"),
        ("y: int = 7", "7"),
        ("print('hi')", "None"),
        ("for i in range(2):\n    pass", None),  # no value: the observation shows "None", like smolagents
        ("s = 'é'; t = 'àé'\n[s,\n t]", "['é', 'àé']"),
        ("def f():\n    return 1", None),
    ],
)
def test_last_value_of_the_code(code: str, value: str | None) -> None:
    from agentdistill.sandbox import Sandbox

    fmt = PaperFormat(load_prompt("paper"))
    with Sandbox(tools=fmt.tools(None)) as raw:
        sandbox = fmt.wrap_sandbox(raw)
        result = sandbox.run(code)
        assert result.error is None, result.error
        assert result.last_value == value
        assert result.tool_calls == []


def test_rewrite_keeps_line_numbers() -> None:
    code = "a = 1\nb = (a +\n     1)\nb * 2"
    out, originals = with_last_value(code)
    assert out.count("\n") == code.count("\n") and out.splitlines()[:3] == code.splitlines()[:3]
    assert originals == {out.splitlines()[3]: "b * 2"}
    assert with_last_value("x = (1 +") == ("x = (1 +", {})  # does not parse: left for the sandbox to report


def test_error_in_the_last_expression_shows_the_models_line() -> None:
    from agentdistill.sandbox import Sandbox

    fmt = PaperFormat(load_prompt("paper"))
    with Sandbox(tools=fmt.tools(None)) as raw:
        result = fmt.wrap_sandbox(raw).run("x = 0\n1 / x")
    assert result.error is not None and result.error.text == "1 / x" and result.error.line == 2
    assert LAST_TOOL not in result.observation and result.last_value is None


def test_search_result_layout() -> None:
    text = paper_passages(
        [Passage("a", "Paris", "Paris is the capital.", 12.345), Passage("b", "Nile", "A river.", 3.0)]
    )
    assert text == (
        '\nRetrieved documents:\n\n===== Document 0, similarity: 12.35 =====\n"Paris"\nParis is the '
        'capital.\n\n===== Document 1, similarity: 3.00 =====\n"Nile"\nA river.'
    )


def test_prompt_selects_format() -> None:
    assert isinstance(turn_format(load_prompt("paper")), PaperFormat)
    assert type(turn_format(load_prompt("student"))) is PlainFormat
    assert type(turn_format(load_prompt("teacher"))) is PlainFormat


def test_forced_answer_uses_the_papers_final_answer_call(retriever) -> None:
    from agentdistill.agent.paper_format import FINAL_ANSWER_POST, FINAL_ANSWER_PRE

    llm = ReplayLLM([step("look", 'print("still looking")'), "Shirley Temple"])
    traj = run_episode(TASK, llm, retriever=retriever, prompt="paper", max_steps=1)
    assert traj.forced_final_answer and traj.final_answer == "Shirley Temple"
    sent = llm.calls[1][0]
    assert sent[0] == {"role": "system", "content": FINAL_ANSWER_PRE}
    assert sent[1]["content"].startswith("New task:\n") and [m["role"] for m in sent] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert sent[-1]["content"] == (
        "Call id: call_1\nObservation:\nExecution logs:\nstill looking\nLast output from code snippet:\nNone"
        + FINAL_ANSWER_POST
        + TASK.question
    )
    assert traj.messages[0]["content"] == load_prompt("paper").render(
        search=True
    )  # the record keeps its prompt
    assert traj.messages[-2] == sent[-1] and traj.messages[-1] == {
        "role": "assistant",
        "content": "Shirley Temple",
    }
