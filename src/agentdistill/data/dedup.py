"""Question normalisation and near-duplicate detection (token Jaccard), used to keep train and test apart."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

_PUNCT = set(string.punctuation) | {"‘", "’", "“", "”", "–", "—"}


def norm_question(text: str) -> str:
    """NFKD-folded, lower case, punctuation and articles removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicates(queries: Sequence[str], pool: Sequence[str], threshold: float = 0.9) -> dict[int, int]:
    """Map index in `queries` -> index of a near-duplicate in `pool` (identical normalised text or token
    Jaccard >= threshold). Exact: prefix filtering over a global rare-first token order, then verification."""
    qn = [norm_question(q) for q in queries]
    pn = [norm_question(p) for p in pool]
    qs = [set(q.split()) for q in qn]
    ps = [set(p.split()) for p in pn]
    df = Counter(t for s in (*qs, *ps) for t in s)

    def ordered(s: set[str]) -> list[str]:
        return sorted(s, key=lambda t: (df[t], t))

    def prefix(s: set[str]) -> list[str]:
        n = len(s)
        return ordered(s)[: n - math.ceil(threshold * n) + 1] if n else []

    exact = {p: i for i, p in enumerate(pn)}
    index: dict[str, list[int]] = {}
    for j, s in enumerate(ps):
        for t in prefix(s):
            index.setdefault(t, []).append(j)
    found: dict[int, int] = {}
    for i, s in enumerate(qs):
        if qn[i] in exact:
            found[i] = exact[qn[i]]
            continue
        seen: set[int] = set()
        for t in prefix(s):
            for j in index.get(t, ()):
                if j not in seen:
                    seen.add(j)
                    if jaccard(s, ps[j]) >= threshold:
                        found[i] = j
                        break
            if i in found:
                break
    return found
