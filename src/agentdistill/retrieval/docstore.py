"""A compact on-disk passage store: one JSONL file plus a memory-mapped offsets array.

Indexes return row numbers; this turns rows back into passages without the original corpus file and without
loading all texts into RAM (a 21M-passage store costs 170 MB of offsets, read lazily by the OS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from agentdistill.retrieval.corpus import Doc

DOCS_FILE = "docs.jsonl"
OFFSETS_FILE = "docs.offsets.npy"


class DocStoreWriter:
    """Append passages in index order; `close()` writes the offsets. Use as a context manager."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._fh = open(directory / DOCS_FILE, "wb")  # noqa: SIM115 (closed by close())
        self._offsets: list[int] = [0]

    def add(self, doc: Doc) -> None:
        line = json.dumps([doc.id, doc.title, doc.text], ensure_ascii=False).encode("utf-8") + b"\n"
        self._fh.write(line)
        self._offsets.append(self._offsets[-1] + len(line))

    def close(self) -> int:
        if not self._fh.closed:
            self._fh.close()
            np.save(self.directory / OFFSETS_FILE, np.asarray(self._offsets, dtype=np.int64))
        return len(self._offsets) - 1

    def __enter__(self) -> DocStoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_docstore(directory: Path, docs: Iterable[Doc]) -> int:
    with DocStoreWriter(directory) as writer:
        for doc in docs:
            writer.add(doc)
    return writer.close()


class DocStore:
    """Random access to stored passages by row; both files memory-mapped, safe to share across threads."""

    def __init__(self, directory: Path):
        docs, offsets = directory / DOCS_FILE, directory / OFFSETS_FILE
        for path in (docs, offsets):
            if not path.is_file():
                raise FileNotFoundError(f"index passage store is incomplete: {path} is missing")
        self.offsets = np.load(offsets, mmap_mode="r")
        size = docs.stat().st_size
        self._data = np.memmap(docs, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, row: int) -> Doc:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        doc_id, title, text = json.loads(self._data[start:end].tobytes())
        return Doc(doc_id, title, text)

    def __iter__(self) -> Iterator[Doc]:
        for row in range(len(self)):
            yield self.get(row)
