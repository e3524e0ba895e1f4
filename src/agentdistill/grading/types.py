"""A grade for one prediction, and how graders read the sandbox's typed answer payloads."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

# String forms a typed payload may carry (sandbox serialisation of non-JSON `final_answer` values, e.g.
# {"type": "sympy", "latex": "\\frac{\\pi}{2}", "text": "pi/2", "python": "pi/2"}).
PAYLOAD_FORMS = ("latex", "text", "python", "exact", "value", "repr")


class Grade(BaseModel):
    correct: bool  # the headline metric: EM for QA, equivalence for math
    em: float = 0.0
    f1: float = 0.0
    cover_em: float = 0.0  # QA only: gold contained in a short prediction; reported apart from EM
    method: str = ""  # "qa-em", "math-verify", "numeric", "judge", ...
    detail: str = ""


def is_payload(value: object) -> bool:
    """True for a typed answer payload: a dict with a string ``type`` and at least one known form."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and any(value.get(k) is not None for k in PAYLOAD_FORMS)
    )


def payload_text(value: object, prefer: Sequence[str] = PAYLOAD_FORMS) -> object:
    """The first present form of a typed payload, in ``prefer`` order then the rest; other values unchanged.

    Forms may be strings or JSON values (a number under ``value``); a payload with no usable form is None.
    """
    if not is_payload(value):
        return value
    assert isinstance(value, dict)
    for key in (*prefer, *PAYLOAD_FORMS):
        form = value.get(key)
        if form is not None and form != "":
            return form
    return None
