"""Sandbox speed with the kernel boundary: zygote start, episode start+close, empty-step round trip, fork, and
compute-heavy steps vs in-process exec.

Writes benchmarks/results/sandbox.json (with command, date, git commit and load average at start and end, via
benchmarks/_stamp.py). Compute ratios compare against plain ``exec`` measured in the same run, interleaved
(exec, sandbox, exec, sandbox, ...) so that load from other processes hits both sides alike; the ratio is
reported on the medians and on the minima (the minimum is the least disturbed by other load on the machine), and
on CPU time (``time.process_time`` around the code, in this process and inside the worker), which other load on
the machine does not inflate. BLAS runs single-threaded on both sides (the sandbox's setting).

    python benchmarks/sandbox.py [--repeats 9] [--baseline GIT_REV]

``--baseline REV`` also measures the sandbox package of another commit (``git archive REV src`` into a temp dir,
run in a subprocess right after this one) and stores its figures under ``"baseline"``: old and new under the same
load, in one results file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: the same BLAS threading as inside the sandbox

from agentdistill.sandbox import Sandbox  # noqa: E402

OUT = Path(__file__).parent / "results" / "sandbox.json"
HEAVY = {
    "loop_1e6": "s = 0\nfor i in range(10**6):\n    s += i * i",
    "sympy_solve": "import sympy as sp\nx = sp.Symbol('x')\nr = sp.solve(x**3 - 6*x**2 + 11*x - 6, x)",
    "numpy_matmul": "import numpy as np\na = np.arange(250000, dtype=float).reshape(500, 500)\nb = (a @ a).sum()",
}
TARGETS = {"empty_step_ms": 5.0, "compute_overhead_ratio": 1.10, "fork_ms": 10.0}


def _times_ms(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


CPU_WRAP = "import time as __t\n__c = __t.process_time()\n{code}\nprint(__t.process_time() - __c)"


def _cpu_ms_exec(code: str) -> float:
    c = time.process_time()
    exec(code, {})
    return (time.process_time() - c) * 1000


def _cpu_ms_sandbox(sb: Sandbox, code: str) -> float:
    r = sb.run(CPU_WRAP.format(code=code))
    assert r.ok, r.observation
    return float(r.stdout.strip()) * 1000


def _heavy(sb: Sandbox, code: str, repeats: int) -> dict:
    exec(code, {})  # warm both sides (imports, sympy caches)
    assert sb.run(code).ok
    base, sbx, cpu_b, cpu_s = [], [], [], []
    for _ in range(repeats):
        base += _times_ms(lambda: exec(code, {}), 1)
        sbx += _times_ms(lambda: sb.run(code), 1)
        cpu_b.append(_cpu_ms_exec(code))
        cpu_s.append(_cpu_ms_sandbox(sb, code))
    med_b, med_s = statistics.median(base), statistics.median(sbx)
    cb, cs = statistics.median(cpu_b), statistics.median(cpu_s)
    return {
        "exec_cpu_ms_median": round(cb, 2),
        "sandbox_cpu_ms_median": round(cs, 2),
        "overhead_ratio_cpu": round(cs / cb, 3),
        "exec_ms_median": round(med_b, 2),
        "sandbox_ms_median": round(med_s, 2),
        "overhead_ratio_median": round(med_s / med_b, 3),
        "exec_ms_min": round(min(base), 2),
        "sandbox_ms_min": round(min(sbx), 2),
        "overhead_ratio_min": round(min(sbx) / min(base), 3),
    }


def measure(repeats: int) -> dict:
    t = time.perf_counter()
    first = Sandbox()  # includes starting the zygote (bubblewrap + CPython + numpy + sympy imports)
    zygote_ms = (time.perf_counter() - t) * 1000
    episode = _times_ms(lambda: Sandbox().close(), 20)  # new namespaces + tmpfs + worker, then teardown
    empty = _times_ms(lambda: first.run("pass"), 300)
    fork = _times_ms(lambda: first.fork().close(), 30)
    heavy = {name: _heavy(first, code, repeats) for name, code in HEAVY.items()}
    isolation = first.isolation
    first.close()
    return {
        "isolation": isolation,
        "zygote_start_ms": round(zygote_ms, 1),
        "episode_start_and_close_ms": round(statistics.median(episode), 2),
        "empty_step_roundtrip_ms": round(statistics.median(empty), 3),
        "empty_step_roundtrip_ms_p90": round(sorted(empty)[int(0.9 * len(empty))], 3),
        "fork_and_close_ms": round(statistics.median(fork), 2),
        "compute_heavy": heavy,
    }


def _baseline(rev: str, repeats: int) -> dict:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", rev, "src"], cwd=root, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = dict(os.environ, PYTHONPATH=f"{tmp}/src")
        out = subprocess.run(
            [sys.executable, __file__, "--measure-only", "--repeats", str(repeats)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return {"rev": rev, **json.loads(out.stdout)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--baseline", default=None, help="also measure the sandbox of this git revision")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.repeats)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    result = {**measure(args.repeats), "targets": TARGETS}
    if args.baseline:
        result["baseline"] = _baseline(args.baseline, args.repeats)
    print(json.dumps(write_results(OUT, result, stamp), indent=2))


if __name__ == "__main__":
    main()
