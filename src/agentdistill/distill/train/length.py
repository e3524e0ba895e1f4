"""Never train on a cut example: measure every SFT example in tokens before training and drop (or refuse)
the ones longer than ``max_seq_len``.

A trainer truncates an over-length chat at ``max_seq_len`` tokens without a word, so the end of the
trajectory — the ``final_answer`` step — is lost and the student learns to stop mid-task. Lengths are
counted with the tokenizer and the chat template the trainer uses (the training template when it swaps one
in), so a kept example fits exactly. This runs on the tokenizer alone, before the model is loaded: a
``max_seq_len`` that does not fit the data is found in seconds, not after hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OverLength = Literal["drop", "refuse"]


class OverLengthError(ValueError):
    """``over_length="refuse"`` and some examples exceed ``max_seq_len``; the message lists them."""


@dataclass
class LengthReport:
    """Token lengths against ``max_seq_len``. ``dropped``: (example index, tokens) of each dropped example."""

    max_seq_len: int
    policy: str
    total: int = 0
    kept: int = 0
    longest: int = 0
    longest_kept: int = 0
    dropped: list[tuple[int, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_seq_len": self.max_seq_len,
            "policy": self.policy,
            "total": self.total,
            "kept": self.kept,
            "dropped": len(self.dropped),
            "dropped_lengths": [n for _, n in self.dropped],
            "dropped_examples": [i for i, _ in self.dropped],
            "longest": self.longest,
            "longest_kept": self.longest_kept,
        }

    def line(self) -> str:
        """One line for a log: how many were dropped and how long they were."""
        if not self.dropped:
            return f"all {self.total} examples fit max_seq_len={self.max_seq_len} (longest {self.longest} tokens)"
        lengths = ", ".join(str(n) for _, n in self.dropped[:10]) + (" …" if len(self.dropped) > 10 else "")
        return (
            f"dropped {len(self.dropped)} of {self.total} examples longer than max_seq_len="
            f"{self.max_seq_len} tokens (lengths: {lengths}); training on {self.kept}"
        )


def example_lengths(
    tokenizer: Any, examples: list[list[dict[str, str]]], chat_template: str | None = None
) -> list[int]:
    """Token count of each chat as the trainer tokenizes it (``apply_chat_template``, no generation prompt)."""
    out = []
    for messages in examples:
        ids = tokenizer.apply_chat_template(messages, chat_template=chat_template, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        out.append(len(ids))
    return out


def fit_to_length(
    examples: list[list[dict[str, str]]], lengths: list[int], max_seq_len: int, policy: OverLength = "drop"
) -> tuple[list[list[dict[str, str]]], LengthReport]:
    """Keep the examples of at most ``max_seq_len`` tokens; with ``policy="refuse"`` raise instead of dropping.

    Raises ``OverLengthError`` (refuse, or drop leaving nothing to train on) naming the lengths found.
    """
    if len(examples) != len(lengths):
        raise ValueError(f"{len(examples)} examples but {len(lengths)} lengths")
    report = LengthReport(max_seq_len=max_seq_len, policy=policy, total=len(examples))
    kept = []
    for i, (ex, n) in enumerate(zip(examples, lengths, strict=True)):
        report.longest = max(report.longest, n)
        if n > max_seq_len:
            report.dropped.append((i, n))
        else:
            kept.append(ex)
            report.longest_kept = max(report.longest_kept, n)
    report.kept = len(kept)
    if report.dropped and policy == "refuse":
        raise OverLengthError(
            f"{len(report.dropped)} of {report.total} examples are longer than max_seq_len={max_seq_len} "
            f"(example:tokens {', '.join(f'{i}:{n}' for i, n in report.dropped[:10])}); raise max_seq_len to at "
            f"least {report.longest} or use over_length='drop'"
        )
    if not kept:
        raise OverLengthError(
            f"every one of the {report.total} examples is longer than max_seq_len={max_seq_len} "
            f"(shortest {min(lengths) if lengths else 0} tokens): nothing left to train on"
        )
    return kept, report
