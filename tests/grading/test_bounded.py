"""The math grader's time and memory bound (``grading.bounded``): hostile answers cannot hang a grader,
in the main thread or in the worker threads that generation and evaluation grade in."""

import threading

import pytest

from agentdistill.grading import bounded, grade_math
from agentdistill.grading.bounded import call_bounded

# an equation whose sides sympy.simplify would expand to a ten-billion-digit integer (it hung the grader
# in the main thread too: math-verify's alarm does not cover the grader's own sympy calls)
HOSTILE = ("x = 10^{10^{10}}", "y = 5")


def _in_thread(fn, *args, wait: float = 60):
    out: dict = {}
    worker = threading.Thread(target=lambda: out.setdefault("grade", fn(*args)), daemon=True)
    worker.start()
    worker.join(wait)
    assert not worker.is_alive(), "the grader did not return"
    return out["grade"]


@pytest.fixture
def short_bound(monkeypatch):
    monkeypatch.setattr(bounded, "GRADE_SECONDS", 3.0)


def test_hostile_answer_times_out_in_a_worker_thread(short_bound):
    g = _in_thread(grade_math, *HOSTILE)
    assert (g.correct, g.method) == (False, "timeout")


@pytest.mark.timeout(120, method="thread")  # unbounded, this call never returned
def test_hostile_answer_times_out_in_the_main_thread(short_bound):
    g = grade_math(*HOSTILE)
    assert (g.correct, g.method) == (False, "timeout")


@pytest.mark.parametrize(
    ("pred", "gold", "ok"), [("x^2+1", "1+x^2", True), (r"\frac{\pi}{3}", "pi/2", False)]
)
def test_symbolic_grading_in_a_worker_thread(pred, gold, ok):
    assert _in_thread(grade_math, pred, gold).correct is ok


def _allocate(n: int) -> int:
    return len(bytearray(n))


def test_memory_blowup_is_stopped_not_the_host():
    reasons = []
    assert call_bounded(_allocate, (8 * 2**30,), lambda r: reasons.append(r) or -1) == -1
    assert "MemoryError" in reasons[0]
    assert call_bounded(_allocate, (2**20,), lambda r: -1) == 2**20
