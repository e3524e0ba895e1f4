"""Generation speed per backend and model → benchmarks/results/generation.json.

For each (backend, model): prompt tok/s (cold prefill of a ~600-token agent prompt), generation tok/s
(n=1), the wall-time ratio of one agent step with n=8 samples vs n=1 (the naive way costs 8x; target
<= 2.5 on the 0.5B), and a second turn's prefill time with the KV cache vs a cold prefill of the same text.
All ratios are measured in the same run against the same backend.

    python benchmarks/generation.py [--models smollm2-135m,qwen2.5-coder-0.5b] [--backends llamacpp,hf]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentdistill.llm import GenerationConfig

OUT = Path(__file__).parent / "results" / "generation.json"
SYSTEM = (
    "You are an expert assistant who solves tasks by thinking step by step and writing Python code. "
    "You can call search(query) to retrieve passages and final_answer(x) to give the answer. Each step: "
    "'Thought:' then 'Code:' and one ```python block. "
)
PASSAGE = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named "
    "after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889. "
)


def agent_prompt(target_tokens: int = 600) -> list[dict[str, str]]:
    body = "Passages:\n" + "".join(f"[{i}] {PASSAGE}\n" for i in range(target_tokens // 45))
    user = (
        body
        + "\nQuestion: Explain in detail, step by step, who built the Eiffel Tower and why, then write code."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def bench(llm, max_tokens: int, n_big: int, has_cache: bool) -> dict:
    msgs = agent_prompt()
    sag = dict(temperature=0.4, top_p=0.8, seed=0)
    if has_cache:
        llm.reset()
    cold = llm.generate(msgs, GenerationConfig(max_tokens=1))
    prompt_tps = cold.usage.prompt_tokens / cold.usage.prefill_seconds
    if has_cache:
        llm.reset()
    t = time.perf_counter()
    one = llm.generate(msgs, GenerationConfig(max_tokens=max_tokens, n=1, **sag))
    wall1 = time.perf_counter() - t
    if has_cache:
        llm.reset()
    t = time.perf_counter()
    many = llm.generate(msgs, GenerationConfig(max_tokens=max_tokens, n=n_big, **sag))
    wall8 = time.perf_counter() - t
    res = {
        "prompt_tokens": cold.usage.prompt_tokens,
        "prompt_tok_s": round(prompt_tps, 1),
        "gen_tok_s_n1": round(one.usage.completion_tokens / one.usage.decode_seconds, 1),
        "gen_tokens_n1": one.usage.completion_tokens,
        f"gen_tokens_n{n_big}": many.usage.completion_tokens,
        f"gen_tok_s_aggregate_n{n_big}": round(many.usage.completion_tokens / many.usage.decode_seconds, 1),
        "wall_s_n1": round(wall1, 2),
        f"wall_s_n{n_big}": round(wall8, 2),
        f"ratio_wall_n{n_big}_vs_n1": round(wall8 / wall1, 2),
        f"ratio_per_token_n{n_big}_vs_n1": round(
            (wall8 / max(1, many.usage.completion_tokens))
            * n_big
            / (wall1 / max(1, one.usage.completion_tokens)),
            2,
        ),
    }
    if has_cache:  # second turn: conversation + the step + an observation, warm vs cold
        turn2 = [*msgs, {"role": "assistant", "content": one.text},
                 {"role": "user", "content": "Observation: " + PASSAGE}]  # fmt: skip
        llm.reset()
        llm.generate(msgs, GenerationConfig(max_tokens=max_tokens, n=1, **sag))  # as in the agent loop
        warm = llm.generate(turn2, GenerationConfig(max_tokens=1))
        llm.reset()
        cold2 = llm.generate(turn2, GenerationConfig(max_tokens=1))
        res.update(
            turn2_prompt_tokens=warm.usage.prompt_tokens,
            turn2_cached_tokens=warm.usage.cached_prompt_tokens,
            turn2_prefill_s_warm=round(warm.usage.prefill_seconds, 3),
            turn2_prefill_s_cold=round(cold2.usage.prefill_seconds, 3),
            turn2_prefill_ratio_warm_vs_cold=round(
                warm.usage.prefill_seconds / cold2.usage.prefill_seconds, 3
            ),
        )
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    ap.add_argument("--backends", default="llamacpp,hf")
    ap.add_argument("--max-tokens", type=int, default=150)
    ap.add_argument("--hf-max-tokens", type=int, default=48, help="transformers on CPU is slow; fewer tokens")
    ap.add_argument("--hf-models", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp, write_results

    stamp = start_stamp()
    console = Console()
    rows = []
    load_avg = os.getloadavg()[0]
    for backend in args.backends.split(","):
        models = args.models.split(",") if backend == "llamacpp" else args.hf_models.split(",")
        for model in models:
            console.print(f"[bold]{backend} / {model}[/bold] …")
            t = time.perf_counter()
            if backend == "llamacpp":
                from agentdistill.llm.llamacpp import LlamaCppLLM
                from agentdistill.models import ensure_model

                llm = LlamaCppLLM(ensure_model(model), name=model, n_ctx=4096)
                res = bench(llm, args.max_tokens, args.n, True)
            else:
                from agentdistill.models import load_llm

                llm = load_llm(f"hf:{model}")
                res = bench(llm, args.hf_max_tokens, args.n, False)
            llm.close()
            rows.append(
                {"backend": backend, "model": model, "load_s": round(time.perf_counter() - t, 1), **res}
            )
            console.print(rows[-1])
    table = Table(title=f"generation ({os.cpu_count()} CPUs, load avg {load_avg:.1f})")
    cols = ["backend", "model", "prompt_tok_s", "gen_tok_s_n1", f"ratio_wall_n{args.n}_vs_n1",
            f"ratio_per_token_n{args.n}_vs_n1", "turn2_prefill_ratio_warm_vs_cold"]  # fmt: skip
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(r.get(c, "-")) for c in cols])
    console.print(table)
    write_results(OUT, {
        "note": "ratios are within one run; run.load_start ~2 on 2 cores means another job was already running",
        "settings": {"max_tokens": args.max_tokens, "hf_max_tokens": args.hf_max_tokens, "n": args.n,
                     "temperature": 0.4, "top_p": 0.8, "n_ctx": 4096},
        "results": rows,
    }, stamp)  # fmt: skip
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
