"""Training chat templates: assistant-only loss needs ``{% generation %}`` markers around assistant turns.

TRL 1.16 swaps in a marked template for the families it knows (Qwen2.5, …) and refuses others — including
SmolLM2's embedded ChatML template. For any ChatML model we give it a ChatML template that renders the same
text as inference (``<|im_start|>role\\ncontent<|im_end|>\\n``) and marks each assistant turn's content plus its
``<|im_end|>`` (so the student learns to stop; the newline after it is not trained).
"""

from __future__ import annotations

from typing import Any

CHATML_TRAINING_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def training_chat_template(tokenizer: Any) -> str | None:
    """A training-compatible template for ``tokenizer``, or None if its own (or TRL's patch) will do.

    Raises ValueError naming the problem when the template is neither marked, nor patchable by TRL, nor ChatML.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template or ""
    if template and has_generation_markers(template):
        return None
    try:
        get_training_chat_template(tokenizer)
        return None  # TRL knows this family and swaps its own training template in
    except Exception:
        pass
    if "<|im_start|>" in template or (not template and "<|im_start|>" in tokenizer.get_vocab()):
        return CHATML_TRAINING_TEMPLATE
    raise ValueError(
        "the tokenizer's chat template has no {% generation %} markers and is not ChatML, so assistant-only "
        "loss cannot be computed; pass a template with markers (TrainConfig.chat_template) or use --no-assistant-only"
    )


def assistant_mask(
    tokenizer: Any, messages: list[dict[str, str]], chat_template: str | None = None
) -> tuple[list[int], list[int]]:
    """Token ids and the 0/1 assistant mask the trainer will use for ``messages`` (for tests and inspection)."""
    out = tokenizer.apply_chat_template(
        messages,
        chat_template=chat_template,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    return list(out["input_ids"]), list(out["assistant_masks"])
