"""Agent overhead benchmark → benchmarks/results/agent.json.

1. Replay model (outputs returned instantly, real sandbox, no retrieval): the loop's own cost per step —
   wall time minus generation minus code execution (target < 10 ms), and the full per-step wall time.
2. Real model (default qwen2.5-coder-0.5b, llama.cpp): fraction of an episode's wall time spent in
   generation (target ≥ 0.9), next to the backend's raw decode speed measured in the same run.
3. SAG: time of one step with n=8 candidates / with n=1 (same model, same prompt).

    python benchmarks/agent.py [--model qwen2.5-coder-0.5b] [--skip-real]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from agentdistill.agent import run_episode
from agentdistill.agent.loop import DEFAULT_GEN
from agentdistill.agent.prompts import STEP_STOP, load_prompt
from agentdistill.agent.replay import ReplayLLM
from agentdistill.data.task import Task
from agentdistill.llm.types import GenerationConfig

OUT = Path(__file__).resolve().parent / "results" / "agent.json"
F = "```"
MATH = Task(
    id="bench-1",
    dataset="bench",
    kind="math",
    answer="13138980",
    question="Marin and his neighbor Nancy each eat 218983 apples a day. How many apples do they eat in 30 days?",
)


def replay_overhead(episodes: int = 20, steps: int = 5) -> dict:
    script = [
        f"Thought: step {i}\nCode:\n{F}py\nx{i} = {i} * 2\nprint(x{i})\n{F}<end_code>" for i in range(steps)
    ]
    per_step_wall, per_step_agent, per_step_exec = [], [], []
    for _ in range(episodes):
        llm = ReplayLLM(script)
        # the loop's own cost per step: exactly `steps` scripted calls, no forced final-answer turn after them
        traj = run_episode(MATH, llm, max_steps=steps, gen=DEFAULT_GEN, force_final_answer=False)
        assert traj.status == "max_steps" and len(traj.steps) == steps, traj.error
        for s in traj.steps:
            per_step_wall.append(s.seconds)
            per_step_exec.append(s.exec_seconds)
            per_step_agent.append(s.seconds - s.gen_seconds - s.exec_seconds)
        # episode-level cost outside steps (sandbox start/stop), amortised per step
    episode = []
    for _ in range(5):
        t0 = time.perf_counter()
        run_episode(MATH, ReplayLLM(script), max_steps=steps, force_final_answer=False)
        episode.append(time.perf_counter() - t0)
    return {
        "episodes": episodes,
        "steps_per_episode": steps,
        "agent_overhead_ms_per_step_median": round(1000 * statistics.median(per_step_agent), 3),
        "agent_overhead_ms_per_step_p90": round(
            1000 * sorted(per_step_agent)[int(0.9 * len(per_step_agent))], 3
        ),
        "sandbox_exec_ms_per_step_median": round(1000 * statistics.median(per_step_exec), 3),
        "step_wall_ms_median": round(1000 * statistics.median(per_step_wall), 3),
        "episode_wall_ms_median_incl_sandbox_start": round(1000 * statistics.median(episode), 1),
        "steps_per_second_incl_sandbox": round(steps / statistics.median(episode), 1),
        "target_agent_overhead_ms": 10,
    }


def real_model(spec: str, max_steps: int, max_tokens: int) -> dict:
    from agentdistill.models.loading import load_llm

    llm = load_llm(spec, n_ctx=4096)
    gen = GenerationConfig(max_tokens=max_tokens, temperature=0.0, stop=STEP_STOP, seed=0)
    # backend baseline: one raw generation of the first step, no agent around it
    system = load_prompt("teacher").render(kind="math", search=False, max_steps=max_steps)
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": MATH.question}]
    llm.generate(msgs, GenerationConfig(max_tokens=8))  # warm-up (load, first prefill)
    raw = llm.generate(msgs, gen)
    raw_tps = raw.usage.completion_tokens / max(raw.usage.seconds, 1e-9)

    t0 = time.perf_counter()
    traj = run_episode(MATH, llm, prompt="teacher", max_steps=max_steps, gen=gen)
    wall = time.perf_counter() - t0
    gen_s = traj.totals.gen_seconds
    episode = {
        "status": traj.status,
        "steps": traj.totals.steps,
        "completion_tokens": traj.totals.completion_tokens,
        "wall_seconds": round(wall, 2),
        "generation_seconds": round(gen_s, 2),
        "exec_seconds": round(traj.totals.exec_seconds, 3),
        "generation_fraction": round(gen_s / wall, 4),
        "target_generation_fraction": 0.9,
        "agent_tokens_per_second": round(traj.totals.completion_tokens / max(gen_s, 1e-9), 1),
        "backend_raw_tokens_per_second": round(raw_tps, 1),
    }

    # SAG: first step with n=1 vs n=8 (one generate call each + execution in forks)
    sag = {}
    for n in (1, 8):
        t0 = time.perf_counter()
        tr = run_episode(MATH, llm, prompt="teacher", max_steps=1, gen=gen, sag_n=n)
        sag[f"n{n}_step_seconds"] = round(time.perf_counter() - t0, 2)
        sag[f"n{n}_completion_tokens"] = tr.totals.completion_tokens
        sag[f"n{n}_exec_seconds"] = round(tr.totals.exec_seconds, 3)
    sag["n8_over_n1"] = round(sag["n8_step_seconds"] / sag["n1_step_seconds"], 2)
    llm.close()
    return {"model": spec, "episode": episode, "sag": sag}


def main() -> None:
    ap = argparse.ArgumentParser(description="Agent overhead benchmark")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--max-steps", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    result = {
        "note": "ratios are measured within the same run; see run.load_start/load_end for the machine's load",
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "replay": replay_overhead(),
    }
    print(json.dumps(result["replay"], indent=2))
    if not args.skip_real:
        result["real"] = real_model(args.model, args.max_steps, args.max_tokens)
        print(json.dumps(result["real"], indent=2))
    write_results(OUT, result, stamp)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
