import threading
import time

from agentdistill.common.runs import run_ordered


def test_run_ordered_keeps_input_order_with_workers() -> None:
    seen_threads: set[int] = set()

    def slow_square(x: int) -> int:
        seen_threads.add(threading.get_ident())
        time.sleep(0.02 * (5 - x))  # later items finish first
        return x * x

    out: list[int] = []
    run_ordered(range(5), slow_square, out.append, workers=3)
    assert out == [0, 1, 4, 9, 16]
    assert len(seen_threads) > 1
    out.clear()
    run_ordered(range(3), slow_square, out.append)
    assert out == [0, 1, 4]
