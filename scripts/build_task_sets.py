"""Build the bundled benchmark task sets: python scripts/build_task_sets.py DATA_DIR (holds benchmarks/ and raw/)."""

import sys

from agentdistill.data.build.sets import build_all

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, n in build_all(sys.argv[1]).items():
        print(f"{name:20s} {n}")
