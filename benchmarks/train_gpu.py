"""GPU training benchmark (issue 8): plain transformers SFT vs agentdistill's path, same sequences.

Models: Qwen2.5-0.5B and 1.5B architectures, random init from the configs below (no downloads). Data: agent-
trajectory-like lengths, uniform in [1024, 4096] tokens, ~16k real tokens per optimizer step, 25% of tokens
labelled as assistant (the rest -100), the same sequences for both paths.

- plain: padded batch (right padding + attention mask), SDPA, bf16 weights, fused AdamW, the model's own loss
  (full-vocabulary logits).
- agentdistill: padding-free packing into one row (position ids restart per sequence → block-diagonal attention;
  flash_attention_2 when installed, else SDPA with the packed mask), chunked linear cross-entropy
  (``add_chunked_lm_head``), optional gradient checkpointing and ``torch.compile``.

Both in full fine-tuning and LoRA r=64 (alpha 128, all linear layers). Reported: real tokens/s, MFU, peak memory.
MFU = (Σ_seq 6·N·len + 12·L·d·len²) / (step time × peak), N = non-embedding parameters + V·d (the LM-head matmul),
L layers, d hidden size, len the real length of each sequence (padding is not useful work), peak = 989 TFLOPS
(H100 SXM bf16 dense; pass --peak-tflops for other cards). The same formula is used for LoRA (so LoRA MFU reads as
"full-FT-equivalent" throughput). Also: batched generation, one prefill shared by n=8 samples (prefix KV repeated,
not recomputed) vs n=1, per decode step.

Runs only where CUDA exists; elsewhere prints a skip message and exits 0. ``--dry-run`` runs the same code on CPU
with a tiny config (for tests), writing to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "train_gpu.json"
QWEN = {
    "qwen2.5-0.5b": dict(
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "qwen2.5-1.5b": dict(
        hidden_size=1536,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        intermediate_size=8960,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
}
TINY = {
    "tiny": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=1000,
        tie_word_embeddings=True,
    )
}


def make_config(arch: dict, attn: str):
    from transformers import Qwen2Config

    return Qwen2Config(
        **arch,
        max_position_embeddings=32768,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        attn_implementation=attn,
        use_cache=False,
    )


def sample_steps(n_steps: int, tokens_per_step: int, lo: int, hi: int, vocab: int, seed: int = 0):
    """Lists of (input_ids, labels) per step; labels keep the last quarter of each sequence (the 'assistant')."""
    import torch

    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    steps = []
    for _ in range(n_steps):
        seqs, total = [], 0
        while total < tokens_per_step:
            n = rng.randint(lo, hi)
            ids = torch.randint(0, vocab, (n,), generator=gen)
            labels = ids.clone()
            labels[: (3 * n) // 4] = -100
            seqs.append((ids, labels))
            total += n
        steps.append(seqs)
    return steps


def padded_batch(seqs, device):
    import torch

    m = max(len(s[0]) for s in seqs)
    ids = torch.zeros(len(seqs), m, dtype=torch.long)
    labels = torch.full((len(seqs), m), -100, dtype=torch.long)
    mask = torch.zeros(len(seqs), m, dtype=torch.long)
    for i, (x, y) in enumerate(seqs):
        ids[i, : len(x)], labels[i, : len(y)], mask[i, : len(x)] = x, y, 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def packed_batch(seqs, device):
    """One padding-free row; the first token of each sequence carries no label (no cross-boundary target)."""
    import torch

    ids = torch.cat([x for x, _ in seqs])[None]
    labels = torch.cat([torch.cat([torch.tensor([-100]), y[1:]]) for _, y in seqs])[None]
    pos = torch.cat([torch.arange(len(x)) for x, _ in seqs])[None]
    lens = torch.tensor([0] + [len(x) for x, _ in seqs]).cumsum(0).to(torch.int32)
    out = {"input_ids": ids.to(device), "labels": labels.to(device), "position_ids": pos.to(device)}
    out.update(
        cu_seq_lens_q=lens.to(device),
        cu_seq_lens_k=lens.to(device),
        max_length_q=int(lens.diff().max()),
        max_length_k=int(lens.diff().max()),
    )
    return out


def useful_flops(cfg, seqs) -> float:
    d, L, V = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    kv = d // cfg.num_attention_heads * cfg.num_key_value_heads
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * cfg.intermediate_size  # q,o + k,v + MLP (no norms/biases)
    n = L * per_layer + V * d
    return sum(6 * n * len(x) + 12 * L * d * len(x) ** 2 for x, _ in seqs)


def build(cfg, *, lora: bool, ours: bool, compile_: bool, grad_ckpt: bool, device, dtype):
    import torch
    from transformers import AutoModelForCausalLM

    from agentdistill.distill.loss import add_chunked_lm_head

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype).to(device)
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if ours:
        add_chunked_lm_head(model, chunk_size=2048)
    if lora:
        from peft import LoraConfig, get_peft_model

        if grad_ckpt:
            model.enable_input_require_grads()
        model = get_peft_model(
            model,
            LoraConfig(
                r=64, lora_alpha=128, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
            ),
        )
    if compile_:
        model = torch.compile(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, fused=device.type == "cuda")
    return model, opt


def run_case(cfg, steps, *, lora, ours, compile_, grad_ckpt, device, dtype, warmup, peak_tflops):
    import torch

    model, opt = build(
        cfg, lora=lora, ours=ours, compile_=compile_, grad_ckpt=grad_ckpt, device=device, dtype=dtype
    )
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0, tokens, flops, losses = None, 0, 0.0, []
    for i, seqs in enumerate(steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        if ours:
            out = model(**packed_batch(seqs, device), fused_lm_head=True)
        else:
            out = model(**padded_batch(seqs, device))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(out.loss.item())
        if i >= warmup:
            tokens += sum(len(x) for x, _ in seqs)
            flops += useful_flops(cfg, seqs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {
        "tokens_per_s": tokens / secs,
        "mfu": flops / secs / (peak_tflops * 1e12),
        "peak_mem_gib": peak,
        "seconds": secs,
        "measured_steps": len(steps) - warmup,
        "first_loss": losses[0],
    }


def generation_cost(cfg, device, dtype, prompt_len: int, decode_steps: int, n: int) -> float:
    """Seconds per decode step for n samples sharing one prefill (KV of the prompt repeated n times)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    cfg.use_cache = True
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype).to(device).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, prompt_len), device=device)
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        cache = out.past_key_values
        cache.batch_repeat_interleave(n)  # one prefill, shared by the n samples
        nxt = out.logits[:, -1:].argmax(-1).repeat(n, 1)
        for i in range(decode_steps + 2):
            if i == 2:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
            cache, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        if device.type == "cuda":
            torch.cuda.synchronize()
    cfg.use_cache = False
    return (time.perf_counter() - t0) / decode_steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny config on CPU (exercises the code path)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--models", default="qwen2.5-0.5b,qwen2.5-1.5b")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--tokens-per-step", type=int, default=16384)
    ap.add_argument("--compile", action="store_true", help="torch.compile agentdistill's path")
    ap.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing on agentdistill's path")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import finish_stamp, start_stamp

    stamp = start_stamp(argv if argv is not None else None)
    import torch

    if args.dry_run:
        device, dtype, archs = torch.device("cpu"), torch.float32, TINY
        lo, hi, args.tokens_per_step, args.steps, args.warmup, prompt, dsteps = 16, 64, 128, 2, 1, 32, 2
    else:
        if not torch.cuda.is_available():
            print(
                "train_gpu.py: no CUDA device here — skipped (run it on a GPU machine; --dry-run for a CPU check)"
            )
            return 0
        device, dtype = torch.device("cuda"), torch.bfloat16
        archs = {k: QWEN[k] for k in args.models.split(",")}
        lo, hi, prompt, dsteps = 1024, 4096, 1024, 32
    import importlib.util

    ours_attn = (
        "flash_attention_2" if device.type == "cuda" and importlib.util.find_spec("flash_attn") else "sdpa"
    )
    results = {
        "device": torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"cpu ({platform.processor() or 'dry run'})",
        "dry_run": args.dry_run,
        "torch": torch.__version__,
        "ours_attention": ours_attn,
        "lengths": [lo, hi],
        "tokens_per_step": args.tokens_per_step,
        "peak_tflops": args.peak_tflops,
        "mfu_formula": "(sum_seq 6*N*len + 12*L*d*len^2) / (time * peak); N = non-embedding params + V*d",
        "cases": [],
        "generation": [],
        "complete": False,
    }

    def save() -> None:  # after every case, so a run cut short (device time limit) keeps what it measured
        results["run"] = finish_stamp(stamp)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(args.out)

    for name, arch in archs.items():
        steps = sample_steps(args.steps, args.tokens_per_step, lo, hi, arch["vocab_size"])
        for lora in (False, True):
            row = {"model": name, "method": "lora-r64" if lora else "full"}
            for path in ("plain", "agentdistill"):
                ours = path == "agentdistill"
                cfg = make_config(arch, ours_attn if ours else "sdpa")
                try:
                    row[path] = run_case(
                        cfg,
                        steps,
                        lora=lora,
                        ours=ours,
                        compile_=args.compile and ours,
                        grad_ckpt=args.grad_ckpt and ours,
                        device=device,
                        dtype=dtype,
                        warmup=args.warmup,
                        peak_tflops=args.peak_tflops,
                    )
                except torch.OutOfMemoryError:
                    row[path] = {"oom": True}
                    torch.cuda.empty_cache()
                print(name, row["method"], path, row[path], flush=True)
            p, o = row["plain"], row["agentdistill"]
            if not p.get("oom") and not o.get("oom"):
                row["speedup"] = o["tokens_per_s"] / p["tokens_per_s"]
                if p["peak_mem_gib"]:
                    row["memory_ratio"] = o["peak_mem_gib"] / p["peak_mem_gib"]
            results["cases"].append(row)
            save()
        cfg = make_config(arch, "sdpa")
        one = generation_cost(cfg, device, dtype, prompt, dsteps, 1)
        eight = generation_cost(cfg, device, dtype, prompt, dsteps, 8)
        results["generation"].append(
            {
                "model": name,
                "prompt_tokens": prompt,
                "step_s_n1": one,
                "step_s_n8": eight,
                "ratio_n8_over_n1": eight / one,
            }
        )
        save()
    results["complete"] = True
    save()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
