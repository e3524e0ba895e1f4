"""Build the closed-corpus multi-hop benchmark into the package (or --out DIR).

    python scripts/build_multihop.py [--raw /work/shared/data/raw] [--benchmarks /work/shared/data/benchmarks] [--out DIR]
"""

import argparse

from agentdistill.data.build_multihop import DEFAULT_BENCH, DEFAULT_RAW, PACKAGE_DIR, build

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", default=str(DEFAULT_RAW))
    ap.add_argument("--benchmarks", default=str(DEFAULT_BENCH))
    ap.add_argument("--out", default=str(PACKAGE_DIR), help="writes OUT/corpus/ and OUT/sets/")
    a = ap.parse_args()
    for name, n in build(a.raw, a.benchmarks, a.out).items():
        print(f"{name:24s} {n}")
