"""Bundled sets load by name with the right sizes and answers; user files load; bad data names file/line/field."""

import gzip
import json

import pytest

from agentdistill.data import DataError, list_task_sets, load_tasks
from agentdistill.data.answers import gsm8k_answer, last_boxed
from agentdistill.data.build.sets import norm_problem

EXPECTED = {
    "hotpotqa-test": 500,
    "musique-test": 500,
    "2wiki-test": 500,
    "bamboogle-test": 125,
    "math500": 500,
    "gsm-hard-500": 500,
    "aime-90": 90,
    "olymmath-200": 200,
    "hotpotqa-train": 1000,
    "math-train": 1000,
    "math-medium-train": 998,
    "gsm8k-train": 7473,
    "gsm8k-test": 1319,
    "gsm-hard": 1319,
    "math-pool-train": 4500,
    "aime24": 30,
    "amc23": 40,
    "hotpotqa-paper-closed": 264,
}


def test_list_task_sets_counts():
    infos = {i.name: i for i in list_task_sets()}
    for name, n in EXPECTED.items():
        assert infos[name].count == n, name
    assert {i.kind for i in infos.values()} == {"qa", "math"}
    assert infos["gsm8k-train"].split == "train" and infos["math500"].split == "test"


@pytest.mark.parametrize("name", ["hotpotqa-test", "math500", "gsm-hard", "bamboogle-test", "amc23"])
def test_load_by_name(name):
    tasks = load_tasks(name)
    assert len(tasks) == EXPECTED[name]
    assert len({t.id for t in tasks}) == len(tasks)
    assert all(t.question and t.answer and t.dataset == name for t in tasks)


def test_answers_extracted():
    gsm = load_tasks("gsm8k-train", limit=2)
    assert gsm[0].answer == "72" and "####" not in gsm[0].answer
    hard = {t.id: t for t in load_tasks("gsm-hard")}
    assert all(isinstance(float(t.answer), float) for t in hard.values())
    m500 = load_tasks("math500", limit=1)[0]
    assert m500.answer == r"\left( 3, \frac{\pi}{2} \right)" and m500.kind == "math"
    assert load_tasks("hotpotqa-test", limit=1)[0].kind == "qa"


def test_math_pool_excludes_math500():
    held = {norm_problem(t.question) for t in load_tasks("math500")}
    pool = load_tasks("math-pool-train")
    assert not any(norm_problem(t.question) in held for t in pool)
    assert all(t.answer for t in pool)


def test_gsm8k_train_test_disjoint():
    train = {norm_problem(t.question) for t in load_tasks("gsm8k-train")}
    assert not any(norm_problem(t.question) in train for t in load_tasks("gsm8k-test"))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{1} and \boxed{\left(3, \frac{\pi}{2}\right)}", r"\left(3, \frac{\pi}{2}\right)"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\fbox{7}", "7"),
        (r"no box", None),
        (r"\boxed{unclosed", None),
    ],
)
def test_last_boxed(text, want):
    assert last_boxed(text) == want


def test_gsm8k_answer():
    assert gsm8k_answer("a\n#### 1,234") == "1234"
    assert gsm8k_answer("no marker") is None


def test_limit():
    assert len(load_tasks("math500", limit=3)) == 3
    with pytest.raises(DataError):
        load_tasks("math500", limit=-1)


def test_unknown_name_suggests():
    with pytest.raises(DataError, match="hotpotqa-test"):
        load_tasks("hotpot-test")


def test_user_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"examples": [{"id": 1, "question": "q1", "answer": 3}]}))
    (tmp_path / "b.json").write_text(json.dumps([{"question": "q1", "answer": "x", "aliases": ["y"]}]))
    (tmp_path / "c.jsonl").write_text(
        '{"question": "q1", "answer": "x", "kind": "math", "extra": 1}\n\n'
        '{"question": "q2", "answer": "y", "kind": "math"}\n'
    )
    (tmp_path / "d.csv").write_text('Q,A\nWho?,Bob\n"Where, then?",Paris\n')
    a = load_tasks(tmp_path / "a.json")
    assert a[0].answer == "3" and a[0].id == "1" and a[0].kind == "qa" and a[0].dataset == "a"
    assert load_tasks(str(tmp_path / "b.json"))[0].aliases == ["y"]
    c = load_tasks(str(tmp_path / "c.jsonl"))
    assert [t.question for t in c] == ["q1", "q2"] and c[0].meta == {"extra": 1} and c[0].kind == "math"
    d = load_tasks(str(tmp_path / "d.csv"), field_map={"question": "Q", "answer": "A"})
    assert [(t.question, t.answer) for t in d] == [("Who?", "Bob"), ("Where, then?", "Paris")]
    with gzip.open(tmp_path / "e.jsonl.gz", "wt") as fh:
        fh.write('{"question": "q", "answer": "a"}\n')
    assert load_tasks(str(tmp_path / "e.jsonl.gz"))[0].answer == "a"


def test_bad_data_names_file_line_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "q1", "answer": "x"}\n{"question": "q2", "ans')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        load_tasks(str(p))
    p2 = tmp_path / "missing.jsonl"
    p2.write_text('{"question": "q1", "answer": "x"}\n{"question": "q2"}\n')
    with pytest.raises(DataError, match=r"missing\.jsonl:2: field 'answer'"):
        load_tasks(str(p2))
    p3 = tmp_path / "m.csv"
    p3.write_text("Q,A\nWho?,\n")
    with pytest.raises(DataError, match=r"m\.csv:2: field 'A'"):
        load_tasks(str(p3), field_map={"question": "Q", "answer": "A"})
    p4 = tmp_path / "k.json"
    p4.write_text('[{"question": "q", "answer": "a", "kind": "poetry"}]')
    with pytest.raises(DataError, match="field 'kind'"):
        load_tasks(str(p4))
    p5 = tmp_path / "t.json"
    p5.write_text('{"examples": [{"question": "q",')
    with pytest.raises(DataError, match=r"t\.json:1: invalid JSON"):
        load_tasks(str(p5))
    with pytest.raises(DataError, match="file not found"):
        load_tasks(str(tmp_path / "nope.jsonl"))
