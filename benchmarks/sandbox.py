"""Sandbox speed: episode start, empty-step round trip, fork, and compute-heavy steps vs in-process exec.

Writes benchmarks/results/sandbox.json. Ratios compare against plain `exec` measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from rich.progress import track

from agentdistill.sandbox import Sandbox

OUT = Path(__file__).parent / "results" / "sandbox.json"
HEAVY = {
    "loop_1e6": "s = 0\nfor i in range(10**6):\n    s += i * i",
    "sympy_solve": "import sympy as sp\nx = sp.Symbol('x')\nr = sp.solve(x**3 - 6*x**2 + 11*x - 6, x)",
    "numpy_matmul": "import numpy as np\na = np.arange(250000, dtype=float).reshape(500, 500)\nb = (a @ a).sum()",
}


def _median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    t = time.perf_counter()
    first = Sandbox()  # includes starting the zygote (CPython + numpy + sympy imports)
    zygote_ms = (time.perf_counter() - t) * 1000
    episode_ms = _median_ms(lambda: Sandbox().close(), 20)
    empty_ms = _median_ms(lambda: first.run("pass"), 200)
    fork_ms = _median_ms(lambda: first.fork().close(), 20)
    heavy = {}
    for name, code in track(HEAVY.items(), description="compute-heavy steps"):
        ns: dict = {}
        exec(code, ns)  # warm both sides (sympy caches)
        first.run(code)
        base = _median_ms(lambda c=code: exec(c, {}), 5)
        sbx = _median_ms(lambda c=code: first.run(c), 5)
        heavy[name] = {"exec_ms": round(base, 2), "sandbox_ms": round(sbx, 2), "overhead_ratio": round(sbx / base, 3)}
    first.close()
    result = {
        "zygote_start_ms": round(zygote_ms, 1),
        "episode_start_ms": round(episode_ms, 2),
        "empty_step_roundtrip_ms": round(empty_ms, 3),
        "fork_ms": round(fork_ms, 2),
        "compute_heavy": heavy,
        "targets": {"empty_step_ms": 5.0, "compute_overhead_ratio": 1.10},
    }
    print(json.dumps(write_results(OUT, result, stamp), indent=2))


if __name__ == "__main__":
    main()
