"""Import allow-lists per task type (paper: builtins + math, numpy, sympy, itertools, collections, re, ...).

The allow-list is a policy layer for model code; the OS limits and the audit hook are the security layers.
"""

from __future__ import annotations

_COMMON = (
    "math",
    "cmath",
    "fractions",
    "decimal",
    "numbers",
    "itertools",
    "functools",
    "collections",
    "re",
    "statistics",
    "random",
    "datetime",
    "time",
    "calendar",
    "string",
    "json",
    "heapq",
    "bisect",
    "operator",
    "typing",
    "dataclasses",
    "copy",
    "array",
    "enum",
    "textwrap",
    "unicodedata",
    "difflib",
    "pprint",
    "abc",
)
PRESETS: dict[str, tuple[str, ...]] = {
    "default": (*_COMMON, "numpy", "sympy", "mpmath"),
    "math": (*_COMMON, "numpy", "sympy", "mpmath"),
    "qa": (*_COMMON, "numpy"),
}
# Imported in the zygote before any limit goes up, so model steps never pay for them.
PRELOAD: tuple[str, ...] = (
    *PRESETS["default"],
    "numpy.linalg",
    "numpy.fft",
    "numpy.random",
    "numpy.polynomial",
    "sympy.solvers",
    "sympy.integrals",
    "sympy.parsing.sympy_parser",
    "encodings.latin_1",
    "encodings.ascii",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.idna",
    "encodings.unicode_escape",
    "encodings.raw_unicode_escape",
)


def resolve_imports(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A preset name or explicit module names -> sorted top-level module names."""
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"SandboxConfig.imports: unknown preset {spec!r} (known: {', '.join(PRESETS)})")
        names = PRESETS[spec]
    else:
        names = tuple(spec)
        bad = [
            n for n in names if not isinstance(n, str) or not n.replace("_", "a").replace(".", "a").isalnum()
        ]
        if bad:
            raise ValueError(f"SandboxConfig.imports: invalid module names {bad!r}")
    return tuple(sorted({n.partition(".")[0] for n in names}))
