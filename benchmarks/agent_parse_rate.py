"""Parse-failure rate of embedded models as agents, on N QA (HotpotQA test) and N math (GSM-hard) tasks, ± SAG.

Expensive on a small CPU: runs model by model, config by config, writing each finished episode to
``benchmarks/results/agent_parse_rate.jsonl`` (this run's episodes; ``--resume`` keeps an earlier run's and
skips its finished (model, sag, task) triples) and rewriting the summary
``benchmarks/results/agent_parse_rate.json`` after every episode (``"partial": true`` until the end), so a
capped or killed run still reports whatever completed. The summary records the command, date, git commit and
load average at start and end (``benchmarks/_stamp.py``). A step is a parse failure when the *chosen* step did
not parse (``agent.parse.PARSE_ERROR_KINDS``); with SAG we also report the fraction of unparsable candidates.
A model may carry its own task count: ``qwen2.5-coder-0.5b:5`` runs 5 tasks per kind.

    python benchmarks/agent_parse_rate.py --models smollm2-135m qwen2.5-coder-0.5b:5 --sag 1 --n 20 --budget 840
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.progress import Progress

from agentdistill.agent import TrajectoryWriter, read_trajectories, run_episode
from agentdistill.agent.parse import PARSE_ERROR_KINDS, STEP_STOP
from agentdistill.data.task import Task
from agentdistill.llm.types import GenerationConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "benchmarks"
OUT = ROOT / "benchmarks" / "results"
PARSE_KINDS = PARSE_ERROR_KINDS


def _tasks(n: int) -> list[Task]:
    qa = json.loads((DATA / "qa_dataset/test/hotpotqa_500_20250422.json").read_text())["examples"][:n]
    math = json.loads((DATA / "math_dataset/test/gsm_hard_500_20250507.json").read_text())["examples"][:n]
    tasks = [
        Task(
            id=f"hotpotqa-{e['id']}",
            dataset="hotpotqa",
            kind="qa",
            question=e["question"],
            answer=str(e.get("answer", e.get("golden_answers", ""))),
        )
        for e in qa
    ]
    maths = [
        Task(
            id=f"gsm-hard-{e['id']}",
            dataset="gsm-hard",
            kind="math",
            question=e["question"],
            answer=str(e["answer"]),
        )
        for e in math
    ]
    return [
        t for pair in zip(tasks, maths, strict=False) for t in pair
    ]  # interleaved: partial runs cover both


def summarize(path: Path) -> dict:
    """Per (model, sag, kind): agent steps and parse failures. The forced final-answer turn after max_steps
    (``Step.forced``) is not an agent step: it is left out of the step counts, and an episode answered only
    by it counts under ``forced``, not ``answered`` (as in the runs before that turn existed)."""
    groups: dict[str, dict] = {}
    if not path.exists():
        return groups
    for t in read_trajectories(path):
        key = f"{t.model} sag={t.settings['sag_n']} {t.task.kind}"
        g = groups.setdefault(
            key,
            {
                "episodes": 0,
                "steps": 0,
                "parse_failures": 0,
                "candidates": 0,
                "candidate_parse_failures": 0,
                "answered": 0,
                "forced": 0,
                "seconds": 0.0,
                "failure_kinds": {},
            },
        )
        forced = bool(getattr(t, "forced_final_answer", False))
        g["episodes"] += 1
        g["answered"] += t.status == "answered" and not forced
        g["forced"] += forced
        g["seconds"] += t.totals.seconds
        for s in t.steps:
            if getattr(s, "forced", False):
                continue
            g["steps"] += 1
            g["parse_failures"] += s.error_kind in PARSE_KINDS
            if s.error_kind in PARSE_KINDS:
                g["failure_kinds"][s.error_kind] = g["failure_kinds"].get(s.error_kind, 0) + 1
            g["candidates"] += max(1, len(s.candidates))
            g["candidate_parse_failures"] += (
                sum(c.error_kind in PARSE_KINDS for c in s.candidates)
                if s.candidates
                else int(s.error_kind in PARSE_KINDS)
            )
    for g in groups.values():
        g["parse_failure_rate"] = round(g["parse_failures"] / max(1, g["steps"]), 3)
        g["candidate_parse_failure_rate"] = round(g["candidate_parse_failures"] / max(1, g["candidates"]), 3)
        g["seconds"] = round(g["seconds"], 1)
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models",
        nargs="+",
        default=["smollm2-135m", "qwen2.5-coder-0.5b"],
        help="model names, each optionally with ':N' tasks per kind",
    )
    ap.add_argument("--sag", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--n", type=int, default=20, help="tasks per kind (for models without ':N')")
    ap.add_argument("--max-steps", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=192)
    ap.add_argument("--prompt", default="student")
    ap.add_argument(
        "--budget",
        type=float,
        default=3600.0,
        help="seconds for the whole run, split evenly over the (model, sag) configurations",
    )
    ap.add_argument(
        "--summarize",
        action="store_true",
        help="only rewrite the summary from this run's episode log (after a change to summarize()); "
        "the measuring run's stamp is kept under 'measured'",
    )
    ap.add_argument("--resume", action="store_true", help="keep the episodes of an earlier run and skip them")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads (default: all cores; 1 on a shared, oversubscribed machine, where "
        "spinning worker threads make 2 threads ~10x slower than 1)",
    )
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results
    from agentdistill.models.loading import load_llm
    from agentdistill.retrieval import load_retriever

    stamp = start_stamp()
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "agent_parse_rate.jsonl"
    if args.summarize:
        previous = json.loads((OUT / "agent_parse_rate.json").read_text())
        measured = previous.get("measured") or previous.get("run")
        result = {**previous, "groups": summarize(log), "measured": measured}
        write_results(OUT / "agent_parse_rate.json", result, stamp)
        return
    if log.exists() and not args.resume:
        log.unlink()
    done = (
        {(t.model, t.settings["sag_n"], t.task.id) for t in read_trajectories(log)} if log.exists() else set()
    )
    retriever = load_retriever("default", progress=False)
    gen = GenerationConfig(max_tokens=args.max_tokens, temperature=0.0, stop=STEP_STOP, seed=0)
    per_config = args.budget / (len(args.models) * len(args.sag))

    def summary(partial: bool) -> dict:
        return {
            "note": "2-core CPU shared with other work; see run.load_start/load_end",
            "partial": partial,
            "settings": {**vars(args), "stop": list(STEP_STOP)},
            "groups": summarize(log),
        }

    with TrajectoryWriter(log) as writer, Progress() as progress:
        for spec in args.models:
            model, _, count = spec.partition(":")
            tasks = _tasks(int(count) if count else args.n)
            llm = load_llm(model, n_ctx=4096, **({"n_threads": args.threads} if args.threads else {}))
            for sag in args.sag:
                bar = progress.add_task(f"{model} sag={sag}", total=len(tasks))
                start = time.perf_counter()
                for task in tasks:
                    progress.advance(bar)
                    if (llm.name, sag, task.id) in done:
                        continue
                    if time.perf_counter() - start > per_config:
                        break
                    traj = run_episode(
                        task,
                        llm,
                        retriever=retriever if task.kind == "qa" else None,
                        prompt=args.prompt,
                        max_steps=args.max_steps,
                        gen=gen,
                        sag_n=sag,
                    )
                    writer.write(traj)
                    write_results(OUT / "agent_parse_rate.json", summary(True), stamp)
            llm.close()
    write_results(OUT / "agent_parse_rate.json", summary(False), stamp)


if __name__ == "__main__":
    main()
