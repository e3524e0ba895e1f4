"""The audit hook's ``trusted`` flag is out of model code's reach (the second layer; the kernel's holds anyway).

It used to sit in ``final_answer``'s closure, and ``final_answer.__closure__[i].cell_contents`` is plain Python:
setting it switched the hook off for everything (any path, ``os.fork``, ``sys.settrace``, frame locals)."""

from __future__ import annotations

from agentdistill.sandbox import Sandbox

from .conftest import FAST

FLIP = (
    "import collections\nOS = collections._sys.modules['os']\n"
    "for cell in final_answer.__closure__ or ():\n    v = cell.cell_contents\n"
    "    if isinstance(v, list) and len(v) == 1:\n        v[0] = True\n"
)


def test_final_answers_closure_does_not_hold_the_flag(host):
    with Sandbox(config=FAST) as sb:
        r = sb.run(FLIP + "print(OS.listdir('/'))")
        assert r.error is not None and r.error.type == "PermissionError", r.observation
        assert "is not allowed" in r.observation  # the guard's refusal, not a kernel error
        f = sb.run(FLIP + "OS.fork()")
        assert "os.fork is not allowed" in f.observation, f.observation
        a = sb.run("try:\n    final_answer(42)\nexcept BaseException:\n    pass\nprint('not reached')")
        assert a.has_final_answer and a.final_answer == 42 and a.stdout == "", a.observation
    host.assert_intact(r.observation)
