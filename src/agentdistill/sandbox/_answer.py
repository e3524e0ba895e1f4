"""How a ``final_answer`` value travels from the worker to the host (stdlib only; runs inside the worker).

Plain JSON values (None, bool, int, finite float, str, and lists / str-keyed dicts of them) arrive unchanged.
Every other value becomes a *typed payload*: a dict with a string ``type`` and string forms graders read
(``grading/types.py``: ``latex``, ``text``, ``python``, ``exact``, ``value``, ``repr``)::

    sympy.pi/2            -> {"type": "sympy", "text": "pi/2", "python": "pi/2", "latex": "\\frac{\\pi}{2}"}
    sympy.Rational(1, 3)  -> {"type": "rational", "exact": "1/3", "text": "1/3", "latex": "\\frac{1}{3}",
                              "python": "Rational(1, 3)", "numerator": 1, "denominator": 3}
    Fraction(1, 3)        -> the same with "python": "Fraction(1, 3)"
    sympy.Integer(4), numpy.int64(4) -> 4 (plain);  sympy.Float / numpy.float64 -> float (plain)
    Decimal("0.10")       -> {"type": "decimal", "exact": "0.10", "text": "0.10", "python": "Decimal('0.10')"}
    float("nan"), inf     -> {"type": "float", "text": "nan" | "inf" | "-inf"}
    1+2j                  -> {"type": "complex", "text": "(1+2j)", "real": 1.0, "imag": 2.0, "python": "(1+2j)"}
    (1, 2) / {1, 2}       -> {"type": "tuple" | "set", "items": [<encoded items>], "text": "(1, 2)" / "{1, 2}"}
    numpy arrays          -> nested lists of the above
    anything else         -> {"type": "repr", "repr": "...", "text": "..."}  (str() of the value)

Nesting deeper than :data:`MAX_DEPTH` becomes a ``repr`` payload. The worker sends ``encode(value)``; the host
keeps it as ``ExecResult.final_answer`` and shows ``describe(payload)`` in ``ExecResult.final_answer_text``.
"""

from __future__ import annotations

import contextlib
import json
import math

MAX_DEPTH = 20
_TEXT_CAP = 100_000


def _cap(text: str) -> str:
    return text if len(text) <= _TEXT_CAP else text[:_TEXT_CAP] + " ..."


def _safe(fn, value) -> str | None:  # noqa: ANN001
    try:
        out = fn(value)
        return _cap(out) if isinstance(out, str) else None
    except Exception:  # noqa: BLE001 - a hostile __str__/__repr__ must not break the answer
        return None


def _rational(n: int, d: int, python: str) -> dict:
    sign = "-" if n * d < 0 else ""
    n, d = abs(n), abs(d)
    return {
        "type": "rational",
        "exact": f"{sign}{n}/{d}",
        "text": f"{sign}{n}/{d}",
        "latex": f"{sign}\\frac{{{n}}}{{{d}}}",
        "python": python,
        "numerator": int(sign + str(n)),
        "denominator": d,
    }


def _sympy(value: object) -> object:
    import sympy  # only reached for sympy objects, so sympy is already imported

    if getattr(value, "is_Integer", False):
        return int(value)  # type: ignore[call-overload]
    if getattr(value, "is_Rational", False):
        return _rational(int(value.p), int(value.q), f"Rational({value.p}, {value.q})")  # type: ignore[attr-defined]
    if getattr(value, "is_Float", False):
        return encode(float(value))  # type: ignore[arg-type]
    text = _safe(str, value)
    return {"type": "sympy", "text": text, "python": text, "latex": _safe(sympy.latex, value)}


def encode(value: object, depth: int = 0) -> object:
    """A JSON-able form of ``value`` (see the module docstring for the shapes)."""
    if value is None or isinstance(value, bool | str):
        return value if not isinstance(value, str) else _cap(value)
    if type(value) is int:
        return value
    if type(value) is float:
        if math.isfinite(value):
            return value
        return {"type": "float", "text": repr(value), "python": f"float({repr(value)!r})"}
    if depth >= MAX_DEPTH:
        return {"type": "repr", "repr": _safe(repr, value), "text": _safe(str, value)}
    mod = type(value).__module__ or ""
    if mod.startswith("sympy"):
        return _sympy(value)
    if mod.startswith("numpy"):
        for conv in ("tolist", "item"):
            fn = getattr(value, conv, None)
            if callable(fn):
                try:
                    return encode(fn(), depth + 1)
                except Exception:  # noqa: BLE001
                    break
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v, depth + 1) for k, v in value.items()}
        return {
            "type": "dict",
            "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()],
            "text": _safe(str, value),
        }
    if isinstance(value, tuple | set | frozenset):
        items = list(value)
        if not isinstance(value, tuple):
            with contextlib.suppress(Exception):  # unorderable members keep set order
                items.sort()
        return {
            "type": "tuple" if isinstance(value, tuple) else "set",
            "items": [encode(v, depth + 1) for v in items],
            "text": _safe(str, value),
        }
    if mod == "fractions":
        if value.denominator == 1:  # type: ignore[attr-defined]
            return int(value.numerator)  # type: ignore[attr-defined]
        return _rational(int(value.numerator), int(value.denominator), _safe(repr, value) or "")  # type: ignore[attr-defined]
    if mod == "decimal":
        text = _safe(str, value)
        return {"type": "decimal", "exact": text, "text": text, "python": _safe(repr, value)}
    if isinstance(value, complex):
        return {
            "type": "complex",
            "text": repr(value),
            "python": repr(value),
            "real": encode(value.real),
            "imag": encode(value.imag),
        }
    if isinstance(value, int | float):  # subclasses (bool handled above)
        return encode(int(value) if isinstance(value, int) else float(value), depth + 1)
    return {"type": "repr", "repr": _safe(repr, value), "text": _safe(str, value)}


def size(payload: object) -> int:
    """Characters of the payload as JSON (what the final-answer cap counts)."""
    return len(json.dumps(payload, ensure_ascii=False))


def describe(payload: object) -> str:
    """One line for people: plain values as JSON, payloads as ``text (type; LaTeX ...)``."""
    if isinstance(payload, dict) and isinstance(payload.get("type"), str) and "text" in payload:
        kind, text = payload["type"], payload.get("text")
        extra = f"; LaTeX {payload['latex']}" if payload.get("latex") and payload.get("latex") != text else ""
        return f"{text} ({kind}{extra})"
    return json.dumps(payload, ensure_ascii=False)
