"""The closed-corpus benchmark: byte-reproducible build, gold paragraphs present, no train/test leakage."""

import hashlib

import pytest

from agentdistill.data import load_tasks
from agentdistill.data.build.multihop import PACKAGE_DIR, build
from agentdistill.data.dedup import near_duplicates, norm_question
from agentdistill.retrieval.corpus import BUNDLED_DIR, default_corpus_path, read_corpus

TEST_SETS = ["hotpotqa-paper-closed", "2wiki-paper-closed", "2wiki-closed-test", "musique-closed-test"]
PAPER_TESTS = ["hotpotqa-test", "2wiki-test", "musique-test", "bamboogle-test"]


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_build_reproduces_shipped_files(shared_data, tmp_path):
    counts = build(shared_data / "raw", shared_data / "benchmarks", tmp_path)
    assert counts["hotpotqa-paper-closed"] == 264
    for name in ["multihop_corpus.jsonl.gz", "CARD.md"]:
        assert _sha(tmp_path / "corpus" / name) == _sha(BUNDLED_DIR / name), name
    for rel in [f"sets/{n}.jsonl.gz" for n in counts if n != "corpus"]:
        assert _sha(tmp_path / rel) == _sha(PACKAGE_DIR / rel), rel


def test_corpus_records_and_gold_present():
    ids, keys = set(), set()
    for rec in read_corpus(default_corpus_path()):
        assert rec.text
        assert rec.id not in ids
        ids.add(rec.id)
        key = (" ".join(rec.title.lower().split()), " ".join(rec.text.lower().split()))
        assert key not in keys
        keys.add(key)
    assert len(ids) > 15000
    for name in [*TEST_SETS, "multihop-train"]:
        tasks = load_tasks(name)
        assert tasks, name
        for t in tasks:
            assert t.meta["gold_ids"] and all(g in ids for g in t.meta["gold_ids"]), (name, t.id)


def test_no_leakage_between_train_and_test():
    train = [t.question for t in load_tasks("multihop-train")]
    tests = [t.question for n in TEST_SETS + PAPER_TESTS for t in load_tasks(n)]
    assert near_duplicates(train, tests, 0.9) == {}
    # the paper's HotpotQA training questions never appear in a closed test set
    paper_train = [t.question for t in load_tasks("hotpotqa-train")]
    closed = [t.question for n in TEST_SETS for t in load_tasks(n)]
    assert near_duplicates(closed, paper_train, 0.9) == {}
    # no duplicates inside the train pool
    assert len({norm_question(q) for q in train}) == len(train)


def test_paper_closed_matches_paper_ids():
    paper = {t.id: t for t in load_tasks("hotpotqa-test")}
    closed = load_tasks("hotpotqa-paper-closed")
    assert all(t.id in paper and t.answer == paper[t.id].answer for t in closed)


@pytest.mark.parametrize(
    ("a", "b", "dup"),
    [
        ("Who is the father of John Smith?", "who is the father of john smith", True),
        ("Who is the father of John Smith?", "Who is the mother of John Smith?", False),
        (
            "In what year was the director of the 1994 film The Lion King and Aladdin born in Texas state?",
            "In what year was the director of the 1994 film The Lion King and Aladdin born in Texas?",
            True,
        ),
        ("Where was X born?", "Where did X die?", False),
    ],
)
def test_near_duplicates(a, b, dup):
    assert (near_duplicates([a], [b], 0.9) == {0: 0}) is dup
