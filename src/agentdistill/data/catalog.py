"""The bundled task sets: what each is, where it came from, and the generated index with counts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

SETS_DIR = Path(__file__).resolve().parent / "sets"
INDEX_PATH = SETS_DIR / "index.json"


@dataclass(frozen=True)
class SetSpec:
    kind: str  # "qa" | "math"
    split: str  # "train" | "test"
    source: str
    licence: str
    description: str


_B = "paper repo (benchmarks/)"
SPECS: dict[str, SetSpec] = {
    # the paper's own splits
    "hotpotqa-test": SetSpec("qa", "test", _B, "CC BY-SA 4.0", "HotpotQA hard, paper test split (500)"),
    "musique-test": SetSpec("qa", "test", _B, "CC BY 4.0", "MuSiQue answerable 4-hop dev, paper test split"),
    "2wiki-test": SetSpec("qa", "test", _B, "Apache-2.0", "2WikiMultihopQA, paper test split"),
    "bamboogle-test": SetSpec("qa", "test", _B, "MIT", "Bamboogle (125)"),
    "math500": SetSpec("math", "test", _B, "MIT", "MATH-500"),
    "gsm-hard-500": SetSpec("math", "test", _B, "Apache-2.0", "GSM-hard, paper's 500-question subset"),
    "aime-90": SetSpec("math", "test", _B, "public (AoPS/MAA)", "AIME, paper's 90 problems"),
    "olymmath-200": SetSpec("math", "test", _B, "MIT", "OlymMATH, paper's 200 problems"),
    "hotpotqa-train": SetSpec("qa", "train", _B, "CC BY-SA 4.0", "HotpotQA hard, paper train split (1000)"),
    "math-train": SetSpec("math", "train", _B, "MIT", "MATH train, level>=3, paper train split"),
    "math-medium-train": SetSpec(
        "math", "train", _B, "MIT", "MATH train medium, paper split (null answers dropped)"
    ),
    # public sources
    "gsm8k-train": SetSpec("math", "train", "openai/grade-school-math", "MIT", "GSM8K train (7473)"),
    "gsm8k-test": SetSpec("math", "test", "openai/grade-school-math", "MIT", "GSM8K test (1319)"),
    "gsm-hard": SetSpec(
        "math",
        "test",
        "reasoning-machines/pal gsmhardv2",
        "Apache-2.0",
        "GSM-hard, full (1319), float targets",
    ),
    "math-pool-train": SetSpec(
        "math", "train", "microsoft/ToRA MATH test", "MIT", "MATH test (5000) minus every MATH-500 problem"
    ),
    "aime24": SetSpec("math", "test", "QwenLM/Qwen2.5-Math", "public (AoPS/MAA)", "AIME 2024 (30)"),
    "amc23": SetSpec("math", "test", "QwenLM/Qwen2.5-Math", "public (AoPS/MAA)", "AMC 2023 (40)"),
    # closed-corpus multi-hop benchmark (retrieval/bundled/CARD.md)
    "multihop-train": SetSpec(
        "qa",
        "train",
        "closed corpus build",
        "CC BY-SA 4.0 / Apache-2.0 / CC BY 4.0",
        "HotpotQA+2Wiki+MuSiQue questions answerable in the bundled corpus, not in any test set",
    ),
    "hotpotqa-paper-closed": SetSpec(
        "qa",
        "test",
        "closed corpus build",
        "CC BY-SA 4.0",
        "paper's HotpotQA test questions answerable in the bundled corpus",
    ),
    "2wiki-paper-closed": SetSpec(
        "qa",
        "test",
        "closed corpus build",
        "Apache-2.0",
        "paper's 2Wiki test questions answerable in the bundled corpus",
    ),
    "2wiki-closed-test": SetSpec(
        "qa",
        "test",
        "closed corpus build",
        "Apache-2.0",
        "2Wiki dev questions answerable in the bundled corpus",
    ),
    "musique-closed-test": SetSpec(
        "qa",
        "test",
        "closed corpus build",
        "CC BY 4.0",
        "MuSiQue questions answerable in the bundled corpus (hash-split half)",
    ),
}


@dataclass(frozen=True)
class TaskSetInfo:
    name: str
    kind: str
    split: str
    count: int
    source: str
    description: str
    licence: str
    path: Path


def set_path(name: str) -> Path:
    return SETS_DIR / f"{name}.jsonl.gz"


def write_index(sets_dir: Path = SETS_DIR) -> None:
    """Regenerate index.json (name -> count) from the set files present; run by the build scripts."""
    import gzip

    counts = {}
    for name in sorted(SPECS):
        p = sets_dir / f"{name}.jsonl.gz"
        if p.exists():
            with gzip.open(p, "rb") as fh:
                counts[name] = sum(1 for line in fh if line.strip())
    (sets_dir / "index.json").write_text(
        json.dumps(counts, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


def list_task_sets() -> list[TaskSetInfo]:
    """Every bundled set that is present, with its count (from the generated index)."""
    counts = json.loads(INDEX_PATH.read_text(encoding="utf-8")) if INDEX_PATH.exists() else {}
    return [
        TaskSetInfo(name=n, count=counts[n], path=set_path(n), **asdict(SPECS[n]))
        for n in SPECS
        if n in counts and set_path(n).exists()
    ]
