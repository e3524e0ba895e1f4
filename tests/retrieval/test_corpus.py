from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from agentdistill.retrieval.corpus import CorpusError, join_contents, read_corpus, split_contents
from agentdistill.retrieval.docstore import DocStore, write_docstore


def test_reads_title_text_records(tiny_corpus: Path) -> None:
    docs = list(read_corpus(tiny_corpus))
    assert len(docs) == 8
    assert docs[0].id == "p-paris" and docs[0].title == "Paris" and docs[0].text.startswith("Paris is")


def test_reads_flashrag_contents_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "wiki.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "0", "contents": '"Evan Morris"\nEvan L. Morris was a lobbyist.'}) + "\n")
        fh.write("\n")  # blank lines are skipped
        fh.write(json.dumps({"id": 7, "contents": "no title line"}) + "\n")
    docs = list(read_corpus(path))
    assert [(d.id, d.title, d.text) for d in docs] == [
        ("0", "Evan Morris", "Evan L. Morris was a lobbyist."),
        ("7", "", "no title line"),
    ]


def test_contents_round_trip() -> None:
    assert split_contents(join_contents('A "B" C', "line one\nline two")) == ('A "B" C', "line one\nline two")


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ('{"id": "x", "title": "T"', None, "invalid JSON"),
        ('{"id": "x", "title": "T"}', "text", "missing"),
        ('{"id": "x", "title": "T", "text": 5}', "text", "must be a string"),
        ('{"id": "x", "title": ["T"], "text": "t"}', "title", "must be a string"),
        ('{"id": {"a": 1}, "text": "t"}', "id", "string or integer"),
        ('{"id": "x", "contents": 3}', "contents", "must be a string"),
        ('["not", "an", "object"]', None, "expected a JSON object"),
    ],
)
def test_bad_line_names_file_line_field(tmp_path: Path, line: str, field: str | None, fragment: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "title": "Fine", "text": "fine"}\n' + line + "\n")
    with pytest.raises(CorpusError) as info:
        list(read_corpus(path))
    err = info.value
    assert err.line == 2 and err.field == field
    message = str(err)
    assert str(path) in message and "line 2" in message and fragment in message
    if field:
        assert f"'{field}'" in message


def test_missing_corpus_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        list(read_corpus(tmp_path / "nope.jsonl"))


def test_docstore_round_trip(tmp_path: Path, tiny_corpus: Path) -> None:
    docs = list(read_corpus(tiny_corpus))
    assert write_docstore(tmp_path / "store", docs) == len(docs)
    store = DocStore(tmp_path / "store")
    assert len(store) == len(docs)
    assert store.get(5) == docs[5] and list(store) == docs
