"""Typed final-answer payloads (issue 13 §3): non-JSON values reach the host as values graders understand."""

from __future__ import annotations

import pytest

from agentdistill.grading.types import is_payload, payload_text
from agentdistill.sandbox._answer import describe, encode

CASES = [
    (
        "Fraction(1, 3)",
        {
            "type": "rational",
            "exact": "1/3",
            "text": "1/3",
            "latex": "\\frac{1}{3}",
            "python": "Fraction(1, 3)",
            "numerator": 1,
            "denominator": 3,
        },
    ),
    (
        "Fraction(-6, 4)",
        {
            "type": "rational",
            "exact": "-3/2",
            "text": "-3/2",
            "latex": "-\\frac{3}{2}",
            "python": "Fraction(-3, 2)",
            "numerator": -3,
            "denominator": 2,
        },
    ),
    ("Fraction(4, 2)", 2),
    (
        "sympy.Rational(2, 6)",
        {
            "type": "rational",
            "exact": "1/3",
            "text": "1/3",
            "latex": "\\frac{1}{3}",
            "python": "Rational(1, 3)",
            "numerator": 1,
            "denominator": 3,
        },
    ),
    ("sympy.Integer(12)", 12),
    ("sympy.sqrt(8)", {"type": "sympy", "text": "2*sqrt(2)", "python": "2*sqrt(2)", "latex": "2 \\sqrt{2}"}),
    (
        "sympy.Symbol('x')**2 + 1",
        {"type": "sympy", "text": "x**2 + 1", "python": "x**2 + 1", "latex": "x^{2} + 1"},
    ),
    ("Decimal('0.10')", {"type": "decimal", "exact": "0.10", "text": "0.10", "python": "Decimal('0.10')"}),
    ("float('nan')", {"type": "float", "text": "nan", "python": "float('nan')"}),
    ("(1, 'a')", {"type": "tuple", "items": [1, "a"], "text": "(1, 'a')"}),
    ("{3, 1, 2}", {"type": "set", "items": [1, 2, 3], "text": "{1, 2, 3}"}),
    ("1 + 2j", {"type": "complex", "text": "(1+2j)", "python": "(1+2j)", "real": 1.0, "imag": 2.0}),
    ("numpy.array([[1, 2], [3, 4]])", [[1, 2], [3, 4]]),
    ("numpy.float64(0.5)", 0.5),
    ("[sympy.pi, 2]", [{"type": "sympy", "text": "pi", "python": "pi", "latex": "\\pi"}, 2]),
    (
        "{'a': Fraction(1, 2)}",
        {
            "a": {
                "type": "rational",
                "exact": "1/2",
                "text": "1/2",
                "latex": "\\frac{1}{2}",
                "python": "Fraction(1, 2)",
                "numerator": 1,
                "denominator": 2,
            }
        },
    ),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_payload_shapes(sandbox, expr: str, expected: object):
    r = sandbox.run(
        f"import numpy, sympy\nfrom fractions import Fraction\nfrom decimal import Decimal\n"
        f"final_answer({expr})"
    )
    assert r.has_final_answer, r.observation
    assert r.final_answer == expected
    if isinstance(expected, dict) and "type" in expected:
        assert is_payload(r.final_answer) and payload_text(r.final_answer) is not None  # graders can read it


def test_hostile_repr_and_deep_nesting_do_not_break_the_answer():
    class Evil:
        def __repr__(self):
            raise RuntimeError("no")

        def __str__(self):
            raise RuntimeError("no")

    assert encode(Evil()) == {"type": "repr", "repr": None, "text": None}
    deep: list = []
    for _ in range(50):
        deep = [deep]
    out = encode(deep)
    for _ in range(20):
        out = out[0]
    assert out["type"] == "repr" and out["text"].startswith("[[")


def test_describe_shows_what_was_sent():
    assert (
        describe({"type": "rational", "text": "1/3", "latex": "\\frac{1}{3}"})
        == "1/3 (rational; LaTeX \\frac{1}{3})"
    )
    assert describe([1, "a"]) == '[1, "a"]'
