"""Build the bundled benchmark task sets from a data dir (benchmarks/ + raw/; deterministic; see scripts/build_task_sets.py)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentdistill.data.answers import gsm8k_answer, last_boxed
from agentdistill.data.catalog import SPECS, set_path, write_index
from agentdistill.data.errors import DataError
from agentdistill.data.io import write_jsonl_gz
from agentdistill.data.task import Task

PAPER_FILES = {
    "hotpotqa-test": "qa_dataset/test/hotpotqa_500_20250422.json",
    "musique-test": "qa_dataset/test/musique_500_20250504.json",
    "2wiki-test": "qa_dataset/test/2wikimultihopqa_500_20250511.json",
    "bamboogle-test": "qa_dataset/test/bamboogle_125_20250507.json",
    "math500": "math_dataset/test/math_500_20250414.json",
    "gsm-hard-500": "math_dataset/test/gsm_hard_500_20250507.json",
    "aime-90": "math_dataset/test/aime_90_20250504.json",
    "olymmath-200": "math_dataset/test/olymath_200_20250511.json",
    "hotpotqa-train": "qa_dataset/train/hotpotqa_1000_20250402.json",
    "math-train": "math_dataset/train/math_1000_20250414.json",
    "math-medium-train": "math_dataset/train/math_medium_1000_20250430.json",
}
RAW = {
    "gsm8k-train": "openai__grade-school-math/grade_school_math/data/train.jsonl",
    "gsm8k-test": "openai__grade-school-math/grade_school_math/data/test.jsonl",
    "gsm-hard": "reasoning-machines__pal/datasets/gsmhardv2.jsonl",
    "math-pool": "microsoft__ToRA/src/data/math/test.jsonl",
    "aime24": "QwenLM__Qwen2.5-Math/evaluation/data/aime24/test.jsonl",
    "amc23": "QwenLM__Qwen2.5-Math/evaluation/data/amc23/test.jsonl",
}


def norm_problem(text: str) -> str:
    """Problem text normalised for matching across sources (NFKC, lower case, no whitespace)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


def fmt_number(x: Any) -> str:
    """Numbers as plain strings: 5.0 -> '5', 2.5 -> '2.5' (float targets keep full precision)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _jsonl(path: Path) -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"invalid JSON: {exc.msg}", file=path, line=i) from None
    return out


# The paper's math_1000 file has "" for two MATH problems whose answer is option (A), 0 (an answer of 0 lost
# to a falsy test upstream); checked by hand against the problems (n!+2 .. n!+n-1 are all composite).
ANSWER_FIXES = {("math-train", "174"): "0", ("math-train", "499"): "0"}


def paper_set(name: str, path: Path) -> list[Task]:
    spec = SPECS[name]
    tasks = []
    for index, ex in enumerate(json.loads(path.read_text(encoding="utf-8"))["examples"]):
        if ex.get("answer") is None:  # two records of math-medium-train have no answer
            continue
        ex = {**ex, "answer": ANSWER_FIXES.get((name, str(ex["id"])), ex["answer"])}
        if isinstance(ex["answer"], str) and not ex["answer"].strip():
            raise DataError(f"empty in examples[{index}] (id {ex['id']}); add it to ANSWER_FIXES", file=path,
                            field="answer")
        meta = {k: v for k, v in ex.items() if k not in ("id", "question", "answer", "split", "dataset_name")}
        meta["source_dataset"] = ex.get("dataset_name")
        tasks.append(Task(id=str(ex["id"]), dataset=name, kind=spec.kind, question=ex["question"],
                          answer=fmt_number(ex["answer"]), meta=meta))
    return tasks


def gsm8k(name: str, path: Path) -> list[Task]:
    tasks = []
    for i, ex in enumerate(_jsonl(path)):
        ans = gsm8k_answer(ex["answer"])
        if ans is None:
            raise DataError("no '####' in solution", file=path, line=i + 1, field="answer")
        tasks.append(Task(id=str(i), dataset=name, kind="math", question=ex["question"], answer=ans,
                          meta={"solution": ex["answer"]}))
    return tasks


def gsm_hard(path: Path) -> list[Task]:
    return [Task(id=str(i), dataset="gsm-hard", kind="math", question=ex["input"], answer=fmt_number(ex["target"]),
                 meta={"target": ex["target"], "code": ex.get("code", "")})
            for i, ex in enumerate(_jsonl(path))]


def math_pool(path: Path, math500: Iterable[Task]) -> list[Task]:
    """MATH test (5000) minus every MATH-500 problem, matched on normalised problem text."""
    held_out = {norm_problem(t.question) for t in math500}
    tasks = []
    for i, ex in enumerate(_jsonl(path)):
        if norm_problem(ex["problem"]) in held_out:
            continue
        ans = last_boxed(ex["solution"])
        if ans is None:
            raise DataError("no \\boxed{} answer in solution", file=path, line=i + 1, field="solution")
        tasks.append(Task(id=str(ex.get("idx", i)), dataset="math-pool-train", kind="math", question=ex["problem"],
                          answer=ans, meta={"level": ex.get("level"), "type": ex.get("type"),
                                            "solution": ex["solution"]}))
    return tasks


def qwen_eval(name: str, path: Path) -> list[Task]:
    return [Task(id=str(ex.get("id", i)), dataset=name, kind="math", question=ex.get("problem") or ex["question"],
                 answer=fmt_number(ex["answer"]), meta={"url": ex.get("url", "")})
            for i, ex in enumerate(_jsonl(path))]


def build_all(data_dir: str | Path) -> dict[str, int]:
    """Build every benchmark set into the package's sets/ dir; returns counts."""
    data = Path(data_dir)
    built: dict[str, list[Task]] = {n: paper_set(n, data / "benchmarks" / f) for n, f in PAPER_FILES.items()}
    raw = data / "raw"
    built["gsm8k-train"] = gsm8k("gsm8k-train", raw / RAW["gsm8k-train"])
    built["gsm8k-test"] = gsm8k("gsm8k-test", raw / RAW["gsm8k-test"])
    built["gsm-hard"] = gsm_hard(raw / RAW["gsm-hard"])
    built["math-pool-train"] = math_pool(raw / RAW["math-pool"], built["math500"])
    built["aime24"] = qwen_eval("aime24", raw / RAW["aime24"])
    built["amc23"] = qwen_eval("amc23", raw / RAW["amc23"])
    counts = {}
    for name, tasks in built.items():
        counts[name] = write_jsonl_gz(set_path(name), (t.model_dump() for t in tasks))
    write_index()
    return counts


__all__ = ["build_all", "norm_problem"]
