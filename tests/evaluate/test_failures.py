"""The failure reading (evaluate/failures.py) over runs made by the real eval runner: real agent loop, real
sandbox, a real BM25 index over a small corpus, scripted model outputs (ReplayLLM). Each wrong answer is built
to fail one way; its category is asserted exactly, and so are the report's counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.evaluate.failures import CATEGORIES, read_run, read_runs
from agentdistill.evaluate.failures_report import write_failures
from agentdistill.evaluate.records import load_run
from agentdistill.evaluate.report import write_report
from agentdistill.evaluate.run import evaluate
from agentdistill.evaluate.settings import EvalSettings

F = "```"
CORPUS = [
    ("d1", "Kiss and Tell (1945 film)", "Kiss and Tell is a 1945 comedy film starring Shirley Temple."),
    ("d2", "Shirley Temple", "Shirley Temple was an American actress and later a diplomat."),
    ("d3", "Lyon", "Lyon is a city in France on the Rhone."),
    ("d4", "Paris", "Paris is the capital city of France."),
    ("d5", "Marseille", "Marseille is a port city in France."),
    ("d6", "Rhone", "The Rhone is a river that flows through France to the Mediterranean."),
]


def step(code: str) -> str:
    return f"Thought: go.\nCode:\n{F}py\n{code}\n{F}<end_code>"


def qa(i: str, answer: str = "Shirley Temple") -> Task:
    return Task(
        id=i, dataset="hotpotqa", kind="qa", question=f"Who starred in Kiss and Tell? ({i})", answer=answer
    )


def math(i: str, question: str, answer: str) -> Task:
    return Task(id=i, dataset="gsm8k", kind="math", question=question, answer=answer)


# (task, its scripted steps, the expected primary category or None when correct); max_steps=2
CASES: list[tuple[Task, list[str], str | None]] = [
    (qa("right"), [step("final_answer('Shirley Temple')")], None),
    # the search surfaced the gold answer, the agent answered something else
    (
        qa("read"),
        [step("print(search('Kiss and Tell 1945 film'))"), step("final_answer('Kiss and Tell')")],
        "reading_miss",
    ),
    # its search never surfaced the gold answer
    (qa("miss"), [step("print(search('Lyon city France'))"), step("final_answer('Lyon')")], "retrieval_miss"),
    # the same query twice, then out of steps; the forced turn answers
    (
        qa("loop"),
        [step("print(search('Kiss and Tell'))"), step("print(search('kiss and tell'))"), "Lyon"],
        "search_loop",
    ),
    # no parsable step, then a forced answer
    (qa("parse"), ["I think it is Lyon.", "No code here either.", "Lyon"], "parse_errors"),
    # both steps raise
    (qa("raise"), [step("1 / 0"), step("undefined_name + 1"), "Lyon"], "code_errors"),
    # the number was never printed: arithmetic by hand
    (math("hand", "What is 17 * 23?", "391"), [step("final_answer(381)")], "hand_arithmetic"),
    # printed by code, then passed on: the code computed the wrong quantity
    (
        math("setup", "What is 17 * 23?", "391"),
        [step("print(17 + 23)"), step("final_answer(40)")],
        "wrong_setup",
    ),
    (math("setup2", "What is 6 * 7?", "42"), [step("x = 6 + 7\nfinal_answer(x)")], "wrong_setup"),
    # the forced turn types a number no code printed: worked out by hand
    (
        math("forced_hand", "What is 17 * 23?", "391"),
        [step("print('let me think')"), step("x = 17"), "381"],
        "hand_arithmetic",
    ),
    # the forced turn copies (rounded) what code printed: the code computed the wrong thing
    (
        math("forced_copy", "What is 5 + 5?", "10"),
        [step("print(682531.6944444444)"), step("y = 1"), "682531.69"],
        "wrong_setup",
    ),
    # a sentence typed as the answer; its result was never printed
    (
        math("sentence", "How many apples in 30 days at 218983 a day?", "6569490"),
        [step('final_answer("218983 apples per day * 30 days = 637946 apples")')],
        "hand_arithmetic",
    ),
    # a whole number typed from a printed value rounded up
    (
        math("ceil", "How many buses?", "5032"),
        [step("print(35213 / 0.03)"), step("final_answer(1173767)")],
        "wrong_setup",
    ),
    # one error, then recovered: the answer came out of code, the error is not the reason
    (
        math("recovered", "What is 6 * 7?", "42"),
        [step("undefined_name + 1"), step("x = 6 + 7\nfinal_answer(x)")],
        "wrong_setup",
    ),
    # a math answer with no number in it
    (math("words", "What is 6 * 7?", "42"), [step("final_answer('I do not know')")], "no_answer"),
    # Python did the arithmetic (an expression of constants), not the model
    (
        math("expr", "What is 1390409 * 33?", "45883497"),
        [step("final_answer(1390409 * 25 + 1390409 * 8 + 1)")],
        "wrong_setup",
    ),
    # a printed value copied with its minus sign dropped
    (
        math("sign", "What is 5 - 250?", "-245"),
        [step("print(-245 * 2)"), step("final_answer(490)")],
        "wrong_setup",
    ),
    # keyword argument, a number never printed; a 400-digit printed integer must not break the reading
    (
        math("kw", "What is 17 * 23?", "391"),
        [step("print(2 ** 1400)"), step("final_answer(answer=381)")],
        "hand_arithmetic",
    ),
    # a LaTeX fraction and a percentage copied from printed fractions
    (
        math("frac", "What is 1/3?", "1/3"),
        [step("print(1 / 2)"), step('final_answer(r"\\frac{1}{2}")')],
        "wrong_setup",
    ),
    (
        math("pct", "What share is it?", "50"),
        [step("print(0.4333)"), step('final_answer("43.33%")')],
        "wrong_setup",
    ),
    # searched and answered in one step: the answer came before the passages were read
    (
        qa("blind"),
        [step("print(search('Kiss and Tell 1945 film'))\nfinal_answer('Kiss and Tell')")],
        "retrieval_miss",
    ),
    # QA answered without calling the search tool it was offered
    (qa("nosearch"), [step("final_answer('Lyon')")], "no_search"),
    # out of steps, the forced turn repeats the words of its own request instead of answering (a small model's
    # habit, seen in the study's records): no answer, for QA and for math
    (
        qa("echo"),
        [
            step("print(search('Lyon city France'))"),
            step("print(search('Rhone river'))"),
            "no explanation, no code",
        ],
        "no_answer",
    ),
    (
        math("echo_math", "What is 6 * 7?", "42"),
        [step("x = 6 * 7"), step("y = x"), "Reply with the answer only."],
        "no_answer",
    ),
    # an answer that is the system prompt's placeholder, not the task's: no answer either
    (qa("echo_prompt"), [step('final_answer("what to look up")')], "no_answer"),
    # a forced one-word answer that is also a word of the request is an answer, not an echo
    (
        Task(id="yn_forced", dataset="hotpotqa", kind="qa", question="Is Lyon in Spain?", answer="yes"),
        [step("print(search('Lyon'))"), step("print(search('Spain'))"), "No"],
        "yes_no_miss",
    ),
    # the prompt's own example code run in place of the task (seen in the study's records: the teacher answering a
    # MATH problem with its example's 102, the student searching for "what to look up", the student prompt's
    # example, whose closing fence shares its line)
    (
        qa("copy_qa"),
        [step('print(search("what to look up"))'), step('final_answer("Lyon")')],
        "copied_example",
    ),
    (
        math("copy_math", "What is 6 * 7?", "42"),
        [step('print(search("what to look up"))\n# look it up'), step("final_answer(84)")],
        "copied_example",
    ),
    # a yes/no question answered wrong after a search
    (
        Task(id="yn", dataset="hotpotqa", kind="qa", question="Is Lyon in France?", answer="yes"),
        [step("print(search('Lyon'))"), step("final_answer('no')")],
        "yes_no_miss",
    ),
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agentdistill.retrieval import load_retriever
    from agentdistill.retrieval.index import build_index

    tmp = tmp_path_factory.mktemp("failures")
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in CORPUS))
    build_index(corpus, tmp / "index", "bm25", progress=False)
    script = [out for _, outs, _ in CASES for out in outs]
    out = tmp / "agent"
    settings = EvalSettings(label="Student agent", max_steps=2)
    evaluate(
        [t for t, _, _ in CASES],
        ReplayLLM(script),
        out,
        settings,
        retriever=load_retriever(str(tmp / "index")),
    )
    return out


def test_each_wrong_answer_is_read_as_built(run_dir: Path) -> None:
    run = load_run(run_dir)
    readings = read_run(run)
    assert readings is not None and readings.n == len(CASES)
    got = {r.task_id: r.primary for r in readings.readings}
    assert got == {t.id: cat for t, _, cat in CASES if cat is not None}
    by_id = {r.task_id: r for r in readings.readings}
    assert "forced" in by_id["loop"].tags and "forced" not in by_id["read"].tags
    assert by_id["loop"].prediction == "Lyon" and by_id["loop"].gold == "Shirley Temple"
    # a forced answer after a search loop that did surface the gold answer is also a reading miss
    assert set(by_id["loop"].tags) == {"search_loop", "reading_miss", "forced"}
    assert by_id["words"].tags == ("no_answer",)  # a non-answer gets no reading of its (absent) value
    assert by_id["echo"].tags == ("no_answer", "forced") and by_id["echo_math"].tags == (
        "no_answer",
        "forced",
    )
    assert by_id["yn_forced"].tags == ("yes_no_miss", "forced")
    assert by_id["copy_math"].tags == ("copied_example", "hand_arithmetic")
    assert by_id["copy_qa"].tags == ("copied_example", "retrieval_miss")


def test_report_counts_and_files(run_dir: Path, tmp_path: Path) -> None:
    write_report([load_run(run_dir)], tmp_path, chart=False)
    data = json.loads((tmp_path / "failures.json").read_text())
    wrong = [cat for _, _, cat in CASES if cat is not None]
    assert len(data) == 1 and (data[0]["n"], data[0]["wrong"]) == (len(CASES), len(wrong))
    assert data[0]["primary"] == {c: wrong.count(c) for c in CATEGORIES}
    md = (tmp_path / "failures.md").read_text()
    assert f"{len(wrong)} wrong of {len(CASES)} scored questions." in md
    assert wrong.count("wrong_setup") == 9 and len(wrong) == 28
    assert "| wrong_setup | 9 (32% [18, 51]) | 9 |" in md  # share of the 28 wrong, 95% Wilson interval
    report = (tmp_path / "report.md").read_text()
    assert "## Why agent answers were wrong" in report
    counts = " | ".join(str(wrong.count(c)) for c in CATEGORIES if c in wrong)
    assert f"| Student agent | {len(CASES)} | {len(wrong)} | {counts} | 8 |" in report  # 8 forced answers


def test_cot_runs_and_correct_runs_are_not_read(run_dir: Path, tmp_path: Path) -> None:
    cot_dir = tmp_path / "cot"
    tasks = [math("c1", "What is 6 * 7?", "42")]
    evaluate(tasks, ReplayLLM(["6 * 7 = 42. The answer is \\boxed{41}."]), cot_dir, EvalSettings(mode="cot"))
    assert read_run(load_run(cot_dir)) is None
    assert write_failures(read_runs([load_run(cot_dir)]), tmp_path / "out") is None
    assert not (tmp_path / "out").exists()


def test_a_record_whose_trajectory_is_not_one_is_read_as_unreadable(
    run_dirs_copy: Path, tmp_path: Path
) -> None:
    lines = (run_dirs_copy / "results.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])  # task "read": a wrong answer
    bad["trajectory"] = {"steps": "not a list of steps"}
    (run_dirs_copy / "results.jsonl").write_text("\n".join([lines[0], json.dumps(bad), *lines[2:]]) + "\n")
    readings = read_run(load_run(run_dirs_copy))
    assert readings is not None
    assert {r.task_id: r.primary for r in readings.readings}["read"] == "unreadable"  # still counted as wrong
    assert len(readings.readings) == len(CASES) - 1  # all but the right answer
    write_report([load_run(run_dirs_copy)], tmp_path / "report", chart=False)  # the report still renders


@pytest.fixture()
def run_dirs_copy(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run_dir, tmp_path / "copy"))
