"""A real few-step LoRA run on the 135M student: loss goes down, the merged model loads and generates, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import trl  # noqa: F401 - pinned: a failed import fails the suite

from agentdistill.distill.train import TrainConfig, train  # noqa: E402

EXAMPLE = [
    {"role": "system", "content": "You solve tasks with code."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "Thought: add.\nCode:\n```py\nfinal_answer(2+3)\n```"},
]

# longer than the runs' max_seq_len=128: dropped before training, never cut (issue 13 §4)
LONG = EXAMPLE[:2] + [
    {"role": "assistant", "content": "Thought: " + "let me think again. " * 60 + "\nCode:\nfinal_answer(5)"}
]


@pytest.fixture(scope="module")
def student_dir(request) -> Path:
    try:
        import agentdistill.models.convert  # noqa: F401

        return request.getfixturevalue("tiny_hf_dir")
    except ImportError:
        from agentdistill.distill.train.model import resolve_student

        request.getfixturevalue("tiny_gguf")
        return Path(resolve_student("smollm2-135m"))


def _cfg(student_dir, tmp_path, **kw):
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"messages": m}) + "\n" for m in [EXAMPLE] * 4 + [LONG]))
    base = dict(
        model=str(student_dir),
        data=data,
        out_dir=tmp_path / "run",
        lora_r=8,
        lora_alpha=16,
        learning_rate=2e-3,
        warmup_ratio=0.0,
        lr_scheduler="constant",
        effective_batch=1,
        max_seq_len=128,
        save_steps=3,
        progress=False,
    )
    return TrainConfig(**{**base, **kw})


def test_lora_run_loss_decreases_merged_generates_and_resumes(student_dir, tmp_path):
    out = train(_cfg(student_dir, tmp_path, max_steps=3))
    assert out.metrics["examples"] == 4 and out.metrics["over_length"]["dropped_examples"] == [4]
    assert out.metrics["over_length"]["dropped_lengths"][0] > 128
    losses = out.metrics["losses"]
    assert len(losses) == 3 and losses[-1] < losses[0] * 0.9, losses
    assert (out.adapter_dir / "adapter_config.json").is_file()
    assert json.loads((out.adapter_dir / "adapter_config.json").read_text())["r"] == 8

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out.merged_dir)
    # the student's own (inference) template ships, not the training one we may have swapped in
    assert tok.chat_template == AutoTokenizer.from_pretrained(student_dir).chat_template
    model = AutoModelForCausalLM.from_pretrained(out.merged_dir)
    prompt = tok.apply_chat_template(
        EXAMPLE[:2], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    gen = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert gen.shape[1] > prompt["input_ids"].shape[1]
    # the merge kept what LoRA learned: the merged model fits the training example better than the base model
    full = tok.apply_chat_template(EXAMPLE, return_tensors="pt", return_dict=True)
    labels = full["input_ids"].clone()
    labels[:, : prompt["input_ids"].shape[1]] = -100
    base = AutoModelForCausalLM.from_pretrained(student_dir)
    with torch.no_grad():
        merged_loss = model(**full, labels=labels).loss.item()
        base_loss = base(**full, labels=labels).loss.item()
    assert merged_loss < base_loss * 0.9, (merged_loss, base_loss)

    again = train(_cfg(student_dir, tmp_path, max_steps=4))
    assert again.metrics["resumed_from"] and again.metrics["resumed_from"].endswith("checkpoint-3")
    # the curve is the whole run's: the checkpoint's 3 logged losses, then the resumed step's
    assert again.metrics["global_step"] == 4 and len(again.metrics["losses"]) == 4
    assert again.metrics["losses"][:3] == losses
    # a finished run's clock is not continued: this attempt is the run extended, counted on its own
    assert (
        again.metrics["attempts"] == 1
        and again.metrics["train_seconds"] >= again.metrics["train_runtime"] * 0.9
    )
    # other settings (here the learning rate) start over: old checkpoints are moved aside, not resumed
    fresh = train(_cfg(student_dir, tmp_path, max_steps=1, learning_rate=1e-4))
    assert fresh.metrics["resumed_from"] is None and fresh.metrics["global_step"] == 1
    assert (Path(fresh.adapter_dir).parent / "checkpoints.stale-1" / "checkpoint-4").is_dir()


def test_bad_config_and_data_errors(tmp_path):
    from pydantic import ValidationError

    from agentdistill.distill.sft import SFTDataError, read_sft_jsonl

    with pytest.raises(ValidationError, match="data file not found"):
        TrainConfig(model="x", data=tmp_path / "nope.jsonl", out_dir=tmp_path)
    (tmp_path / "d.jsonl").write_text("{}\n")
    with pytest.raises(ValidationError, match="epochz"):
        TrainConfig(model="x", data=tmp_path / "d.jsonl", out_dir=tmp_path, epochz=3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": EXAMPLE})
        + "\n"
        + json.dumps({"messages": [{"role": "bot", "content": "x"}]})
        + "\n"
    )
    with pytest.raises(SFTDataError, match=r"bad.jsonl:2: field 'messages.0.role'"):
        read_sft_jsonl(bad)


def test_by_default_the_batch_counts_examples_not_packed_rows(student_dir, tmp_path):
    """The fault this guards: packing was on by default, so "effective batch 8" meant 8 packed rows of
    several examples each (about 4x the paper's batch, a quarter of its optimizer steps). Off by default now;
    opt-in packing still packs."""
    from agentdistill.distill.train.trainer import build_trainer, prepare_examples

    cfg = _cfg(student_dir, tmp_path)
    examples, _ = prepare_examples(cfg)  # the 4 short ones (the long one is dropped)
    plain = build_trainer(cfg, examples, callbacks=[])
    assert not cfg.packing and len(plain.train_dataset) == len(examples) == 4
    packed = build_trainer(cfg.model_copy(update={"packing": True}), examples, callbacks=[])
    assert len(packed.train_dataset) < len(examples)  # several examples to a row
