"""Answers in Python/sympy syntax (what ``final_answer`` returns) read as math, without ``eval``.

``pi/2``, ``sqrt(2)/2``, ``x**2 + 1``, ``Fraction(1, 3)``, ``Rational(3, 4)``, ``(3, pi/2)``, ``Eq(y, 2*x)``
are walked as a Python syntax tree into sympy objects; only numbers, names, arithmetic, comparisons,
containers and a fixed list of math functions are accepted (anything else: None). Integers and integer
division stay exact (``-1/2*x`` is ``-x/2``); float literals become sympy Floats (inexact). Text with LaTeX
marks (``\\``, ``^``, ``$``, ``{`` outside a set display) is never read as Python — in Python ``x^2`` is XOR.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any

import sympy

_LATEX_MARKS = re.compile(r"[\\^$]")
_MAX_POW = 10_000  # exponents beyond this (and huge factorials) are kept unevaluated, never computed
_CONSTANTS: dict[str, Any] = {
    "pi": sympy.pi,
    "π": sympy.pi,
    "e": sympy.E,
    "E": sympy.E,
    "I": sympy.I,
    "j": sympy.I,
    "oo": sympy.oo,
    "inf": sympy.oo,
    "infinity": sympy.oo,
    "Infinity": sympy.oo,
    "nan": sympy.nan,
    "tau": 2 * sympy.pi,
    "True": sympy.true,
    "False": sympy.false,
    "zoo": sympy.zoo,
}


def _sqrt(x: Any, *rest: Any) -> Any:
    return sympy.sqrt(x)


def _root(x: Any, n: Any = 2) -> Any:
    return sympy.root(x, n)


def _log(x: Any, base: Any = None) -> Any:
    return sympy.log(x) if base is None else sympy.log(x, base)


def _factorial(n: Any) -> Any:
    if n.is_number and abs(n) > _MAX_POW:
        return sympy.factorial(n, evaluate=False)
    return sympy.factorial(n)


def _rational(p: Any, q: Any = 1) -> Any:
    try:
        return sympy.Rational(p, q)
    except (TypeError, ValueError):
        return p / q


def _symbols(*names: Any) -> Any:
    out = [sympy.Symbol(str(n), real=True) for n in names]
    return out[0] if len(out) == 1 else sympy.Tuple(*out)


_FUNCS: dict[str, Callable[..., Any]] = {
    "sqrt": _sqrt,
    "cbrt": sympy.cbrt,
    "root": _root,
    "real_root": sympy.real_root,
    "exp": sympy.exp,
    "log": _log,
    "ln": sympy.log,
    "log10": lambda x: sympy.log(x, 10),
    "log2": lambda x: sympy.log(x, 2),
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "atan2": sympy.atan2,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "Abs": sympy.Abs,
    "abs": sympy.Abs,
    "fabs": sympy.Abs,
    "factorial": _factorial,
    "binomial": sympy.binomial,
    "comb": sympy.binomial,
    "gcd": sympy.gcd,
    "lcm": sympy.lcm,
    "floor": sympy.floor,
    "ceiling": sympy.ceiling,
    "ceil": sympy.ceiling,
    "Rational": _rational,
    "Fraction": _rational,
    "Integer": sympy.Integer,
    "Float": sympy.Float,
    "float": lambda x: sympy.Float(x),
    "float64": lambda x: sympy.Float(x),
    "int": lambda x: sympy.Integer(int(x)),
    "Symbol": _symbols,
    "symbols": _symbols,
    "S": lambda x: x,
    "sympify": lambda x: x,
    "nsimplify": sympy.nsimplify,
    "simplify": lambda x: x,
    "N": lambda x, *a: x,
    "Eq": lambda a, b=0: sympy.Eq(a, b, evaluate=False),
    "Min": sympy.Min,
    "Max": sympy.Max,
    "min": sympy.Min,
    "max": sympy.Max,
    "pow": lambda a, b: _pow(a, b),
    "re": sympy.re,
    "im": sympy.im,
    "conjugate": sympy.conjugate,
    "Tuple": lambda *a: sympy.Tuple(*a),
    "FiniteSet": lambda *a: sympy.FiniteSet(*a),
    "Interval": sympy.Interval,
    "Matrix": lambda rows: sympy.Matrix(list(rows)),
    "degrees": lambda x: x * 180 / sympy.pi,
    "radians": lambda x: x * sympy.pi / 180,
    "round": lambda x, n=0: sympy.Float(round(float(x), int(n))),
}


def _pow(a: Any, b: Any) -> Any:
    if getattr(b, "is_number", False) and b.is_real and abs(b) > _MAX_POW:
        return sympy.Pow(a, b, evaluate=False)
    if (
        getattr(a, "is_number", False)
        and a.is_real
        and abs(a) > 10**6
        and getattr(b, "is_number", False)
        and b.is_real
        and abs(b) > 100
    ):
        return sympy.Pow(a, b, evaluate=False)
    return sympy.Pow(a, b)


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: _pow,
    ast.FloorDiv: lambda a, b: sympy.floor(a / b),
    ast.Mod: sympy.Mod,
}
# Arithmetic on a huge unevaluated power stays unevaluated (sympy would expand 2**10**10 + 1).
_LAZY_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: sympy.Add(a, b, evaluate=False),
    ast.Sub: lambda a, b: sympy.Add(a, sympy.Mul(-1, b, evaluate=False), evaluate=False),
    ast.Mult: lambda a, b: sympy.Mul(a, b, evaluate=False),
    ast.Div: lambda a, b: sympy.Mul(a, sympy.Pow(b, -1, evaluate=False), evaluate=False),
    ast.Pow: lambda a, b: sympy.Pow(a, b, evaluate=False),
}


def _huge(value: Any) -> bool:
    if not isinstance(value, sympy.Basic):
        return False
    for node in sympy.preorder_traversal(value):
        if isinstance(node, sympy.Pow) and node.exp.is_Number and abs(node.exp) > _MAX_POW:
            return True
        if isinstance(node, sympy.factorial) and node.args[0].is_Number and abs(node.args[0]) > _MAX_POW:
            return True
    return False


class _Unsupported(Exception):
    pass


_INTERVALS = ("open", "Lopen", "Ropen")


def _name(node: ast.AST) -> str:
    """``pi`` or ``sympy.pi`` / ``math.sqrt`` / ``np.float64`` -> the last name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
        return node.attr
    raise _Unsupported(type(node).__name__)


def _walk(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            return sympy.true if v else sympy.false
        if isinstance(v, int):
            return sympy.Integer(v)
        if isinstance(v, float):
            return sympy.Float(repr(v))
        if isinstance(v, complex):
            return sympy.Float(repr(v.real)) + sympy.Float(repr(v.imag)) * sympy.I
        if isinstance(v, str):
            return v
        raise _Unsupported("constant")
    if isinstance(node, ast.Name | ast.Attribute):
        name = _name(node)
        return _CONSTANTS[name] if name in _CONSTANTS else sympy.Symbol(name, real=True)  # as math-verify's
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _walk(node.left), _walk(node.right)
        if type(node.op) in _LAZY_BINOPS and (_huge(left) or _huge(right)):
            return _LAZY_BINOPS[type(node.op)](left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _walk(node.operand)
        if isinstance(node.op, ast.UAdd):
            return value
        return sympy.Mul(-1, value, evaluate=False) if _huge(value) else -value
    if isinstance(node, ast.Tuple | ast.List):
        return sympy.Tuple(*(_walk(e) for e in node.elts))
    if isinstance(node, ast.Set):
        return sympy.FiniteSet(*(_walk(e) for e in node.elts))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        return sympy.Eq(_walk(node.left), _walk(node.comparators[0]), evaluate=False)
    if isinstance(node, ast.Call) and not node.keywords:
        name = _name(node.func)
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(owner, ast.Name | ast.Attribute) and _name(owner) == "Interval" and name in _INTERVALS:
            return getattr(sympy.Interval, name)(*(_walk(a) for a in node.args))  # Interval.open(0, 9)
        if name not in _FUNCS:
            raise _Unsupported(name)
        return _FUNCS[name](*(_walk(a) for a in node.args))
    raise _Unsupported(type(node).__name__)


_DIGIT_SUBSCRIPT = re.compile(r"(?<![\w.])[0-9A-Z]*\d[0-9A-Z]*_\d")


def looks_python(text: str) -> bool:
    """True when ``text`` has no LaTeX marks and parses as one Python expression."""
    s = text.strip()
    if not s or _LATEX_MARKS.search(s):
        return False
    if "{" in s and not (s.startswith("{") and s.endswith("}")):
        return False
    if _DIGIT_SUBSCRIPT.search(s):  # 52_8 is a numeral in base 8 (LaTeX), not Python's 528
        return False
    try:
        ast.parse(s, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # CPython's parser on degenerate text
        return False
    return True


def python_to_sympy(text: str) -> Any | None:
    """The sympy object a Python/sympy-syntax answer denotes, or None when it is not one."""
    if not looks_python(text):
        return None
    try:
        value = _walk(ast.parse(text.strip(), mode="eval"))
    except (
        _Unsupported,
        TypeError,
        ValueError,
        ArithmeticError,
        AttributeError,
        RecursionError,
        sympy.SympifyError,
    ):
        return None
    return value if isinstance(value, sympy.Basic | sympy.MatrixBase) else None
