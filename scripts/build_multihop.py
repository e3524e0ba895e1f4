"""Build the closed-corpus multi-hop benchmark into the package (or --out DIR).

python scripts/build_multihop.py --raw DATA/raw --benchmarks DATA/benchmarks [--out DIR]
"""

import argparse

from agentdistill.data.build.multihop import PACKAGE_DIR, build
from agentdistill.retrieval.corpus import BUNDLED_DIR

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--raw", required=True, help="dir with the raw paragraph files (see retrieval/bundled/CARD.md)"
    )
    ap.add_argument("--benchmarks", required=True, help="dir with the paper's qa_dataset/ and math_dataset/")
    ap.add_argument("--out", default=str(PACKAGE_DIR), help="writes OUT/sets/")
    ap.add_argument("--corpus-out", default=str(BUNDLED_DIR), help="writes the corpus and its card here")
    a = ap.parse_args()
    for name, n in build(a.raw, a.benchmarks, a.out, a.corpus_out).items():
        print(f"{name:24s} {n}")
