"""Functional behaviour of the sandbox: state, final_answer, tools, output, errors, fork/adopt, libraries."""

from __future__ import annotations

import os

import pytest

from agentdistill.sandbox import ExecResult, Sandbox, SandboxClosed, SandboxConfig
from agentdistill.sandbox.observation import build_observation

from .conftest import FAST


def test_state_persists_across_steps(sandbox):
    assert sandbox.run("x = 41").ok
    r = sandbox.run("x += 1\nprint(x)")
    assert r.stdout == "42\n" and r.observation == "42\n"


def test_final_answer_ends_the_step(sandbox):
    r = sandbox.run("print('before')\nfinal_answer({'a': [1, 2]})\nprint('after')")
    assert r.has_final_answer and r.final_answer == {"a": [1, 2]}
    assert r.stdout == "before\n"


def test_final_answer_not_swallowed_by_except_exception(sandbox):
    r = sandbox.run("try:\n    final_answer(3)\nexcept Exception:\n    print('caught')")
    assert r.has_final_answer and r.final_answer == 3 and "caught" not in r.stdout


def test_final_answer_plain_json_values_unchanged(sandbox):
    assert sandbox.run("import numpy as np\nfinal_answer(np.int64(7))").final_answer == 7
    assert sandbox.run("final_answer([1, 'a', None, {'k': 2.5}])").final_answer == [1, "a", None, {"k": 2.5}]
    r = sandbox.run("final_answer('Paris')")
    assert r.final_answer == "Paris" and r.final_answer_text == '"Paris"'


def test_final_answer_sympy_becomes_a_typed_payload(sandbox):
    r = sandbox.run("import sympy as sp\nfinal_answer(sp.pi / 2)")
    assert r.final_answer == {"type": "sympy", "text": "pi/2", "python": "pi/2", "latex": "\\frac{\\pi}{2}"}
    assert r.final_answer_text == "pi/2 (sympy; LaTeX \\frac{\\pi}{2})"  # what was sent, shown to people


def test_first_final_answer_wins_over_a_bare_except(sandbox):
    r = sandbox.run("try:\n    final_answer(1)\nexcept:\n    final_answer(2)")
    assert r.has_final_answer and r.final_answer == 1 and r.error is None


def test_first_final_answer_ends_the_step_even_in_a_loop(sandbox):
    r = sandbox.run(
        "try:\n    final_answer('first')\nexcept BaseException:\n    while True:\n        try:\n"
        "            print('looping')\n        except BaseException:\n            pass"
    )
    assert r.final_answer == "first" and r.error is None and "looping" not in r.stdout


def test_final_answer_then_timeout_keeps_the_answer():
    with Sandbox(config=SandboxConfig(wall_seconds=1.0, cpu_seconds=5)) as sb:
        r = sb.run("try:\n    final_answer(5)\nexcept BaseException:\n    import time\n    time.sleep(30)")
    assert r.has_final_answer and r.final_answer == 5


def test_final_answer_over_the_cap_is_an_error_the_model_sees():
    with Sandbox(config=SandboxConfig(max_final_answer_chars=100)) as sb:
        r = sb.run("final_answer('x' * 500)")
        assert not r.has_final_answer and "the limit is 100" in r.observation
        assert sb.run("final_answer('short')").final_answer == "short"


def test_tool_call_caps_per_step():
    seen = []
    with Sandbox(
        tools={"search": lambda q: seen.append(q) or "ok"},
        config=SandboxConfig(max_tool_calls=3, max_tool_arg_chars=50),
    ) as sb:
        r = sb.run("for i in range(10):\n    search(str(i))")
        assert "at most 3 tool calls per step" in r.observation and seen == ["0", "1", "2"]
        assert len(r.tool_calls) == 4 and "error" in r.tool_calls[-1]  # the refused call is in the record
        r = sb.run("search('y' * 100)")
        assert "the limit is 50" in r.observation and len(seen) == 3
        assert sb.run("print(search('ok'))").stdout == "ok\n"  # the count is per step


def test_tool_rpc_with_args_and_kwargs():
    seen = []

    def search(query: str, k: int = 3) -> str:
        seen.append((query, k))
        return f"{k} passages about {query}"

    with Sandbox(tools={"search": search}, config=FAST) as sb:
        r = sb.run("out = search('Paris', k=2)\nprint(out.upper())")
    assert r.stdout == "2 PASSAGES ABOUT PARIS\n"
    assert seen == [("Paris", 2)]
    assert r.tool_calls[0]["name"] == "search" and r.tool_calls[0]["args"] == ["Paris"]


def test_tool_exception_becomes_clear_error():
    def broken(q):
        raise ValueError("index offline")

    with Sandbox(tools={"search": broken}, config=FAST) as sb:
        r = sb.run("x = 1\nsearch('q')")
        assert r.error is not None and r.error.line == 2
        assert "search() failed: ValueError: index offline" in r.observation
        assert sb.run("print(x)").stdout == "1\n"  # the episode survives


def test_tool_non_json_args_rejected():
    with Sandbox(tools={"search": lambda q: q}, config=FAST) as sb:
        r = sb.run("search(object())")
    assert r.error is not None and "JSON-serializable" in r.observation


def test_error_reports_model_line_only(sandbox):
    r = sandbox.run("a = 1\nb = 2\nx = a / 0\nprint('no')")
    assert r.error.type == "ZeroDivisionError" and r.error.line == 3 and r.error.text == "x = a / 0"
    assert r.observation == "ZeroDivisionError: division by zero (line 3: `x = a / 0`)"
    assert "_worker" not in r.observation


def test_error_inside_library_points_at_model_line(sandbox):
    r = sandbox.run("import json\n\njson.loads('{bad')")
    assert r.error.type == "JSONDecodeError" and r.error.line == 3


def test_syntax_error(sandbox):
    r = sandbox.run("x = = 1")
    assert r.error.kind == "syntax" and r.error.line == 1 and "SyntaxError" in r.observation


def test_output_and_error_together(sandbox):
    r = sandbox.run("print('partial')\nundefined_name")
    assert r.observation.startswith("partial\n") and "NameError" in r.observation


def test_output_truncated_with_marker():
    with Sandbox(config=SandboxConfig(output_chars=100)) as sb:
        r = sb.run("print('y' * 5000)")
    assert r.observation.startswith("y" * 100) and "[truncated 4901 chars]" in r.observation
    assert len(r.stdout) <= 100


def test_observation_keeps_error_when_output_is_long():
    from agentdistill.sandbox.types import ExecError

    obs = build_observation("z" * 1000, 1000, ExecError("exception", "KeyError", "'k'", 2, "d['k']"), 300)
    assert obs.endswith("KeyError: 'k' (line 2: `d['k']`)") and "[truncated" in obs and len(obs) < 400


def test_fork_isolation_and_adopt(sandbox):
    sandbox.run("x = 1\nopen('f.txt', 'w').write('parent')")
    child = sandbox.fork()
    try:
        assert child.run("x += 1\nopen('f.txt', 'w').write('child')\nprint(x)").stdout == "2\n"
        assert sandbox.run("print(x, open('f.txt').read())").stdout == "1 parent\n"
        assert child.scratch_dir != sandbox.scratch_dir
        sandbox.adopt(child)
        assert sandbox.run("print(x, open('f.txt').read())").stdout == "2 child\n"
        with pytest.raises(SandboxClosed):
            child.run("print(1)")
    finally:
        child.close()


def test_many_forks_then_close(sandbox):
    sandbox.run("base = 10")
    kids = [sandbox.fork() for _ in range(8)]
    outs = [k.run(f"base += {i}\nprint(base)").stdout for i, k in enumerate(kids)]
    assert outs == [f"{10 + i}\n" for i in range(8)]
    for k in kids:
        k.close()
    assert sandbox.run("print(base)").stdout == "10\n"


def test_numpy_and_sympy(sandbox):
    r = sandbox.run(
        "import numpy as np, sympy as sp\n"
        "a = np.linalg.solve(np.array([[2.0, 0], [0, 4.0]]), np.array([2.0, 8.0]))\n"
        "x = sp.Symbol('x')\nprint(a.tolist(), sp.solve(x**2 - 9, x), sp.integrate(x, (x, 0, 2)))"
    )
    assert r.stdout == "[1.0, 2.0] [-3, 3] 2\n", r.observation


def test_common_stdlib_helpers_work(sandbox):
    r = sandbox.run(
        "from collections import namedtuple, Counter\nfrom dataclasses import dataclass\nimport typing\n"
        "P = namedtuple('P', 'a b')\n@dataclass\nclass D:\n    v: int\nT = typing.TypeVar('T')\n"
        "print(P(1, 2), D(3), Counter('aab')['a'], 'é'.encode('latin-1'))"
    )
    assert r.ok, r.observation
    assert "P(a=1, b=2) D(v=3) 2" in r.stdout


def test_scratch_dir_is_cwd_and_removed_on_close():
    sb = Sandbox(config=FAST)
    r = sb.run("open('data.txt', 'w').write('hi')\nprint(open('data.txt').read())")
    assert r.stdout == "hi\n"
    scratch = sb.scratch_dir
    assert (scratch / "data.txt").read_text() == "hi"
    sb.close()
    assert not scratch.exists()
    with pytest.raises(SandboxClosed):
        sb.run("1")


def test_bad_config_and_args():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        Sandbox(config=SandboxConfig(imports="nope"))
    with pytest.raises(ValueError, match="SandboxConfig.scratch_mb: must be a positive number, got 0"):
        Sandbox(config=SandboxConfig(scratch_mb=0))
    with pytest.raises(ValueError, match="SandboxConfig.max_processes"):
        Sandbox(config=SandboxConfig(max_processes=-1))
    with pytest.raises(ValueError, match="invalid tool name"):
        Sandbox(tools={"final_answer": print})
    with Sandbox(config=FAST) as sb, pytest.raises(TypeError, match="code must be str"):
        sb.run(b"print(1)")  # type: ignore[arg-type]


def test_custom_import_list():
    with Sandbox(config=SandboxConfig(imports=("math",))) as sb:
        assert sb.run("import math\nprint(math.floor(2.5))").stdout == "2\n"
        assert sb.run("import numpy").error.kind == "import"


def test_result_type(sandbox):
    r = sandbox.run("pass")
    assert isinstance(r, ExecResult) and r.ok and r.observation == "" and r.seconds >= 0


def test_worker_is_a_separate_process(sandbox):
    assert sandbox.pid and sandbox.pid != os.getpid()
