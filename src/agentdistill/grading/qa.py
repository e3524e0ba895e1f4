"""QA grading with the official HotpotQA normalisation, EM and F1, plus cover-EM (reported apart from EM).

Beyond the official script (``hotpot_evaluate_v1.py``), three kinds of fault are closed:

- *Empty matches*: an answer that normalises to nothing (``the``, ``...``, an unanswered ``""``) never
  matches, even a gold that also normalises to nothing (``A``, ``An``). Such a gold is compared with the
  articles kept, so ``A`` still matches ``a`` and ``The The`` matches ``the the`` — but not ``the``.
- *Unicode typography*: text is NFKC-normalised (full-width forms, NBSP and other spaces, ligatures,
  superscript digits) and *every* Unicode punctuation character (category P*: en/em dashes, curly quotes,
  ellipsis, primes, …) is dropped as the official rule drops ASCII punctuation; the Unicode minus becomes a
  hyphen, invisible format characters (zero-width space, soft hyphen) are removed. Accents are *kept*, as in
  the official rule (``cinéma`` ≠ ``cinema``); composed and decomposed forms compare equal.
- *Non-string answers* from ``final_answer`` are compared by meaning: ``True``/``False`` are ``yes``/``no``
  (or ``true``/``false``), numbers are written in plain decimal (``1945.0`` → ``1945``, never ``1e+21``; 0–99
  also as words), ``None`` is no answer, a
  list is its items joined with ", " or " and " (best of both), a typed payload dict is its ``text``.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from agentdistill.grading.forms import number_word
from agentdistill.grading.types import Grade, is_payload, payload_text

COVER_MAX_WORDS = 20
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_TRANSLATE = {0x2212: "-", 0x2044: "/", 0x2215: "/"}  # minus sign, fraction slash, division slash


def _strip_punct(s: str) -> str:
    """NFKC, lower case, Unicode punctuation and invisible format characters removed."""
    s = unicodedata.normalize("NFKC", s).translate(_TRANSLATE).lower()
    return "".join(
        ch for ch in s if ch not in _PUNCT and not unicodedata.category(ch).startswith(("P", "Cf"))
    )


def normalize_answer(s: str) -> str:
    """HotpotQA's official normalisation (lower, drop punctuation, drop a/an/the, collapse whitespace),
    applied to NFKC text with all Unicode punctuation dropped (see the module docstring)."""
    return " ".join(_ARTICLES.sub(" ", _strip_punct(s)).split())


def _normalize_keep_articles(s: str) -> str:
    return " ".join(_strip_punct(s).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal; an empty normalised prediction never matches."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    if not p:
        keep = _normalize_keep_articles(prediction)
        return float(bool(keep) and not g and keep == _normalize_keep_articles(gold))
    return float(p == g)


def f1_score(prediction: str, gold: str) -> float:
    """Token F1 as in hotpot_evaluate_v1.py, including its yes/no/noanswer rule."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    if not p or not g:  # only an article-only gold can still be matched, and then exactly
        return exact_match(prediction, gold)
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
    if not g or not p:
        return exact_match(prediction, gold)
    if len(p.split()) > max_words:
        return 0.0
    return float(f" {g} " in f" {p} ")


def _number_text(x: int | float) -> str:
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            return str(x)
        if x.is_integer():
            return str(int(x))
        return format(Decimal(repr(x)), "f")
    return str(x)


def answer_texts(prediction: object) -> list[str]:
    """The text forms a non-string answer is graded as (best one wins); ``[""]`` for no answer."""
    if is_payload(prediction) and isinstance(prediction.get("items"), list):  # type: ignore[union-attr]
        prediction = prediction["items"]  # type: ignore[index]  # a tuple/set payload: its items
    prediction = payload_text(prediction, ("text", "exact", "latex", "python"))
    if prediction is None:
        return [""]
    if isinstance(prediction, bool):
        return ["yes", "true"] if prediction else ["no", "false"]
    if isinstance(prediction, int | float):
        text = _number_text(prediction)
        word = number_word(int(prediction)) if float(prediction).is_integer() else None
        return [text, word] if word else [text]
    if isinstance(prediction, list | tuple | set | frozenset):
        items = [answer_texts(x)[0] for x in prediction]
        items = [x for x in items if x]
        if len(items) == 1:
            return items
        joined = [", ".join(items), " and ".join(items)]
        if len(items) > 1:
            joined.append(", ".join(items[:-1]) + " and " + items[-1])
        return joined if items else [""]
    return [str(prediction)]


def grade_qa(
    prediction: object, golds: str | Sequence[str], *, cover_max_words: int = COVER_MAX_WORDS
) -> Grade:
    """EM/F1/cover-EM maxed over the gold answer and its aliases (and the answer's text forms); `correct` is
    EM. An unanswered episode (None or "") is never correct."""
    gold_list = [golds] if isinstance(golds, str) else [g for g in golds if g is not None]
    if not gold_list:
        raise ValueError("grade_qa needs at least one gold answer")
    gold_list = [str(g) for g in gold_list]
    preds = answer_texts(prediction)
    em = max(exact_match(p, g) for p in preds for g in gold_list)
    f1 = max(f1_score(p, g) for p in preds for g in gold_list)
    cov = max(cover_em(p, g, cover_max_words) for p in preds for g in gold_list)
    return Grade(
        correct=em == 1.0,
        em=em,
        f1=f1,
        cover_em=cov,
        method="qa-em",
        detail=f"pred={normalize_answer(preds[0])!r}",
    )
