"""Many episodes at once on the CPU: agent rollouts through the managed llama-server vs llama.cpp's raw ceiling.

Writes benchmarks/results/throughput.json, one run, the same 16 tasks for every setting (8 gsm-hard-500 +
8 hotpotqa-paper-closed, the demo's sets; the bundled BM25 corpus as the search tool), for the 1.5B teacher
and the 0.5B student:

- ``agent``: per concurrency 1, 2, 4, 8 (fresh server with ``parallel = concurrency`` each time, temperature 0,
  no SAG, no first-thought prefix): tasks/min, aggregate generated tok/s, accuracy, prompt tokens reused
  from the slots' caches; plus the in-process backend (one episode at a time) as the old baseline.
- ``ceiling``: ``llama-batched-bench`` (same sources, same flags, same threads) for 1, 2, 4, 8 sequences:
  pure decode tok/s (S_TG) of separate prompts, and of one shared prompt for 8 (the SAG shape).
- ``sag``: one SAG step (one request, ``n = 8``, warm prompt) through the server vs the shared-prompt ceiling.
- ``determinism``: at temperature 0, how many of the 16 trajectories differ between concurrency 1 and 4.

``ratios.ceiling_gain`` is the hardware's own bound: the best raw batched decode rate over the one-sequence
rate. Episodes are decode-bound, so no scheduler can raise tasks/min by much more than that factor.

Sized for a quiet 2-core machine (about 40 minutes): ``max_steps``/``max_tokens`` are recorded below; the
accuracies are of these episodes (temperature 0, teacher prompt), not of the models' best settings.

    python benchmarks/throughput.py [--tasks 16] [--max-steps 3] [--max-tokens 256] [--models a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from agentdistill.data import load_tasks
from agentdistill.distill.generate import GenerateSettings, generate
from agentdistill.llm.types import GenerationConfig
from agentdistill.models.loading import load_llm
from agentdistill.models.registry import cache_dir, ensure_model
from agentdistill.models.server import ensure_server_binaries
from agentdistill.retrieval import load_retriever

OUT = Path(__file__).parent / "results" / "throughput.json"
STOP = ("<|im_end|>", "<|endoftext|>")


def _content(traj: dict[str, Any]) -> Any:
    """What makes two trajectories the same episode: the chat and the answer (not timings or cache stats)."""
    return traj.get("messages"), traj.get("final_answer"), traj.get("status")


def ceiling(model: str, threads: int, pp: int, tg: int, npl: str, shared: bool) -> list[dict[str, Any]]:
    """llama-batched-bench rows (JSONL): pure decode speed ``speed_tg`` for each number of sequences."""
    bench = ensure_server_binaries().batched_bench
    cmd = [
        str(bench),
        "-m",
        str(ensure_model(model)),
        "-c",
        str(8 * (pp + tg) + 64),
        "-b",
        "512",
        "-ub",
        "512",
        "-npp",
        str(pp),
        "-ntg",
        str(tg),
        "-npl",
        npl,
        "-t",
        str(threads),
        "-tb",
        str(threads),
        "--kv-unified",
        "--output-format",
        "jsonl",
        *(["-pps"] if shared else []),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"llama-batched-bench failed: {out.stderr[-500:]}")
    rows = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    return [
        {k: r[k] for k in ("pl", "pp", "tg", "is_pp_shared", "t_pp", "speed_pp", "t_tg", "speed_tg", "speed")}
        for r in rows
    ]


def agent_run(
    spec: str,
    tasks: list,
    retriever: Any,
    args: argparse.Namespace,
    concurrency: int,
    tmp: Path,
    **llm_opts: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One rollout of all tasks; returns (metrics, {task id: trajectory content})."""
    t0 = time.perf_counter()
    llm = load_llm(spec, **llm_opts)
    load_s = time.perf_counter() - t0
    out = tmp / f"{spec.replace(':', '_').replace('/', '_')}-c{concurrency}.jsonl"
    settings = GenerateSettings(
        ftp=False,
        sag_n=1,
        samples=1,
        temperature=0.0,
        max_steps=args.max_steps,
        max_tokens=args.max_tokens,
        prompt="teacher",
        concurrency=concurrency,
    )
    try:
        start = time.perf_counter()
        summary = generate(tasks, llm, out, settings, retriever)
        wall = time.perf_counter() - start
    finally:
        llm.close()
    trajs = [json.loads(x) for x in out.read_text().split("\n") if x.strip()]  # not splitlines(): U+2028
    tok = sum(t["totals"]["completion_tokens"] for t in trajs)
    prompt = sum(t["totals"]["prompt_tokens"] for t in trajs)
    cached = sum(t["totals"]["cached_prompt_tokens"] for t in trajs)
    metrics = {
        "concurrency": concurrency,
        "load_s": round(load_s, 1),
        "wall_s": round(wall, 1),
        "tasks_per_min": round(60 * len(tasks) / wall, 2),
        "generated_tokens": tok,
        "gen_tok_s": round(tok / wall, 2),
        "correct": summary.correct,
        "accuracy": round(summary.correct / len(tasks), 3),
        "steps": sum(t["totals"]["steps"] for t in trajs),
        "failed": summary.failed,
        "prompt_tokens": prompt,
        "cached_prompt_tokens": cached,
    }
    return metrics, {t["task"]["id"]: _content(t) for t in trajs}


def sag_step(
    model: str, msgs: list[dict[str, str]], args: argparse.Namespace, threads: int
) -> dict[str, Any]:
    """One SAG step: one request with n=8 on a real first-turn prompt (system + task) whose prefix is cached."""
    llm = load_llm(f"server:{model}", parallel=8, n_ctx=args.n_ctx, n_threads=threads)
    try:
        llm.generate(
            msgs, GenerationConfig(max_tokens=1, stop=STOP)
        )  # prefill once (a step's prefix is cached)
        res = {}
        for label, extra in (("pure_decode", {"ignore_eos": True}), ("real_step", {})):
            llm.extra_body.update(extra)
            t0 = time.perf_counter()
            r = llm.generate(
                msgs,
                GenerationConfig(
                    max_tokens=args.max_tokens,
                    temperature=0.7,
                    top_p=0.9,
                    n=8,
                    seed=1,
                    stop=() if extra else STOP,
                ),
            )
            wall = time.perf_counter() - t0
            llm.extra_body.pop("ignore_eos", None)
            res[label] = {
                "completions": len(r.completions),
                "generated_tokens": r.usage.completion_tokens,
                "cached_prompt_tokens": r.usage.cached_prompt_tokens,
                "prompt_tokens": r.usage.prompt_tokens,
                "wall_s": round(wall, 2),
                "gen_tok_s": round(r.usage.completion_tokens / wall, 2),
                "requests_sent": sum(s["requests"] for s in llm.stats().values()),
            }
        return res
    finally:
        llm.close()


def bench_model(
    model: str, tasks: list, retriever: Any, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    threads = args.threads
    res: dict[str, Any] = {"model": model}
    print(f"[{model}] ceiling", flush=True)
    res["ceiling"] = {
        "separate_prompts": ceiling(model, threads, args.pp, args.tg, "1,2,4,8", False),
        "shared_prompt": ceiling(model, threads, args.pp, args.tg, "8", True),
    }
    res["agent"], contents = [], {}
    for c in args.concurrency:
        print(f"[{model}] server concurrency {c}", flush=True)
        m, contents[c] = agent_run(
            f"server:{model}", tasks, retriever, args, c, tmp, parallel=c, n_ctx=args.n_ctx, n_threads=threads
        )
        m["backend"] = "llama-server"
        res["agent"].append(m)
        print(json.dumps(m), flush=True)
    if args.inprocess:
        print(f"[{model}] in-process", flush=True)
        m, inproc = agent_run(model, tasks, retriever, args, 1, tmp, n_ctx=args.n_ctx, n_threads=threads)
        m["backend"] = "llama.cpp in-process (one episode at a time)"
        res["agent_inprocess"] = m
    print(f"[{model}] SAG step", flush=True)
    first = contents[args.concurrency[0]][tasks[0].id][0][:2]  # the episode's system + task messages
    res["sag"] = sag_step(model, first, args, threads)
    ceil = {r["pl"]: r["speed_tg"] for r in res["ceiling"]["separate_prompts"]}
    c1 = next(m for m in res["agent"] if m["concurrency"] == 1)
    best = max(res["agent"], key=lambda m: m["tasks_per_min"])
    shared8 = res["ceiling"]["shared_prompt"][0]["speed_tg"]
    res["ratios"] = {
        "best_concurrency": best["concurrency"],
        "tasks_per_min_best_vs_c1": round(best["tasks_per_min"] / c1["tasks_per_min"], 2),
        "gen_tok_s_vs_ceiling": {
            m["concurrency"]: round(m["gen_tok_s"] / ceil[m["concurrency"]], 2)
            for m in res["agent"]
            if m["concurrency"] in ceil
        },
        "sag_pure_decode_vs_shared8_ceiling": round(res["sag"]["pure_decode"]["gen_tok_s"] / shared8, 2),
        "sag_real_step_vs_shared8_ceiling": round(res["sag"]["real_step"]["gen_tok_s"] / shared8, 2),
        "ceiling_gain": round(max(ceil.values()) / ceil[1], 2),
        "ceiling_prefill_gain": round(
            max(r["speed_pp"] for r in res["ceiling"]["separate_prompts"])
            / res["ceiling"]["separate_prompts"][0]["speed_pp"],
            2,
        ),
    }
    if "agent_inprocess" in res:
        res["ratios"]["server_c1_vs_inprocess"] = round(
            c1["tasks_per_min"] / res["agent_inprocess"]["tasks_per_min"], 2
        )
        res["ratios"]["best_vs_inprocess"] = round(
            best["tasks_per_min"] / res["agent_inprocess"]["tasks_per_min"], 2
        )
    if 1 in contents and 4 in contents:
        diff = sorted(t for t in contents[1] if contents[1][t] != contents[4].get(t))
        acc = {m["concurrency"]: m["accuracy"] for m in res["agent"]}
        res["determinism"] = {
            "tasks": len(contents[1]),
            "trajectories_differing_c1_vs_c4": len(diff),
            "differing_task_ids": diff,
            "accuracy_c1": acc[1],
            "accuracy_c4": acc[4],
        }
        if args.inprocess:
            res["determinism"]["trajectories_differing_server_c1_vs_inprocess"] = sum(
                contents[1][t] != inproc.get(t) for t in contents[1]
            )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    ap.add_argument("--tasks", type=int, default=16, help="half gsm-hard-500, half hotpotqa-paper-closed")
    ap.add_argument("--max-steps", type=int, default=3, help="+ the forced final-answer turn")
    ap.add_argument("--max-tokens", type=int, default=256, help="per generation call (and the ceiling's TG)")
    ap.add_argument("--tg", type=int, default=128, help="tokens decoded per sequence in the ceiling runs")
    ap.add_argument("--pp", type=int, default=512, help="prompt tokens per sequence in the ceiling runs")
    ap.add_argument(
        "--n-ctx", type=int, default=4096, help="tokens per episode (server KV: parallel * n_ctx)"
    )
    ap.add_argument("--concurrency", default="1,2,4,8")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--inprocess",
        default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b",
        help="models to also run in-process ('' = none)",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    inproc = set(filter(None, args.inprocess.split(",")))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    ensure_server_binaries()
    half = args.tasks // 2
    tasks = load_tasks("gsm-hard-500", limit=half) + load_tasks(
        "hotpotqa-paper-closed", limit=args.tasks - half
    )
    retriever = load_retriever("default")
    result: dict[str, Any] = {
        "settings": {
            "tasks": len(tasks),
            "task_ids": [t.id for t in tasks],
            "max_steps": args.max_steps,
            "max_tokens": args.max_tokens,
            "ceiling_pp": args.pp,
            "ceiling_tg": args.tg,
            "n_ctx": args.n_ctx,
            "threads": args.threads,
            "temperature": 0.0,
            "sag_n": 8,
            "prompt": "teacher",
            "note": "accuracies are of these episodes (max_steps/max_tokens above, temperature 0); each "
            "concurrency gets a fresh server (no cache carried over); ceiling: llama-batched-bench, pp/tg above",
        },
        "models": [],
    }
    models = args.models.split(",")
    with tempfile.TemporaryDirectory(
        dir=cache_dir(), prefix="throughput-"
    ) as tmp:  # not /tmp: others clean it
        for model in models:
            args.inprocess = model in inproc
            result["models"].append(bench_model(model, tasks, retriever, args, Path(tmp)))
            result["complete"] = len(result["models"]) == len(models)  # written after each model
            write_results(args.out, result, stamp)
    print(json.dumps({m["model"]: m["ratios"] for m in result["models"]}, indent=1))


if __name__ == "__main__":
    main()
