"""QA grading with the official HotpotQA normalisation, EM and F1, plus cover-EM (reported apart from EM)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

from agentdistill.grading.types import Grade

COVER_MAX_WORDS = 20
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """HotpotQA's official normalisation (lower, drop punctuation, drop a/an/the, collapse whitespace).

    NFC is applied first so composed and decomposed accents compare equal; accents themselves are kept."""
    s = unicodedata.normalize("NFC", s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token F1 as in hotpot_evaluate_v1.py, including its yes/no/noanswer rule."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    special = ("yes", "no", "noanswer")
    if (p in special or g in special) and p != g:
        return 0.0
    pt, gt = p.split(), g.split()
    common = Counter(pt) & Counter(gt)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pt), same / len(gt)
    return 2 * precision * recall / (precision + recall)


def cover_em(prediction: str, gold: str, max_words: int = COVER_MAX_WORDS) -> float:
    """1 if the normalised gold occurs (on word boundaries) in a normalised prediction of <= max_words words."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    if not g or not p or len(p.split()) > max_words:
        return 0.0
    return float(f" {g} " in f" {p} ")


def _as_text(prediction: object) -> str:
    if prediction is None:
        return ""
    if isinstance(prediction, list | tuple):
        return ", ".join(_as_text(x) for x in prediction)
    if isinstance(prediction, float) and prediction.is_integer():
        return str(int(prediction))
    return str(prediction)


def grade_qa(prediction: object, golds: str | Sequence[str], *, cover_max_words: int = COVER_MAX_WORDS) -> Grade:
    """EM/F1/cover-EM maxed over the gold answer and its aliases; `correct` is EM."""
    gold_list = [golds] if isinstance(golds, str) else [g for g in golds if g is not None]
    if not gold_list:
        raise ValueError("grade_qa needs at least one gold answer")
    pred = _as_text(prediction)
    em = max(exact_match(pred, g) for g in gold_list)
    f1 = max(f1_score(pred, g) for g in gold_list)
    cov = max(cover_em(pred, g, cover_max_words) for g in gold_list)
    return Grade(correct=em == 1.0, em=em, f1=f1, cover_em=cov, method="qa-em",
                 detail=f"pred={normalize_answer(pred)!r}")
