"""The paper's turn format: golden transcripts through the real loop (ReplayLLM + real sandbox + real BM25) with
the built-in strings and with a user prompt that sets its own, the last statement's value, the search-result
layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agentdistill.agent import run_episode
from agentdistill.agent.paper_format import (
    LAST_TOOL,
    PaperFormat,
    paper_passages,
    turn_strings,
    with_last_value,
)
from agentdistill.agent.prompts import PromptError, load_prompt
from agentdistill.agent.records import Step
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
    assert messages[0]["content"] == load_prompt("paper").render(search=True)  # the fixture is of this prompt
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
    strings = turn_strings(load_prompt("paper"))
    turn = traj.messages[3]["content"]
    expected = strings["parse_error"].replace("{error}", traj.steps[0].error or "<no error>")
    assert turn == f"Error:\n{expected}\n{strings['retry']}\n" and "Call id" not in turn


def test_user_prompt_strings_change_the_turns(retriever) -> None:
    """paper_strings.j2 sets every string: the turns the real loop sends are the hand-written fixture's."""
    llm = ReplayLLM(
        [
            "I think it is Shirley Temple.",
            step("The year as a number.", 'year = int("19x45")'),
            "Shirley Temple",
        ]
    )
    traj = run_episode(TASK, llm, retriever=retriever, prompt=str(FIXTURES / "paper_strings.j2"), max_steps=2)
    assert traj.forced_final_answer and traj.final_answer == "Shirley Temple"
    text = (FIXTURES / "paper_strings_golden.yaml").read_text(encoding="utf-8")
    expected = yaml.safe_load(text.replace("<<parse_error>>", traj.steps[0].error or "<no error>"))
    assert [m["role"] for m in traj.messages] == [m["role"] for m in expected]
    for i, (got, want) in enumerate(zip(traj.messages, expected, strict=True)):
        assert got["content"] == want["content"], f"message {i} ({want['role']}) differs"
    forced_call = llm.calls[2][0]
    assert forced_call == [{"role": "system", "content": "FORCED SYSTEM."}, *traj.messages[1:-1]]


def test_strings_left_unset_keep_the_builtin_text_and_fill_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "mine.j2"
    path.write_text(
        "{#- agentdistill: format=paper -#}\n{% set retry %}AGAIN{% endset %}\n"
        "{% set syntax_error %}S:{error}{% endset %}\n{% set truncated %}~{max_chars}~{% endset %}\nHi.\n"
    )
    fmt = turn_format(load_prompt(path))
    assert isinstance(fmt, PaperFormat)
    builtin = turn_strings(load_prompt("paper"))
    assert fmt.strings == {
        **builtin,
        "retry": "AGAIN",
        "syntax_error": "S:{error}",
        "truncated": "~{max_chars}~",
    }
    # one pass: a placeholder inside the error text is not filled again
    syntax = Step(index=0, raw="", error_kind="syntax", error="bad {line}")
    assert fmt.error(syntax) == "Call id: call_1\nError:\nS:bad {line}\nAGAIN\n"
    exec_no_line = Step(index=1, raw="", error_kind="exception", error="E", stdout="out\n")
    assert fmt.error(exec_no_line) == (
        "Call id: call_2\nObservation:\nExecution logs:\nout\nCall id: call_2\nError:\n"
        + builtin["exec_error"].replace("{error}", "E")
        + "\nAGAIN\n"
    )
    long = Step(index=0, raw="", last_value="a" * 15_000 + "b" * 15_000)
    shown = fmt.observation(long).split("Last output from code snippet:\n")[1]
    assert shown == "a" * 10_000 + "\n~20000~\n" + "b" * 10_000
    empty = tmp_path / "no_line.j2"
    empty.write_text("{#- agentdistill: format=paper -#}\n{% set answer_format = '' %}\nHi.\n")
    assert turn_format(load_prompt(empty)).task(TASK) == f"New task:\n{TASK.question}"


def test_bad_string_names_the_prompt_and_string(tmp_path: Path) -> None:
    path = tmp_path / "bad.j2"
    path.write_text("{#- agentdistill: format=paper -#}\n{% set exec_error_at %}at {line}{% endset %}\nHi.\n")
    with pytest.raises(PromptError, match=r"bad.j2': string 'exec_error_at' must contain \{error\}"):
        turn_format(load_prompt(path))
    path.write_text("{#- agentdistill: format=paper -#}\n{% set retry = 3 %}\nHi.\n")
    with pytest.raises(PromptError, match=r"string 'retry' must be text, got int"):
        turn_format(load_prompt(path))


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
    strings = turn_strings(load_prompt("paper"))
    llm = ReplayLLM([step("look", 'print("still looking")'), "Shirley Temple"])
    traj = run_episode(TASK, llm, retriever=retriever, prompt="paper", max_steps=1)
    assert traj.forced_final_answer and traj.final_answer == "Shirley Temple"
    sent = llm.calls[1][0]
    assert sent[0] == {"role": "system", "content": strings["final_answer_system"]}
    assert sent[1]["content"].startswith("New task:\n") and [m["role"] for m in sent] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert sent[-1]["content"] == (
        "Call id: call_1\nObservation:\nExecution logs:\nstill looking\nLast output from code snippet:\nNone"
        + strings["final_answer_request"]
        + "\n"
        + TASK.question
    )
    assert traj.messages[0]["content"] == load_prompt("paper").render(
        search=True
    )  # the record keeps its prompt
    assert traj.messages[-2] == sent[-1] and traj.messages[-1] == {
        "role": "assistant",
        "content": "Shirley Temple",
    }
