"""Build the closed-corpus multi-hop benchmark: one deduplicated corpus + question sets whose gold paragraphs
are all in it, with train and test kept apart (no shared or near-duplicate question). Deterministic: the same
raw files give the same bytes. Entry point: scripts/build_multihop.py."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from agentdistill.data.catalog import SPECS, write_index
from agentdistill.data.dedup import near_duplicates, norm_question
from agentdistill.data.io import write_jsonl_gz
from agentdistill.data.build.card import write_card
from agentdistill.data.task import Task

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # agentdistill/data: sets/ live here

F_IRCOT = "xindili-cmu__anlp-project-multihop/processed_data/hotpotqa/dev_subsampled.jsonl"
F_2WIKI_CORPUS = "OSU-NLP-Group__HippoRAG/data/2wikimultihopqa_corpus.json"
F_HOTPOT_TRAIN = "OSU-NLP-Group__HippoRAG/data/hotpotqa_train.json"
F_MUSIQUE_TRAIN = "OSU-NLP-Group__HippoRAG/data/musique_train.json"
F_2WIKI_SAMPLED = "saptarshi059__TTS-project/sampled_data/2wikimultihopqa/sampled_ds.json"
F_2WIKI_DEV = "saptarshi059__TTS-project/data/2wikimultihopqa/test.json"
F_EXTRA = "extra_paragraphs.jsonl"
PAPER_TESTS = {"hotpotqa": "qa_dataset/test/hotpotqa_500_20250422.json",
               "2wiki": "qa_dataset/test/2wikimultihopqa_500_20250511.json",
               "musique": "qa_dataset/test/musique_500_20250504.json",
               "bamboogle": "qa_dataset/test/bamboogle_125_20250507.json"}
PAPER_TRAIN = "qa_dataset/train/hotpotqa_1000_20250402.json"
NEAR_DUP = 0.9


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).lower().split())


def para_key(title: str, text: str) -> tuple[str, str]:
    return _norm(title), _norm(text)


def para_id(key: tuple[str, str]) -> str:
    return "mh-" + hashlib.sha1(("\x1f".join(key)).encode("utf-8")).hexdigest()[:12]


@dataclass
class Corpus:
    records: list[dict] = field(default_factory=list)
    by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    by_title: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    def add(self, title: str, text: str, source: str) -> str:
        title, text = title.strip(), " ".join(text.split())
        key = para_key(title, text)
        pid = self.by_key.get(key)
        if pid is None:
            pid = para_id(key)
            if any(pid == r["id"] for r in self.records[-1:]):  # pragma: no cover - astronomically unlikely
                raise RuntimeError(f"paragraph id collision {pid}")
            self.by_key[key] = pid
            self.by_title.setdefault(_norm(title), []).append(pid)
            self.records.append({"id": pid, "title": title, "text": text})
            self.sources[source] = self.sources.get(source, 0) + 1
        return pid

    def lookup(self, title: str, text: str) -> str | None:
        return self.by_key.get(para_key(title, " ".join(text.split())))


@dataclass
class Q:
    """A candidate question with its gold paragraph ids (None where a gold paragraph is missing)."""
    id: str
    dataset: str  # hotpotqa | 2wiki | musique
    question: str
    answer: str
    aliases: list[str]
    gold: list[str | None]
    source: str
    meta: dict = field(default_factory=dict)

    def answerable(self) -> bool:
        return bool(self.gold) and all(self.gold)


def _load_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _load_jsonl(path: Path) -> list[dict]:
    # "\n" only: str.splitlines() would also split inside strings at U+2028, U+2029 and U+0085
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _columns_to_rows(cols: dict) -> list[dict]:
    """pandas column-dict JSON {column: {row: value}} -> rows in numeric row order."""
    rows = sorted(next(iter(cols.values())), key=int)
    return [{c: cols[c][r] for c in cols} for r in rows]


def build_corpus(raw: Path) -> tuple[Corpus, list[Q]]:
    """Add every paragraph of every source (fixed order) and collect the questions with their gold ids."""
    c, qs = Corpus(), []
    for ex in _load_jsonl(raw / F_IRCOT):
        gold = [c.add(p["title"], p["paragraph_text"], "ircot-hotpotqa") for p in ex["contexts"] if p["is_supporting"]]
        for p in ex["contexts"]:
            c.add(p["title"], p["paragraph_text"], "ircot-hotpotqa")
        spans = [s for a in ex["answers_objects"] for s in a["spans"]]
        qs.append(Q(ex["question_id"], "hotpotqa", ex["question_text"], spans[0], spans[1:], gold, "ircot-dev"))
    for p in _load_json(raw / F_2WIKI_CORPUS):
        c.add(p["title"], p["text"], "hipporag-2wiki")
    for ex in _load_json(raw / F_HOTPOT_TRAIN):
        ctx = {t: c.add(t, "".join(sents), "hipporag-hotpotqa") for t, sents in ex["context"]}
        gold = [ctx.get(t) for t in dict.fromkeys(t for t, _ in ex["supporting_facts"])]
        qs.append(Q(ex["_id"], "hotpotqa", ex["question"], ex["answer"], [], gold, "hipporag-hotpotqa-train",
                    {"type": ex.get("type"), "level": ex.get("level")}))
    for ex in _load_json(raw / F_MUSIQUE_TRAIN):
        ids = [c.add(p["title"], p["paragraph_text"], "hipporag-musique") for p in ex["paragraphs"]]
        gold = [ids[i] for i, p in enumerate(ex["paragraphs"]) if p["is_supporting"]]
        qs.append(Q(ex["id"], "musique", ex["question"], ex["answer"], list(ex.get("answer_aliases", [])), gold,
                    "hipporag-musique-train"))
    for ex in _columns_to_rows(_load_json(raw / F_2WIKI_SAMPLED)):
        ctx = {t: c.add(t, " ".join(sents), "2wiki-sampled") for t, sents in ex["context"]}
        gold = [ctx.get(t) for t in dict.fromkeys(t for t, _ in ex["supporting_facts"])]
        qs.append(Q(ex["_1"], "2wiki", ex["question"], ex["answer"], [], gold, "2wiki-sampled",
                    {"type": ex.get("type"), "paper_id": str(ex["id"])}))
    for ex in _load_jsonl(raw / F_EXTRA):
        c.add(ex["title"], ex["text"], "extra-paragraphs")
    for ex in _load_json(raw / F_2WIKI_DEV):  # gold given as titles: resolved against the finished corpus
        gold = [(c.by_title.get(_norm(t)) or [None])[0] for t in dict.fromkeys(ex["supporting_facts"])]
        aliases = [a for a in ex.get("answer_aliases", []) if a != ex["answer"]]
        qs.append(Q(ex["id"], "2wiki", ex["question"], ex["answer"], aliases, gold, "2wiki-dev"))
    return c, qs


def _to_task(q: Q, set_name: str, task_id: str | None = None, answer: str | None = None) -> Task:
    aliases = list(dict.fromkeys(a for a in [q.answer, *q.aliases] if a != (answer or q.answer)))
    return Task(id=task_id or q.id, dataset=set_name, kind="qa", question=q.question, answer=answer or q.answer,
                aliases=aliases, meta={"source": q.source, "source_id": q.id, "gold_ids": list(q.gold), **q.meta})


def _dedup(qs: list[Q]) -> list[Q]:
    seen, out = set(), []
    for q in qs:
        k = norm_question(q.question)
        if k not in seen:
            seen.add(k)
            out.append(q)
    return out


def _musique_is_test(qid: str) -> bool:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0


def split_questions(qs: list[Q], bench: Path) -> dict[str, list[Task]]:
    ok = _dedup([q for q in qs if q.answerable()])
    paper = {k: _load_json(bench / f)["examples"] for k, f in PAPER_TESTS.items()}
    paper_train = [e["question"] for e in _load_json(bench / PAPER_TRAIN)["examples"]]

    def paper_closed(name: str, dataset: str) -> list[Task]:
        pool = [q for q in ok if q.dataset == dataset]
        hits = near_duplicates([e["question"] for e in paper[name]], [q.question for q in pool], threshold=1.01)
        return [_to_task(pool[j], f"{dataset}-paper-closed", str(paper[name][i]["id"]), paper[name][i]["answer"])
                for i, j in sorted(hits.items())]

    sets = {"hotpotqa-paper-closed": paper_closed("hotpotqa", "hotpotqa"),
            "2wiki-paper-closed": paper_closed("2wiki", "2wiki")}
    wiki_test = [q for q in ok if q.source == "2wiki-sampled"]
    paper_wiki = {t.meta["source_id"] for t in sets["2wiki-paper-closed"]}
    wiki_test += [q for q in ok if q.source == "2wiki-dev" and q.id in paper_wiki]
    sets["2wiki-closed-test"] = [_to_task(q, "2wiki-closed-test") for q in _dedup(wiki_test)]
    sets["musique-closed-test"] = [_to_task(q, "musique-closed-test") for q in ok
                                   if q.dataset == "musique" and _musique_is_test(q.id)]
    # the paper's training questions must never be graded on: drop any test question that matches one
    for name in list(sets):
        clash = near_duplicates([t.question for t in sets[name]], paper_train, NEAR_DUP)
        sets[name] = [t for i, t in enumerate(sets[name]) if i not in clash]
    # train pool: everything else, minus anything (near-)identical to any closed or paper test question
    test_qs = [t.question for ts in sets.values() for t in ts] + [e["question"] for v in paper.values() for e in v]
    test_ids = {t.meta["source_id"] for ts in sets.values() for t in ts}
    cand = [q for q in ok if q.id not in test_ids and not (q.dataset == "musique" and _musique_is_test(q.id))]
    clash = near_duplicates([q.question for q in cand], test_qs, NEAR_DUP)
    sets["multihop-train"] = [_to_task(q, "multihop-train") for i, q in enumerate(cand) if i not in clash]
    return sets


def build(raw: str | Path, bench: str | Path, out: str | Path = PACKAGE_DIR, corpus_out: str | Path | None = None,
          command: str = "python scripts/build_multihop.py --raw DATA/raw --benchmarks DATA/benchmarks") -> dict[str, int]:
    """Write corpus_out/multihop_corpus.jsonl.gz, corpus_out/CARD.md and out/sets/<set>.jsonl.gz; return counts.

    ``corpus_out`` defaults to ``out/corpus`` (the shipped corpus lives in ``agentdistill/retrieval/bundled``).
    """
    raw, bench, out = Path(raw), Path(bench), Path(out)
    corpus_dir = Path(corpus_out) if corpus_out is not None else out / "corpus"
    corpus, qs = build_corpus(raw)
    sets = split_questions(qs, bench)
    counts = {"corpus": write_jsonl_gz(corpus_dir / "multihop_corpus.jsonl.gz", corpus.records)}
    for name in sorted(sets):
        assert name in SPECS, name
        counts[name] = write_jsonl_gz(out / "sets" / f"{name}.jsonl.gz", (t.model_dump() for t in sets[name]))
    by_ds = {}
    for t in sets["multihop-train"]:
        by_ds[t.meta["source"]] = by_ds.get(t.meta["source"], 0) + 1
    write_card(corpus_dir / "CARD.md", counts, corpus.sources, by_ds,
               answerable=sum(q.answerable() for q in qs), total=len(qs), command=command)
    write_index(out / "sets")
    return counts
