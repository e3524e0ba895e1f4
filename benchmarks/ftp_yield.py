"""Teacher yield with and without the first-thought prefix (FTP), on the same tasks, in one run.

Writes benchmarks/results/ftp_yield.json: per setting, correct trajectories per 100 tasks, how many survive the
filter (correct and every step parsed), parse failures and wall time. Used to choose FTP's default in the demo.

    python benchmarks/ftp_yield.py [--teacher qwen2.5-coder-1.5b] [--qa 6] [--math 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from agentdistill.agent.records import read_trajectories
from agentdistill.data import load_tasks
from agentdistill.distill.filter import filter_trajectories
from agentdistill.distill.generate import GenerateSettings, generate
from agentdistill.models.loading import load_llm
from agentdistill.retrieval import load_retriever

OUT = Path(__file__).parent / "results" / "ftp_yield.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default="qwen2.5-coder-1.5b")
    ap.add_argument("--qa", type=int, default=6, help="multihop-train tasks")
    ap.add_argument("--math", type=int, default=6, help="gsm8k-train tasks")
    ap.add_argument("--max-tokens", type=int, default=320)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    tasks = load_tasks("multihop-train", limit=args.qa) + load_tasks("gsm8k-train", limit=args.math)
    llm = load_llm(args.teacher, n_ctx=8192)
    retriever = load_retriever("default")
    result = {"teacher": args.teacher, "tasks": len(tasks), "settings": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for ftp in (True, False):
                out = Path(tmp) / f"ftp-{ftp}.jsonl"
                start = time.perf_counter()
                s = generate(
                    tasks, llm, out, GenerateSettings(ftp=ftp, max_tokens=args.max_tokens), retriever
                )
                wall = time.perf_counter() - start
                rep = filter_trajectories(out, Path(tmp) / f"kept-{ftp}.jsonl")
                trajs = read_trajectories(out)
                result["settings"]["ftp" if ftp else "no_ftp"] = {
                    "correct": s.correct,
                    "yield_per_100": round(s.yield_per_100, 1),
                    "kept_after_filter": rep.kept,
                    "dropped": dict(rep.dropped),
                    "parse_failures": sum(t.totals.parse_failures for t in trajs),
                    "steps": sum(t.totals.steps for t in trajs),
                    "seconds": round(wall, 1),
                }
    finally:
        llm.close()
    print(json.dumps(write_results(OUT, result, stamp), indent=2))


if __name__ == "__main__":
    main()
