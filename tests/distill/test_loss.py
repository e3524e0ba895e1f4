"""The chunked linear cross-entropy equals the plain full-logits loss, in value and in gradients."""

from __future__ import annotations

import pytest
import torch

from agentdistill.distill.loss import chunked_linear_cross_entropy, chunked_linear_logprobs  # noqa: E402


def _plain(hidden, weight, labels, bias=None):
    logits = torch.nn.functional.linear(hidden, weight, bias)
    return torch.nn.functional.cross_entropy(
        logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100
    )


def _inputs(seed=0, n=37, h=16, v=101, bias=False):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2, n, h, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(v, h, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    labels = torch.randint(0, v, (2, n), generator=g)
    labels[0, :5] = -100
    labels[1, -7:] = -100
    return hidden, weight, b, labels


@pytest.mark.parametrize("chunk", [1, 8, 37, 1000])
@pytest.mark.parametrize("bias", [False, True])
def test_loss_and_grads_match_plain(chunk, bias):
    hidden, weight, b, labels = _inputs(bias=bias)
    ref = _plain(hidden, weight, labels, b)
    ref_grads = torch.autograd.grad(ref, [hidden, weight] + ([b] if bias else []))
    out = chunked_linear_cross_entropy(hidden, weight, labels, b, chunk_size=chunk, use_liger=False)
    grads = torch.autograd.grad(out, [hidden, weight] + ([b] if bias else []))
    assert torch.allclose(out, ref, atol=1e-6, rtol=1e-6)
    for got, want in zip(grads, ref_grads, strict=True):
        assert torch.allclose(got, want, atol=1e-6, rtol=1e-5)


def test_gradcheck_per_token():
    hidden, weight, _, labels = _inputs(n=6, h=4, v=9)
    fn = lambda h, w: chunked_linear_logprobs(h, w, labels, chunk_size=4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (hidden, weight))


def test_ignored_tokens_carry_no_loss_and_no_gradient():
    hidden, weight, _, labels = _inputs()
    labels[:] = -100
    labels[0, 3] = 7
    logp = chunked_linear_logprobs(hidden, weight, labels, chunk_size=5)
    assert (logp[labels == -100] == 0).all() and logp[0, 3] < 0
    (gh,) = torch.autograd.grad(logp.sum(), [hidden])
    mask = torch.zeros_like(labels, dtype=torch.bool)
    mask[0, 3] = True
    assert (gh[~mask] == 0).all() and gh[mask].abs().sum() > 0


def test_sum_and_num_items_reductions():
    hidden, weight, _, labels = _inputs()
    n = (labels != -100).sum()
    s = chunked_linear_cross_entropy(hidden, weight, labels, reduction="sum", chunk_size=8, use_liger=False)
    m = chunked_linear_cross_entropy(hidden, weight, labels, num_items=n * 2, chunk_size=8, use_liger=False)
    assert torch.allclose(s / (2 * n), m)
    with pytest.raises(ValueError, match="reduction"):
        chunked_linear_cross_entropy(hidden, weight, labels, reduction="avg")


def test_bf16_autocast_close_to_fp32():
    hidden, weight, _, labels = _inputs(h=32, v=257)
    h32, w32 = hidden.float().detach().requires_grad_(), weight.float().detach().requires_grad_()
    ref = _plain(h32, w32, labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = chunked_linear_cross_entropy(h32, w32, labels, chunk_size=16, use_liger=False)
    out.backward()
    assert w32.grad.dtype == torch.float32
    assert abs(out.item() - ref.item()) < 0.05 * abs(ref.item())
