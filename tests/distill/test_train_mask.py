"""Assistant-only loss: decode the labels the trainer really builds — only assistant turns carry a loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import trl  # noqa: F401 - pinned: a failed import fails the suite

from agentdistill.distill.train import TrainConfig, build_trainer  # noqa: E402
from agentdistill.distill.train.template import CHATML_TRAINING_TEMPLATE, assistant_mask  # noqa: E402

EXAMPLES = [
    [
        {"role": "system", "content": "You solve tasks with code."},
        {"role": "user", "content": "What is 2+3?"},
        {"role": "assistant", "content": "Thought: add them.\nCode:\n```py\nprint(2+3)\n```"},
        {"role": "user", "content": "Observation: 5"},
        {"role": "assistant", "content": "Thought: done.\nCode:\n```py\nfinal_answer(5)\n```"},
    ],
    [
        {"role": "system", "content": "You solve tasks with code."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Thought: I know it.\nCode:\n```py\nfinal_answer('Paris')\n```"},
    ],
]


@pytest.fixture(scope="module")
def student_dir(request) -> Path:
    try:
        import agentdistill.models.convert  # noqa: F401

        return request.getfixturevalue("tiny_hf_dir")
    except ImportError:  # the models part's converter is not there yet: same recipe, cached
        from agentdistill.distill.train.model import resolve_student

        request.getfixturevalue("tiny_gguf")
        return Path(resolve_student("smollm2-135m"))


def _spans(ids, labels):
    """Contiguous runs of labelled tokens, as token-id lists."""
    spans, cur = [], []
    for tok, lab in zip(ids, labels, strict=True):
        if lab != -100:
            cur.append(tok)
        elif cur:
            spans.append(cur)
            cur = []
    if cur:
        spans.append(cur)
    return spans


def _expected(examples):
    return [m["content"] + "<|im_end|>" for ex in examples for m in ex if m["role"] == "assistant"]


@pytest.mark.parametrize("packing", [True, False])
def test_only_assistant_tokens_are_labelled(student_dir, tmp_path, packing):
    data = tmp_path / "sft.jsonl"
    data.write_text("{}\n")  # not read by build_trainer; the config only checks it exists
    cfg = TrainConfig(
        model=str(student_dir),
        data=data,
        out_dir=tmp_path / "out",
        packing=packing,
        lora_r=4,
        lora_alpha=8,
        max_steps=1,
        progress=False,
    )
    trainer = build_trainer(cfg, EXAMPLES)
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    batch = trainer.data_collator(rows)
    tok = trainer.processing_class
    ids = batch["input_ids"].flatten().tolist()
    labels = batch["labels"].flatten().tolist()
    decoded = [tok.decode(s) for s in _spans(ids, labels)]
    # order inside a packed row may differ (best-fit packing), the set of labelled spans may not
    assert sorted(decoded) == sorted(_expected(EXAMPLES))
    everything = tok.decode([t for t, lab in zip(ids, labels, strict=True) if lab == -100])
    for hidden in ("You solve tasks with code.", "What is 2+3?", "Observation: 5", "Capital of France?"):
        assert hidden in everything
    if packing:
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
        starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
        assert len(starts) == len(EXAMPLES)  # position ids restart at each example → block-diagonal attention


def test_chatml_training_template_renders_like_inference(student_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(student_dir)
    ex = EXAMPLES[0]
    text = tok.apply_chat_template(ex, chat_template=CHATML_TRAINING_TEMPLATE, tokenize=False)
    assert text == "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in ex)
    ids, mask = assistant_mask(tok, ex, CHATML_TRAINING_TEMPLATE)
    assert [
        tok.decode(s) for s in _spans(ids, [i if m else -100 for i, m in zip(ids, mask, strict=True)])
    ] == _expected([ex])
