"""Memory-efficient linear cross-entropy: the LM head and the loss, fused, in chunks of tokens.

The logits over a 150k vocabulary dominate SFT memory (8×2048 tokens × 152k × 4 bytes ≈ 10 GB in fp32, plus
their gradient). Here the logits of at most ``chunk_size`` tokens exist at any time: the forward keeps only
per-token log-probabilities, and the backward recomputes each chunk's logits to form the gradients of the
hidden states and the head weight. On CUDA with liger-kernel importable, the summed/mean loss uses liger's
fused kernel instead; the per-token variant used inside training is ours everywhere.

``add_chunked_lm_head`` plugs the kernel into a causal LM with the same calling convention as TRL 1.16's fused
LM head (``model(..., labels=..., fused_lm_head=True)`` → per-token ``log_probs``), so SFTTrainer, PEFT and
accelerate wrappers keep working unchanged; only the chunk size (and thus peak memory) is ours to choose.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import torch

IGNORE_INDEX = -100
DEFAULT_CHUNK_SIZE = 1024


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


class _ChunkedLinearLogProb(torch.autograd.Function):
    """Per-token log p(label) of ``hidden @ weight.T (+ bias)``; logits never exceed one chunk in memory."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, chunk_size, with_stats):  # type: ignore[override]
        n = hidden.shape[0]
        acc = torch.promote_types(hidden.dtype, torch.float32)
        valid = labels != IGNORE_INDEX
        safe = labels.clamp(min=0)
        logp = hidden.new_zeros(n, dtype=acc)
        entropy = hidden.new_zeros(n, dtype=acc) if with_stats else None
        top1 = torch.zeros(n, dtype=torch.bool, device=hidden.device) if with_stats else None
        for s in range(0, n, chunk_size):
            e = min(s + chunk_size, n)
            z = torch.nn.functional.linear(hidden[s:e], weight, bias).to(acc)
            lse = torch.logsumexp(z, dim=-1)
            logp[s:e] = z.gather(1, safe[s:e, None]).squeeze(1) - lse
            if with_stats:
                p = torch.softmax(z, dim=-1)
                entropy[s:e] = lse - (p * z).sum(-1)
                top1[s:e] = z.argmax(-1) == safe[s:e]
            del z
        logp = logp.masked_fill(~valid, 0.0)
        ctx.save_for_backward(hidden, weight, bias, labels)
        ctx.chunk_size = chunk_size
        outs = [logp]
        if with_stats:
            entropy = entropy.masked_fill(~valid, 0.0)
            top1 = top1 & valid
            ctx.mark_non_differentiable(entropy, top1)
            outs += [entropy, top1]
        return tuple(outs) if with_stats else logp

    @staticmethod
    def backward(ctx, grad_logp, *_ignored):  # type: ignore[override]
        hidden, weight, bias, labels = ctx.saved_tensors
        n = hidden.shape[0]
        acc = torch.promote_types(hidden.dtype, torch.float32)
        g = grad_logp.to(acc).masked_fill(labels == IGNORE_INDEX, 0.0)
        safe = labels.clamp(min=0)
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight, dtype=acc) if need_w else None
        grad_b = torch.zeros_like(bias, dtype=acc) if (need_b and bias is not None) else None
        for s in range(0, n, ctx.chunk_size):
            e = min(s + ctx.chunk_size, n)
            z = torch.nn.functional.linear(hidden[s:e], weight, bias).to(acc)
            # d logp / dz = onehot(label) - softmax(z)
            gz = torch.softmax(z, dim=-1).mul_(-g[s:e, None])
            gz.scatter_add_(1, safe[s:e, None], g[s:e, None])
            del z
            if grad_b is not None:
                grad_b += gz.sum(0)
            gz = gz.to(hidden.dtype)
            if need_h:
                grad_h[s:e] = gz @ weight
            if need_w:
                grad_w.addmm_(gz.t().to(acc), hidden[s:e].to(acc))
        return (
            grad_h,
            grad_w.to(weight.dtype) if grad_w is not None else None,
            grad_b.to(bias.dtype) if grad_b is not None else None,
            None,
            None,
            None,
        )


def chunked_linear_logprobs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    with_stats: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token log-probabilities of ``labels`` (zero where ``labels == -100``), shape ``labels.shape``.

    ``hidden`` is (..., H), ``weight`` (V, H). Under autocast the matmuls run in the autocast dtype (the cast is
    done here, outside the custom Function, so autograd carries the gradient back to fp32 weights); the
    softmax is always fp32. With ``with_stats`` also returns entropy and top-1 agreement (no gradient).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    shape = labels.shape
    h = hidden.reshape(-1, hidden.shape[-1])
    y = labels.reshape(-1).to(h.device)
    dtype = _autocast_dtype(h.device.type)
    if dtype is not None:
        h, weight = h.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
    with torch.autocast(h.device.type, enabled=False):
        out = _ChunkedLinearLogProb.apply(h, weight, bias, y, int(chunk_size), bool(with_stats))
    if with_stats:
        return tuple(t.view(shape) for t in out)  # type: ignore[return-value]
    return out.view(shape)


def _liger_loss(hidden, weight, labels, bias, reduction):  # pragma: no cover - needs CUDA + triton
    from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy

    return liger_fused_linear_cross_entropy(
        hidden, weight, labels, bias=bias, ignore_index=IGNORE_INDEX, reduction=reduction
    )


def chunked_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    reduction: str = "mean",
    num_items: int | torch.Tensor | None = None,
    use_liger: bool | None = None,
) -> torch.Tensor:
    """Cross-entropy of ``hidden @ weight.T`` against ``labels`` (already aligned: no shift done here).

    ``reduction``: ``mean`` over non-ignored tokens (or ``sum / num_items`` when given), ``sum`` or ``none``.
    ``use_liger=None`` picks liger's fused kernel on CUDA when importable.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
    if use_liger is None:
        use_liger = hidden.is_cuda and reduction != "none" and num_items is None and liger_available()
    if use_liger:
        h = hidden.reshape(-1, hidden.shape[-1])
        return _liger_loss(h, weight, labels.reshape(-1), bias, reduction)
    nll = -chunked_linear_logprobs(hidden, weight, labels, bias, chunk_size=chunk_size)
    if reduction == "none":
        return nll
    total = nll.sum()
    if reduction == "sum":
        return total
    denom = num_items if num_items is not None else (labels != IGNORE_INDEX).sum()
    return total / torch.as_tensor(denom, device=total.device).clamp(min=1)


@functools.cache
def liger_available() -> bool:
    try:
        import liger_kernel.transformers.functional  # noqa: F401
    except Exception:
        return False
    return True


def add_chunked_lm_head(model: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Patch ``model.forward`` so ``fused_lm_head=True`` scores labels with the chunked kernel.

    Same contract as TRL 1.16's ``add_fused_lm_head`` (returns ``trl.trainer.utils.FusedCausalLMOutput`` with
    ``loss``, ``log_probs``, ``entropy``, ``is_top1``, ``label_mask``), so SFTTrainer's ``compute_loss`` uses it
    as is. Without ``fused_lm_head`` the original forward runs (generation unchanged). Call it on the base
    model (under PEFT: ``peft_model.get_base_model()``); the backbone and head are looked up on each call.
    """
    from trl.trainer.utils import FusedCausalLMOutput

    original_forward = types.MethodType(type(model).forward, model)

    @functools.wraps(type(model).forward)
    def _forward(
        self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kw
    ):
        if not fused_lm_head:
            for k, v in (
                ("labels", labels),
                ("shift_labels", shift_labels),
                ("num_items_in_batch", num_items_in_batch),
            ):
                if v is not None:
                    kw[k] = v
            return original_forward(*args, **kw)
        kw["use_cache"] = False
        kw.pop("logits_to_keep", None)
        out = self.base_model(*args, **kw)
        if shift_labels is None:
            hidden, labels = out.last_hidden_state[:, :-1], labels[:, 1:]
        else:
            hidden, labels = out.last_hidden_state, shift_labels
        head = self.get_output_embeddings()
        labels = labels.to(head.weight.device)
        logp, entropy, top1 = chunked_linear_logprobs(
            hidden.to(head.weight.device),
            head.weight,
            labels,
            head.bias,
            chunk_size=chunk_size,
            with_stats=True,
        )
        mask = labels != IGNORE_INDEX
        denom = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(
            loss=-logp.sum() / denom, log_probs=logp, entropy=entropy, is_top1=top1, label_mask=mask
        )

    model.forward = types.MethodType(_forward, model)
    model._agentdistill_chunk_size = chunk_size
