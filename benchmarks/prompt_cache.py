"""llama-server's host-memory prompt cache on a first-thought-prefix (FTP) rollout, with and without, in one run.

An FTP attempt sends the teacher a CoT request, then the agent episode's first turn. On one slot the CoT prompt
evicts the agent's system prompt, so without the prompt cache every attempt prefills it again. This runs the real
FTP generate path (`agentdistill.distill.generate`; one agent step per attempt, the turn the cache changes; the
study's 384 tokens) on the same tasks and seeds with ``prompt_cache_mib=0`` and with the default, alternating the
two settings over ``--rounds`` (the order flips every round) so that machine load falls on both. Writes
benchmarks/results/prompt_cache.json: per setting, wall seconds, the first agent turn's prefilled (uncached)
prompt tokens and seconds, and on how many tasks the first step's text is the same within and across the settings.

    python benchmarks/prompt_cache.py [--teacher qwen2.5-coder-1.5b] [--qa 3] [--math 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agentdistill.agent.records import read_trajectories
from agentdistill.data import load_tasks
from agentdistill.distill.generate import GenerateSettings, generate
from agentdistill.models.loading import load_llm
from agentdistill.models.server import PROMPT_CACHE_MIB as DEFAULT_MIB
from agentdistill.retrieval import load_retriever

OUT = Path(__file__).parent / "results" / "prompt_cache.json"


def _run(teacher: str, mib: int, tasks: list, retriever, tmp: Path, tag: str) -> dict:
    llm = load_llm(f"server:{teacher}", parallel=1, n_ctx=8192, prompt_cache_mib=mib, log_dir=str(tmp))
    out = tmp / f"{tag}.jsonl"
    try:
        start = time.perf_counter()
        generate(tasks, llm, out, GenerateSettings(ftp=True, max_steps=1, max_tokens=384), retriever)
        wall = time.perf_counter() - start
    finally:
        llm.close()
    trajs = read_trajectories(out)
    first = [t.steps[0] for t in trajs if t.steps]
    return {
        "first_step_texts": {
            f"{t.task.dataset}/{t.task.id}": t.steps[0].raw if t.steps else None for t in trajs
        },
        "wall_seconds": round(wall, 1),
        "first_turn_uncached_tokens": sum(s.prompt_tokens - s.cached_prompt_tokens for s in first),
        "first_turn_seconds": round(sum(s.gen_seconds for s in first), 1),
        "cot_seconds": round(sum(t.settings.ftp_cot_seconds or 0.0 for t in trajs), 1),
    }


def _same(rows: list[dict]) -> int | None:
    """How many tasks have the same first-step text in every run of ``rows`` (None for fewer than two runs)."""
    if len(rows) < 2:
        return None
    tasks = rows[0]["first_step_texts"]
    return sum(len({r["first_step_texts"].get(k) for r in rows}) == 1 for k in tasks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default="qwen2.5-coder-1.5b")
    ap.add_argument("--qa", type=int, default=3, help="multihop-train tasks")
    ap.add_argument("--math", type=int, default=3, help="gsm8k-train tasks")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two settings")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    tasks = load_tasks("multihop-train", limit=args.qa) + load_tasks("gsm8k-train", limit=args.math)
    retriever = load_retriever("default")
    runs: dict[int, list[dict]] = {0: [], DEFAULT_MIB: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):  # the order flips every round: load drift falls on both settings
            for mib in list(runs)[:: 1 if r % 2 == 0 else -1]:
                runs[mib].append(_run(args.teacher, mib, tasks, retriever, Path(tmp), f"r{r}-{mib}"))
                print(f"round {r + 1}/{args.rounds} prompt_cache_mib={mib}: {runs[mib][-1]['wall_seconds']} s",
                      file=sys.stderr, flush=True)  # fmt: skip

    def summary(rows: list[dict]) -> dict:
        return {
            "wall_seconds": [x["wall_seconds"] for x in rows],
            "wall_seconds_median": statistics.median(x["wall_seconds"] for x in rows),
            "first_turn_uncached_tokens": [x["first_turn_uncached_tokens"] for x in rows],
            "first_turn_seconds": [x["first_turn_seconds"] for x in rows],
            "cot_seconds": [x["cot_seconds"] for x in rows],
        }

    off, on = summary(runs[0]), summary(runs[DEFAULT_MIB])
    result = {
        "teacher": args.teacher,
        "tasks": len(tasks),
        "attempt": "FTP: CoT request (stop at the first blank line), then one agent turn; llama-server, 1 slot",
        "prompt_cache_off": off,
        f"prompt_cache_{DEFAULT_MIB}_mib": on,
        "wall_ratio_on_over_off": round(on["wall_seconds_median"] / off["wall_seconds_median"], 3),
        # tasks whose first agent step reads the same: across rounds of one setting (is a setting deterministic?)
        # and across the two settings (a restored cache and a fresh prefill can round differently: greedy text
        # may then part at a near tie, as between the server and the in-process backend in throughput.json)
        "same_first_step_tasks": {
            "within_off": _same(runs[0]),
            "within_on": _same(runs[DEFAULT_MIB]),
            "across": _same(runs[0] + runs[DEFAULT_MIB]),
            "of": len(tasks),
        },
    }
    print(json.dumps(write_results(OUT, result, stamp), indent=2))


if __name__ == "__main__":
    main()
