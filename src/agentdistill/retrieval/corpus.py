"""Streaming corpus reader: `{id, title, text}` or Search-R1/FlashRAG `{id, contents}` JSONL(.gz) lines.

Streamed line by line so a 21M-passage Wikipedia dump never has to fit in memory; a bad line stops the read
with an error that names the file, the line and the field, not a KeyError from deep inside an index build.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


def default_corpus_path() -> Path:
    """Path of the bundled closed multi-hop corpus (JSONL.gz, records {id, title, text}); see bundled/CARD.md."""
    return BUNDLED_DIR / "multihop_corpus.jsonl.gz"


class CorpusError(ValueError):
    """A corpus file that cannot be read: names the file, the 1-based line and the field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field = str(path), line, field
        where = str(path) + (f", line {line}" if line is not None else "")
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {message}")


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


def open_text(path: Path) -> IO[str]:
    """Open plain or gzip-compressed text (by magic bytes, not by name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def split_contents(contents: str) -> tuple[str, str]:
    """Split FlashRAG `"Title"\\ntext` into (title, text); a first line without quotes is still the title."""
    head, sep, rest = contents.partition("\n")
    if not sep:
        return "", contents.strip()
    title = head.strip()
    if len(title) >= 2 and title[0] == '"' and title[-1] == '"':
        title = title[1:-1]
    return title, rest.strip()


def join_contents(title: str, text: str) -> str:
    """The inverse of `split_contents`: the Search-R1 wire form of a passage."""
    return f'"{title}"\n{text}'


def parse_record(obj: object, path: Path | str, line: int) -> Doc:
    if not isinstance(obj, dict):
        raise CorpusError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id", obj.get("_id"))
    if raw_id is None:
        raw_id = line - 1  # position-based id, as FlashRAG does for id-less corpora
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise CorpusError(path, line, "id", f"must be a string or integer, got {type(raw_id).__name__}")
    if "contents" in obj and "text" not in obj:
        contents = obj["contents"]
        if not isinstance(contents, str):
            raise CorpusError(path, line, "contents", f"must be a string, got {type(contents).__name__}")
        title, text = split_contents(contents)
        if isinstance(obj.get("title"), str):
            title = obj["title"]
    else:
        if "text" not in obj:
            raise CorpusError(path, line, "text", "missing (expected {id, title, text} or {id, contents})")
        text, title = obj["text"], obj.get("title", "")
        if not isinstance(text, str):
            raise CorpusError(path, line, "text", f"must be a string, got {type(text).__name__}")
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise CorpusError(path, line, "title", f"must be a string, got {type(title).__name__}")
    if not text.strip() and not title.strip():
        raise CorpusError(path, line, "text", "is empty")
    return Doc(str(raw_id), title, text)


def read_corpus(path: Path | str) -> Iterator[Doc]:
    """Yield the passages of a JSONL / JSONL.gz corpus one at a time (blank lines are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, None, None, "corpus file not found")
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CorpusError(
                    path, lineno, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
                ) from None
            yield parse_record(obj, path, lineno)
