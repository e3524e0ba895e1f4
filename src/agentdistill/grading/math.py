"""Math grading: exact where both sides are exact, symbolic equivalence with math-verify, tolerance for floats.

Kinds of answer and how each is compared:

- *Python/sympy syntax* (what ``final_answer`` returns: ``pi/2``, ``x**2 + 1``, ``sqrt(2)/2``,
  ``Fraction(1, 3)``) is read as Python (``grading.pyexpr``), never as LaTeX (where ``pi`` is i·p).
  Typed payloads from the sandbox are graded on their LaTeX/exact form.
- *Equations* are compared as equations: ``y = -1/2*x + 3/4`` equals ``2x+4y-3=0`` because the differences of
  their sides are proportional. ``x = 5`` against a bare ``5`` compares the value.
- *Numbers*: when both sides are exact (integers, fractions, surds, π, powers such as ``\\frac{1}{2^{99}}``)
  they must be exactly equal; only when a side is a decimal (possibly rounded, e.g. GSM-hard floats) may they
  differ, by less than 10⁻³ (the PAL / GSM-hard rule, ``abs(ans - ref) < 1e-3`` in bigcode-evaluation-harness's
  ``pal_metric``) *and* by a relative 10⁻⁴ (so tiny values keep their digits), and against zero by 10⁻⁹ only —
  so ``9435000000.0`` is not ``9435680550`` and a factor of two is never "equal". Infinities equal themselves.
- *Sets*: a gold written as an unbracketed comma list (``1, -2``) is a set of answers, as math-verify reads it:
  any order (a Python list or tuple answer too); a bracketed gold (``(1, -2)``, a point) keeps its order.
- *Intervals*: against a gold interval, ``[-2, 7]`` is read as one (math-verify), not as a Python list.
- *Notation that carries meaning* (``grading.forms``): numerals in a base (``52_8``), bracketed pairs written
  as text (``[1, 6]`` is not ``(1, 6)``), sequences with an ellipsis; a value with no meaning (``1/0``,
  ``12:00`` read as 12/0) equals nothing but the same text.
- *Matrices*: against a matrix or vector gold, a list of rows from code or text (``[[1, 2], [3, 4]]``, and a
  flat ``[1, 2]`` for a vector) is that matrix (Qwen2.5-Math's grader, the paper's, does the same).
- *Functions*: ``f(x) = 2x+3`` against ``2x+3`` compares the right side, as ``x = 5`` does.
- *Complex numbers*: against a side holding the imaginary unit (Python ``6-5j``, sympy ``I``), the symbol
  ``i`` of a LaTeX answer is the imaginary unit.
- Everything else (sets, intervals, tuples, expressions with variables): math-verify.
"""

from __future__ import annotations

import math
import re
import threading
from fractions import Fraction
from typing import Any

from agentdistill.grading import forms
from agentdistill.grading.bounded import call_bounded
from agentdistill.grading.extract import clean_math, extract_math_answer
from agentdistill.grading.pyexpr import looks_python, python_to_sympy
from agentdistill.grading.types import Grade

NUMERIC_TOLERANCE = 1e-4  # relative
ABS_TOLERANCE = 1e-3  # absolute: PAL / GSM-hard (bigcode-evaluation-harness pal_metric)
_ZERO_ABS_TOL = 1e-9
_ULP = 2.0**-50  # relative float residue always allowed (large floats printed by code)
_EXACT_DIGITS = 100
_DECIMAL = re.compile(r"\d*\.\d")
_PLAIN = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_FRAC = re.compile(r"\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}|([-+]?\d+)/([-+]?\d+)")
_EQ_SPLIT = re.compile(r"(?<![<>!=:\\])=(?!=)")


def _wrap(s: str) -> str:
    return s if "$" in s or "\\boxed" in s else f"${s}$"


def _timeout() -> int | None:  # math-verify's timeout uses SIGALRM, which only works in the main thread
    return 5 if threading.current_thread() is threading.main_thread() else None


def _parse(s: str, python: bool = True) -> list[Any]:
    """math-verify's parse result for ``s`` ([sympy object, text]); Python syntax is read as Python
    (unless ``python=False``)."""
    if python and looks_python(s):
        value = python_to_sympy(s)
        if value is not None:
            return [value, s]
    try:
        from math_verify import parse
    except ImportError:  # pragma: no cover - math-verify is a pinned dependency
        return []
    try:
        return list(parse(_wrap(s), parsing_timeout=_timeout()))
    except Exception:  # noqa: BLE001 - a grader must not crash on model output
        return []


def _mv_equal(gold: list[Any], pred: list[Any]) -> bool | None:
    """math-verify verdict on parsed forms, or None when a side did not parse (or it errors/times out)."""
    if not gold or not pred:
        return None
    try:
        from math_verify import verify

        return bool(verify(gold, pred, timeout_seconds=_timeout()))
    except Exception:  # noqa: BLE001
        return None


def _allowed(scale: Any, tol: float) -> Any:
    """The largest difference two nonzero numbers of magnitude ``scale`` may have (module docstring)."""
    return max(min(ABS_TOLERANCE, tol * scale), _ULP * scale)


def numeric_equal(a: float, b: float, tol: float = NUMERIC_TOLERANCE) -> bool:
    """Within 10⁻³ and a relative ``tol`` (10⁻⁹ against an exact zero); see the module docstring."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    if a == 0 or b == 0:
        return abs(a - b) <= _ZERO_ABS_TOL
    return abs(a - b) <= _allowed(max(abs(a), abs(b)), tol)


def _plain_number(s: str) -> tuple[Fraction, bool] | None:
    """A plain number or integer fraction as (value, exact); decimals are inexact (maybe rounded)."""
    t = s.replace(" ", "").replace("\\%", "").rstrip("%")
    try:
        if _PLAIN.fullmatch(t):
            return Fraction(t), not _DECIMAL.search(t)
        m = _FRAC.fullmatch(t)
        if m:
            p, q = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            return Fraction(int(p), int(q)), True
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _sympy_number(parsed: list[Any], text: str) -> tuple[Any, bool] | None:
    """(sympy number, exact) when the parsed answer is a number without variables, else None."""
    import sympy

    value = next((v for v in parsed if isinstance(v, sympy.Basic)), None)
    if not isinstance(value, sympy.Expr) or value.free_symbols or not value.is_number:
        return None
    return value, not (value.atoms(sympy.Float) or _DECIMAL.search(text))


def _numbers_equal(a: Any, b: Any, exact: bool, tol: float) -> bool:
    """Exact sides: equal to ``_EXACT_DIGITS`` significant digits (no tolerance; never a symbolic
    ``simplify``, which would expand ``2**10**10``). A decimal side: ``numeric_equal``'s rule."""
    import sympy

    try:
        da, db = sympy.N(a, _EXACT_DIGITS), sympy.N(b, _EXACT_DIGITS)
        if da.has(sympy.zoo, sympy.nan) or db.has(sympy.zoo, sympy.nan):
            return False  # 1/0 has no value to be equal to (Math-Verify#14: "12:00" read as 12/0)
        if da.has(sympy.oo, -sympy.oo) or db.has(sympy.oo, -sympy.oo):
            return bool(da == db)
        if exact:
            if da == 0 or db == 0:
                return bool(da == 0 and db == 0)
            scale = max(abs(da), abs(db))
            return bool(
                abs(sympy.N(da - db, _EXACT_DIGITS)) <= scale * sympy.Float(f"1e-{_EXACT_DIGITS - 10}")
            )
        if da == 0 or db == 0:
            return bool(abs(da - db) <= _ZERO_ABS_TOL)
        return bool(abs(da - db) <= _allowed(max(abs(da), abs(db)), tol))  # in arbitrary precision
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return False


def _exact_mismatch(g: Any, p: Any, tol: float) -> bool:
    """True when two structures math-verify called equal hold, at the same place, numbers that differ
    (math-verify rounds to 6 decimals, so tiny exact values such as 1/2^98 and 1/2^99 look equal)."""
    import sympy

    pairs: list[tuple[Any, Any]] = []
    if isinstance(g, sympy.Tuple | sympy.Interval) and type(g) is type(p) and len(g.args) == len(p.args):
        pairs = list(zip(g.args, p.args, strict=True))
    elif isinstance(g, sympy.FiniteSet) and isinstance(p, sympy.FiniteSet) and len(g) == len(p):
        key = lambda v: sympy.N(v, 30).sort_key() if v.is_number else v.sort_key()  # noqa: E731
        pairs = list(zip(sorted(g.args, key=key), sorted(p.args, key=key), strict=True))
    elif isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr):
        gs, ps = _sympy_number([g], ""), _sympy_number([p], "")
        return gs is not None and ps is not None and not _numbers_equal(gs[0], ps[0], gs[1] and ps[1], tol)
    return any(_exact_mismatch(a, b, tol) for a, b in pairs)


def _split_equation(s: str) -> tuple[str, str] | None:
    if looks_python(s):  # Eq(y, x) or y == x
        value = python_to_sympy(s)
        if value is not None and getattr(value, "is_Equality", False):
            return str(value.lhs), str(value.rhs)
        return None
    parts = _EQ_SPLIT.split(s)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()


def _side(s: str) -> Any | None:
    import sympy

    value = next((v for v in _parse(s) if isinstance(v, sympy.Basic)), None)
    return value if isinstance(value, sympy.Expr) else None


def _equations_equal(p: tuple[str, str], g: tuple[str, str]) -> bool | None:
    """Same solution set for linear-style equations: (lhs - rhs) proportional by a nonzero constant."""
    import sympy

    sides = [_side(x) for x in (*p, *g)]
    if any(x is None for x in sides):
        return None
    ep, eg = sides[0] - sides[1], sides[2] - sides[3]
    try:
        if sympy.simplify(eg) == 0 or sympy.simplify(ep) == 0:
            return bool(sympy.simplify(eg) == 0 and sympy.simplify(ep) == 0)
        ratio = sympy.simplify(ep / eg)
    except Exception:  # noqa: BLE001
        return None
    return bool(not ratio.free_symbols and ratio.is_number and ratio != 0 and ratio.is_finite)


def _bare_list(text: str) -> bool:
    """True for an unbracketed comma list (``1, -2``, ``1 - \\sqrt{19}, 1 + \\sqrt{19}``): a set of answers."""
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False


def _set_of_answers(g: str, gv: Any, pp: list[Any]) -> bool:
    """A gold to compare as a set: an unbracketed list of distinct numbers (roots, solutions), against a list
    of as many items. Repeated items (multiplicities, "11, 111, 111, 100" as one number), words (an order
    asked for) and a prediction with fewer or more items keep the ordered comparison."""
    import sympy

    if isinstance(gv, sympy.FiniteSet):
        return True
    if not (
        _bare_list(g) and isinstance(gv, sympy.Tuple) and all(getattr(e, "is_number", False) for e in gv)
    ):
        return False
    pv = pp[0] if pp else None
    sized = isinstance(pv, sympy.Tuple) and len(pv) == len(gv) or isinstance(pv, sympy.FiniteSet)
    return len(set(gv.args)) == len(gv.args) and bool(sized)


def _as_set(parsed: list[Any]) -> list[Any]:
    """A tuple or list answer as the set of its items (for a gold that is a set of answers)."""
    import sympy

    if parsed and isinstance(parsed[0], sympy.Tuple):
        return [sympy.FiniteSet(*parsed[0].args), *parsed[1:]]
    return parsed


def _with_imaginary_unit(parsed: list[Any], other: list[Any]) -> list[Any]:
    """``parsed`` with its symbol ``i`` read as the imaginary unit when ``other`` holds the unit."""
    import sympy

    value = parsed[0] if parsed else None
    if not isinstance(value, sympy.Basic) or not any(
        isinstance(v, sympy.Basic) and v.has(sympy.I) for v in other
    ):
        return parsed
    unit = {s: sympy.I for s in value.free_symbols if getattr(s, "name", "") == "i"}
    return [value.subs(unit), *parsed[1:]] if unit else parsed


def _parse_pair(pred: str, g: str) -> tuple[list[Any], list[Any]]:
    """Both sides parsed, read alike: sets against a set gold, intervals against an interval, ``i`` as the
    imaginary unit against a complex number (module docstring)."""
    import sympy

    gp, pp = _parse(g), _parse(pred)
    gv = gp[0] if gp and isinstance(gp[0], sympy.Basic) else None
    pv = pp[0] if pp and isinstance(pp[0], sympy.Basic) else None
    # against an interval, a bracketed pair is that interval ("[-2, 7]", not a Python list)
    if isinstance(gv, sympy.Interval) and (interval := forms.as_interval(pred, _parse)) is not None:
        pp = [interval, pred]
    elif isinstance(pv, sympy.Interval) and (interval := forms.as_interval(g, _parse)) is not None:
        gp, gv = [interval, g], interval
    elif (
        gv is not None
        and gv.atoms(sympy.Interval)
        and isinstance(pv, sympy.Tuple)
        and pred.strip()[:1] == "["
    ):
        latex = _parse(pred, python=False)  # a union of intervals: the prediction read as LaTeX
        if latex and isinstance(latex[0], sympy.Basic) and latex[0].free_symbols <= pv.free_symbols:
            pp = latex
    gm = gp[0] if gp and isinstance(gp[0], sympy.MatrixBase) else None  # a Matrix is not a sympy.Basic
    if gm is not None and (matrix := forms.as_matrix(pv, gm.shape)) is not None:
        pp = [matrix, pred]  # a list of rows from code against a matrix or vector gold
    if _set_of_answers(g, gv, pp):
        gp, pp = _as_set(gp), _as_set(pp)
    return _with_imaginary_unit(gp, pp), _with_imaginary_unit(pp, gp)


def _is_symbol(s: str) -> bool:
    """A name whose value the other side gives: ``x``, ``a_1``, ``\\theta``, or a function at a point or
    variable (``f(x)``, ``f^{-1}(x)``, ``p(3)``; Math-Verify#64)."""
    name = r"(?:[A-Za-z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)"
    return bool(re.fullmatch(rf"{name}(?:\^\{{?-1\}}?)?(?:\([^()=]*\))?", s.strip()))


def _sequences_equal(p: list[str], g: list[str], tol: float, text: bool) -> bool:
    """Two sequences with an ellipsis: the ellipses at the same places, the other items equal."""
    if len(p) != len(g) or [i == "..." for i in p] != [i == "..." for i in g]:
        return False
    return all(a == "..." or _compare(a, b, tol, "", text).correct for a, b in zip(p, g, strict=True))


def _compare(pred: str, g: str, tol: float, detail: str, text: bool = True) -> Grade:
    """``text``: the prediction was written as text (its brackets mean something), not a value from code."""

    def grade(ok: bool, method: str) -> Grade:
        return Grade(correct=ok, em=float(ok), method=method, detail=detail)

    ps, gs_ = forms.ellipsis_items(pred), forms.ellipsis_items(g)
    if ps is not None or gs_ is not None:
        return grade(ps is not None and gs_ is not None and _sequences_equal(ps, gs_, tol, text), "sequence")
    numeral = forms.numerals_equal(pred, g)
    if numeral is not None:
        return grade(numeral, "numeral")
    if text and forms.brackets_disagree(pred, g):
        return grade(False, "brackets")
    pe, ge = _split_equation(pred), _split_equation(g)
    if pe and ge:
        verdict = _equations_equal(pe, ge)
        if verdict is not None:
            return grade(verdict, "equation")
    elif pe and _is_symbol(pe[0]):  # "x = 5" against "5": compare the value
        return _compare(pe[1], g, tol, detail, text)
    elif ge and _is_symbol(ge[0]):
        return _compare(pred, ge[1], tol, detail, text)
    elif pe or ge:  # an equation against an expression
        return grade(False, "equation")

    gn, pn = _plain_number(g), _plain_number(pred)
    if gn is not None and pn is not None:
        ok = gn[0] == pn[0] if gn[1] and pn[1] else numeric_equal(float(gn[0]), float(pn[0]), tol)
        return grade(ok, "numeric")
    if pred.replace(" ", "") == g.replace(" ", ""):
        return grade(True, "string")
    gp, pp = _parse_pair(pred, g)
    gs, ps = _sympy_number(gp, g), _sympy_number(pp, pred)
    if gs is not None and ps is not None:  # exact numbers exactly; tolerance only with a decimal side
        return grade(_numbers_equal(gs[0], ps[0], gs[1] and ps[1], tol), "numeric")
    verdict = _mv_equal(gp, pp)
    if verdict and gp and pp and _exact_mismatch(gp[0], pp[0], tol):
        verdict = False
    if verdict is None:
        return grade(False, "unparsed")
    return grade(verdict, "math-verify")


def _grade_cleaned(pred: str, g: str, raw: str, graw: str, tol: float, detail: str, text: bool) -> Grade:
    """``_compare`` on the cleaned forms, then on the uncleaned ones when the cleaned did not parse."""
    result = _compare(pred, g, tol, detail, text)
    if result.method == "unparsed" and (raw.strip() != pred or graw.strip() != g):
        again = _compare(raw.strip(), graw.strip(), tol, detail, text)  # the uncleaned forms
        if again.method != "unparsed":
            return again
    return result


_warm = threading.Event()


def _warm_up() -> None:
    """One fixed comparison in this process, so the children of ``call_bounded`` inherit the parsers and
    caches math-verify builds on first use (without it every child pays ~0.3 s to build them again)."""
    if not _warm.is_set():
        _grade_cleaned(r"\frac{\sqrt{2}}{2}", "sqrt(2)/2", "", "", NUMERIC_TOLERANCE, "", True)
        _warm.set()


def grade_math(
    prediction: object, gold: str | float | int, numeric_tolerance: float = NUMERIC_TOLERANCE
) -> Grade:
    """Equivalence of the extracted prediction with the gold (see the module docstring); `correct` =
    equivalent. An empty prediction (an unanswered episode) is never correct. Anything beyond plain numbers
    is compared under a hard time bound (``grading.bounded``): what does not finish is ``method="timeout"``,
    not correct."""
    raw = extract_math_answer(prediction)
    graw = extract_math_answer(gold)
    pred, g = clean_math(raw, strip_var=False), clean_math(graw, strip_var=False)
    detail = f"extracted={raw!r} cleaned={pred!r} gold={g!r}"
    if not pred:
        return Grade(correct=False, method="empty", detail=detail)
    text = isinstance(prediction, str)  # a list or tuple from code has brackets that mean nothing
    args = (pred, g, raw, graw, numeric_tolerance, detail, text)
    if (_plain_number(pred) is not None and _plain_number(g) is not None) or pred == g:
        return _grade_cleaned(*args)  # no symbolic work: nothing to bound

    def timed_out(reason: str) -> Grade:
        return Grade(correct=False, method="timeout", detail=f"{detail} ({reason})")

    _warm_up()
    return call_bounded(_grade_cleaned, args, timed_out)
