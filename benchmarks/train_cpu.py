"""CPU training probe: how long will a pipeline config's train stage take on this machine, and will it fit?

Trains a few optimizer steps with exactly the config's train settings (LoRA, batch, sequence length, template)
on a sample of the kept records the run has so far, and projects the whole stage from the measured rate:

- kept set: the run's teacher records through the config's filter (no judge: the probe needs lengths, not
  verdicts), converted to SFT examples as the train stage does, over-length ones dropped;
- sample: the longest kept example (peak memory is set by it) plus random others, ``--steps`` × effective batch;
- measured: wall seconds per optimizer step and per example, trained tokens per second, peak resident memory;
- projected: the whole kept set's tokens ÷ the measured tokens per second × the config's epochs.

The projection assumes time grows with tokens (on this CPU the linear layers dominate at these lengths); the
sample holds the longest example, so it leans long. Writes ``benchmarks/results/train_cpu_<config>.json``.

    python benchmarks/train_cpu.py --config study --steps 2
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stamp import start_stamp, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def kept_examples(cfg, records: Path, tmp: Path) -> tuple[list, list[int], int]:
    """The SFT examples the train stage would see now, their token lengths, and how many were too long."""
    from transformers import AutoTokenizer

    from agentdistill.distill.filter import run_filter
    from agentdistill.distill.sft import records_to_sft
    from agentdistill.distill.train.length import example_lengths
    from agentdistill.distill.train.model import resolve_student
    from agentdistill.distill.train.template import training_chat_template

    kept = tmp / "kept.jsonl"
    options = cfg.filter.model_dump()
    mode = cfg.generate.mode
    if mode == "cot":
        options = {"max_per_task": options["max_per_task"]}
    run_filter(records, kept, mode, **options)
    examples, _ = records_to_sft(kept, cfg.train.student_prompt)
    tok = AutoTokenizer.from_pretrained(resolve_student(cfg.student.model))
    template = cfg.train.chat_template or (
        training_chat_template(tok) if cfg.train.assistant_only_loss else None
    )
    lengths = example_lengths(tok, examples, template)
    fits = [(ex, n) for ex, n in zip(examples, lengths, strict=True) if n <= cfg.train.max_seq_len]
    return [ex for ex, _ in fits], [n for _, n in fits], len(examples) - len(fits)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="study", help="pipeline config: built-in name or path")
    ap.add_argument("--records", type=Path, help="teacher records (default: the config's generate output)")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps to time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out", type=Path, help="results JSON (default: benchmarks/results/train_cpu_<config>.json)"
    )
    args = ap.parse_args(argv)
    stamp = start_stamp()

    from agentdistill.distill.sft import write_sft_jsonl
    from agentdistill.distill.train import TrainConfig, train
    from agentdistill.pipeline.config import load_config
    from agentdistill.pipeline.stages.generate import GENERATE

    cfg = load_config(args.config)
    records = args.records or GENERATE.records(cfg, Path(cfg.workdir))
    if not records.is_file():
        ap.error(f"no teacher records at {records}: run the config's generate stage first")
    with tempfile.TemporaryDirectory(prefix="train-cpu-") as tmp_name:
        tmp = Path(tmp_name)
        examples, lengths, too_long = kept_examples(cfg, records, tmp)
        if not examples:
            ap.error(f"{records}: no record survives the config's filter and length limit yet")
        n = min(len(examples), args.steps * cfg.train.effective_batch)
        longest = max(range(len(lengths)), key=lengths.__getitem__)
        others = [i for i in range(len(examples)) if i != longest]
        pick = [longest, *random.Random(args.seed).sample(others, n - 1)]
        sample = tmp / "sample.jsonl"
        write_sft_jsonl([examples[i] for i in pick], sample)
        tc = TrainConfig(
            **{
                **cfg.train.model_dump(),
                **dict(merge=False, export_gguf=False, resume=False, progress=False),
                **dict(max_steps=args.steps, save_steps=10**9),
            },
            model=cfg.student.model,
            out_dir=tmp / "student",
            data=sample,
        )
        t0 = time.perf_counter()
        out = train(tc)
        wall = time.perf_counter() - t0
    runtime = float(out.metrics.get("train_runtime") or wall)
    sample_tokens = sum(lengths[i] for i in pick)
    tok_per_s = sample_tokens / runtime
    epoch_s = sum(lengths) / tok_per_s
    result = {
        "config": cfg.name,
        "student": cfg.student.model,
        "train_settings": cfg.train.model_dump(),
        "kept_examples": len(examples),
        "dropped_over_length": too_long,
        "kept_tokens": {
            "total": sum(lengths),
            "mean": round(statistics.fmean(lengths), 1),
            "median": statistics.median(lengths),
            "max": max(lengths),
        },
        "sample": {"examples": n, "tokens": sample_tokens, "steps": args.steps, "seed": args.seed},
        "measured": {
            "train_runtime_s": round(runtime, 1),
            "wall_s_with_load": round(wall, 1),
            "s_per_step": round(runtime / args.steps, 1),
            "s_per_example": round(runtime / n, 2),
            "tokens_per_s": round(tok_per_s, 1),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        },
        "projected": {
            "epochs": cfg.train.epochs,
            "steps": -(-len(examples) // cfg.train.effective_batch) * cfg.train.epochs,
            "hours_per_epoch": round(epoch_s / 3600, 2),
            "hours": round(epoch_s * cfg.train.epochs / 3600, 2),
        },
    }
    path = args.out or RESULTS / f"train_cpu_{cfg.name}.json"
    write_results(path, result, stamp)
    m, p = result["measured"], result["projected"]
    print("| kept | tokens (mean / max) | s/step | s/example | tok/s | peak RSS GiB | epochs | hours |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(examples)} | {result['kept_tokens']['mean']} / {result['kept_tokens']['max']} | "
        f"{m['s_per_step']} | {m['s_per_example']} | {m['tokens_per_s']} | {m['peak_rss_gib']} | "
        f"{p['epochs']} | {p['hours']} |"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
