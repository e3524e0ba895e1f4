"""Build the closed-corpus multi-hop benchmark into the package (or --out DIR).

    python scripts/build_multihop.py --raw DATA/raw --benchmarks DATA/benchmarks [--out DIR]
"""

import argparse

from agentdistill.data.build_multihop import PACKAGE_DIR, build

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True, help="dir with the raw paragraph files (see data/corpus/CARD.md)")
    ap.add_argument("--benchmarks", required=True, help="dir with the paper's qa_dataset/ and math_dataset/")
    ap.add_argument("--out", default=str(PACKAGE_DIR), help="writes OUT/corpus/ and OUT/sets/")
    a = ap.parse_args()
    for name, n in build(a.raw, a.benchmarks, a.out).items():
        print(f"{name:24s} {n}")
