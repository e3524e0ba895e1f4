"""The Python layer's own state is out of model code's reach, or checked again by the host (the kernel holds
anyway). The audit hook's ``trusted`` flag used to sit in ``final_answer``'s closure, and
``final_answer.__closure__[i].cell_contents`` is plain Python: setting it switched the hook off for everything
(any path, ``os.fork``, ``sys.settrace``, frame locals)."""

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


def test_a_thread_outliving_its_step_is_seen_by_the_host():
    """The worker's own thread check reads helpers model code can replace (``final_answer.__globals__``); the host
    counts the worker's threads in /proc after each step too, so a surviving thread still ends the worker."""
    hide = (
        "g = final_answer.__globals__\ng['_listdir'] = lambda p: ['1']\ng['_thread_count'] = lambda: 0\n"
        "import collections, time\ncollections._sys.modules['_thread'].start_new_thread(time.sleep, (30,))\n"
        "print('started')"
    )
    with Sandbox(config=FAST) as sb:
        sb.run("x = 1")
        r = sb.run(hide)
        assert r.error is not None and "threads are not allowed" in r.observation, r.observation
        assert sb.restarts == 1 and sb.run("print('x' in dir())").stdout == "False\n"
