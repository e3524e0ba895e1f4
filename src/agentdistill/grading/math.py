"""Math grading: symbolic equivalence with math-verify, numeric comparison as fallback (GSM-hard floats)."""

from __future__ import annotations

import math
import re
import threading

from agentdistill.grading.extract import clean_math, extract_math_answer, to_number
from agentdistill.grading.types import Grade

NUMERIC_TOLERANCE = 1e-4


def _wrap(s: str) -> str:
    return s if "$" in s or "\\boxed" in s else f"${s}$"


def _mv_equal(gold: str, pred: str) -> bool | None:
    """math-verify verdict, or None when it cannot parse either side (or errors/times out)."""
    try:
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover - math-verify is a pinned dependency
        return None
    # math-verify's timeout uses SIGALRM, which only works in the main thread
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        g = parse(_wrap(gold), parsing_timeout=timeout)
        p = parse(_wrap(pred), parsing_timeout=timeout)
        if not g or not p:
            return None
        return bool(verify(g, p, timeout_seconds=timeout))
    except Exception:  # noqa: BLE001 - a grader must not crash on model output
        return None


def numeric_equal(a: float, b: float, tol: float = NUMERIC_TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol * 1e-2)


def grade_math(prediction: object, gold: str | float | int, numeric_tolerance: float = NUMERIC_TOLERANCE) -> Grade:
    """Equivalence of the extracted prediction with the gold: numbers numerically (relative tolerance),
    everything else symbolically with math-verify; `correct` = equivalent."""
    raw = extract_math_answer(prediction)
    pred, g = clean_math(raw), clean_math(extract_math_answer(gold) if not isinstance(gold, str) else gold)
    detail = f"extracted={raw!r} cleaned={pred!r} gold={g!r}"
    if not pred:
        return Grade(correct=False, method="empty", detail=detail)
    gn, pn = to_number(g), to_number(pred)
    if gn is not None and pn is not None:
        integers = all(re.fullmatch(r"[-+]?\d+", x.replace(" ", "")) for x in (g, pred))
        ok = gn == pn if integers else numeric_equal(gn, pn, numeric_tolerance)
        return Grade(correct=ok, em=float(ok), method="numeric", detail=detail)
    if pred.replace(" ", "") == g.replace(" ", ""):
        return Grade(correct=True, em=1.0, method="string", detail=detail)
    verdict = _mv_equal(g, pred)
    if verdict is None:
        verdict = _mv_equal(gold if isinstance(gold, str) else g, raw)  # try the uncleaned forms
    if verdict is None:
        return Grade(correct=False, method="unparsed", detail=detail)
    return Grade(correct=verdict, em=float(verdict), method="math-verify", detail=detail)
