"""Build the bundled benchmark task sets: python scripts/build_task_sets.py [DATA_DIR]."""

import sys

from agentdistill.data.build_sets import DEFAULT_DATA, build_all

if __name__ == "__main__":
    counts = build_all(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA)
    for name, n in counts.items():
        print(f"{name:20s} {n}")
