"""Padding-free packing gives the same loss as one-example-at-a-time, with the chunked and the plain head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import trl  # noqa: F401 - pinned: a failed import fails the suite

from agentdistill.distill.loss import add_chunked_lm_head  # noqa: E402
from agentdistill.distill.train import TrainConfig, build_trainer  # noqa: E402
from agentdistill.distill.train.template import CHATML_TRAINING_TEMPLATE, assistant_mask  # noqa: E402

EXAMPLES = [
    [
        {"role": "system", "content": "You solve tasks with code."},
        {"role": "user", "content": "What is 12 times 7?"},
        {"role": "assistant", "content": "Thought: multiply.\nCode:\n```py\nprint(12*7)\n```"},
        {"role": "user", "content": "Observation: 84"},
        {"role": "assistant", "content": "Thought: done.\nCode:\n```py\nfinal_answer(84)\n```"},
    ],
    [
        {"role": "system", "content": "You solve tasks with code."},
        {"role": "user", "content": "Who wrote Hamlet?"},
        {
            "role": "assistant",
            "content": "Thought: search.\nCode:\n```py\nprint(search('Hamlet author'))\n```",
        },
        {"role": "user", "content": "Observation: Hamlet is a tragedy by William Shakespeare."},
        {
            "role": "assistant",
            "content": "Thought: found it.\nCode:\n```py\nfinal_answer('William Shakespeare')\n```",
        },
    ],
    [
        {"role": "system", "content": "You solve tasks with code."},
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "Thought: check.\nCode:\n```py\nfinal_answer('yes')\n```"},
    ],
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


@pytest.fixture(scope="module")
def model_and_features(student_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(student_dir)
    model = AutoModelForCausalLM.from_pretrained(
        student_dir, dtype=torch.float32, attn_implementation="sdpa"
    ).eval()
    feats = []
    for ex in EXAMPLES:
        ids, mask = assistant_mask(tok, ex, CHATML_TRAINING_TEMPLATE)
        feats.append({"input_ids": ids, "labels": [i if m else -100 for i, m in zip(ids, mask, strict=True)]})
    return model, tok, feats


def _unpacked_nll_sum(model, feats):
    """Plain transformers: each example alone, full logits, mean loss × its token count."""
    total = 0.0
    with torch.no_grad():
        for f in feats:
            ids, labels = torch.tensor([f["input_ids"]]), torch.tensor([f["labels"]])
            n = (labels[:, 1:] != -100).sum().item()
            total += model(input_ids=ids, labels=labels).loss.item() * n
    return total


def test_packed_chunked_equals_unpacked_plain(model_and_features):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model, tok, feats = model_and_features
    want = _unpacked_nll_sum(model, feats)
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id or 0, padding_free=True)(feats)
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    add_chunked_lm_head(model, chunk_size=16)
    with torch.no_grad():
        out = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            labels=batch["labels"],
            fused_lm_head=True,
        )
        got = -out.log_probs.sum().item()
        # control: the same packed row without position ids lets examples attend across boundaries
        leaky = (
            -model(input_ids=batch["input_ids"], labels=batch["labels"], fused_lm_head=True)
            .log_probs.sum()
            .item()
        )
    assert got == pytest.approx(want, rel=1e-4)
    assert abs(leaky - want) > 1e-3 * want
    assert out.label_mask.sum().item() == sum(
        (torch.tensor(f["labels"][1:]) != -100).sum().item() for f in feats
    )


def test_trainer_loss_packed_equals_unpacked(student_dir, tmp_path):
    """Through SFTTrainer.compute_loss: packing + chunked head vs no packing + TRL's own head, same data."""
    data = tmp_path / "sft.jsonl"
    data.write_text("{}\n")
    losses = {}
    for packing, chunked in ((True, True), (False, False)):
        cfg = TrainConfig(
            model=str(student_dir),
            data=data,
            out_dir=tmp_path / f"o{packing}",
            packing=packing,
            chunked_loss=chunked,
            loss_chunk_size=8,
            lora_r=4,
            lora_alpha=8,
            max_steps=1,
            progress=False,
            bf16=False,
        )
        trainer = build_trainer(cfg, EXAMPLES)
        trainer.model.eval()  # no LoRA dropout; LoRA B starts at zero, so both see the base model
        rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
        batch = trainer.data_collator(rows)
        n = (batch["labels"][:, 1:] != -100).sum()
        with torch.no_grad():
            losses[packing] = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=n).item()
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
