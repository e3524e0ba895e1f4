"""Wilson intervals and paired tests against published / closed-form reference values."""

from __future__ import annotations

import numpy as np
import pytest

from agentdistill.evaluate.stats import (
    interval_from_accuracy,
    mcnemar_exact,
    mean_interval,
    newcombe_paired,
    pair_by_question,
    paired_comparison,
    rate_cell,
    score_interval,
    wilson,
)


# Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score interval, 95%).
@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(k: int, n: int, low: float, high: float) -> None:
    ci = wilson(k, n)
    assert ci.k == k and ci.n == n and ci.p == pytest.approx(k / n)
    assert ci.low == pytest.approx(low, abs=5e-5) and ci.high == pytest.approx(high, abs=5e-5)


def test_wilson_cell_text_and_bad_input() -> None:
    assert wilson(6, 15).cell() == "40.0 [19.8, 64.3] (n=15)"
    assert interval_from_accuracy(0.4, 15) == wilson(6, 15)
    with pytest.raises(ValueError, match="n must be >= 1"):
        wilson(0, 0)
    with pytest.raises(ValueError, match="k must be in"):
        wilson(16, 15)
    with pytest.raises(ValueError, match="not a count"):
        interval_from_accuracy(0.41, 15)
    assert rate_cell(0.4, 15) == "40.0 [19.8, 64.3]"
    assert rate_cell(0.41, 15) == "41.0" and rate_cell(None, 15) == "-" and rate_cell(0.0, 0) == "-"


# Exact McNemar = two-sided binomial test on the discordant pairs: p = 2 * P(X <= min(b, c)), X ~ Bin(b + c, 1/2).
@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 9, 2 * (1 + 10) / 1024),  # 0.021484375
        (3, 1, 2 * (1 + 4) / 16),  # 0.625
        (5, 5, 1.0),
        (0, 0, 1.0),
    ],
)
def test_mcnemar_exact_known_tables(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_paired_comparison_counts_discordant_pairs_and_brackets_the_difference() -> None:
    a = [True] * 9 + [False] * 1 + [True] * 5 + [False] * 5  # 9 only-A, 1 only-B, 5 both, 5 neither
    b = [False] * 9 + [True] * 1 + [True] * 5 + [False] * 5
    cmp = paired_comparison(a, b)
    assert (cmp.n, cmp.only_a, cmp.only_b) == (20, 9, 1)
    assert cmp.accuracy_a == pytest.approx(0.7) and cmp.accuracy_b == pytest.approx(0.3)
    assert cmp.diff == pytest.approx(0.4)
    assert cmp.p_value == pytest.approx(2 * 11 / 1024)
    assert 0.0 < cmp.diff_low < cmp.diff < cmp.diff_high <= 0.8  # 9 vs 1 discordant: excludes 0
    assert (cmp.diff_low, cmp.diff_high) == newcombe_paired(5, 9, 1, 5)
    assert cmp.text().startswith("+40.0 pts [")


def test_paired_interval_is_not_degenerate_when_the_runs_agree_or_barely_differ() -> None:
    """The fault this guards: a percentile bootstrap gave [0, 0] when both runs agreed on every question and
    a lower bound of exactly 0 with one-sided discordance (every resample has the same sign), claiming a
    certainty 15 questions cannot give."""
    same = paired_comparison([True] * 7 + [False] * 8, [True] * 7 + [False] * 8)
    assert same.diff == 0.0 and same.p_value == 1.0
    assert same.diff_low < -0.05 and same.diff_high > 0.05 and same.diff_low == pytest.approx(-same.diff_high)
    one = paired_comparison([True] * 8 + [False] * 7, [True] * 7 + [False] * 8)  # 1 vs 0 discordant
    assert one.diff_low < 0.0 < one.diff < one.diff_high
    all_right = paired_comparison([True] * 15, [True] * 15)  # 100 % vs 100 %: still a width from n
    assert all_right.diff_low < 0.0 < all_right.diff_high
    with pytest.raises(ValueError, match="pair them first"):
        paired_comparison([True], [True, False])
    with pytest.raises(ValueError, match="counts must be"):
        newcombe_paired(1, -1, 0, 0)


def test_newcombe_paired_interval_keeps_its_coverage_by_simulation() -> None:
    """Coverage of the 95 % interval over simulated paired runs with a known difference (n=20 questions, few
    discordant pairs: the regime of small eval sets). Newcombe (1998) reports near-nominal coverage."""
    rng = np.random.default_rng(0)
    cells = np.array([0.45, 0.12, 0.03, 0.40])  # both, only A, only B, neither: true A − B = 0.09
    true_diff = cells[1] - cells[2]
    trials, covered = 2000, 0
    for counts in rng.multinomial(20, cells, size=trials):
        low, high = newcombe_paired(*(int(c) for c in counts))
        covered += low <= true_diff <= high
    assert covered / trials >= 0.93


def test_pair_by_question_keeps_shared_ids_in_order() -> None:
    ids, a, b = pair_by_question({"q2": True, "q1": False, "q3": True}, {"q1": True, "q2": True})
    assert ids == ["q1", "q2"] and a == [False, True] and b == [True, True]


def test_mean_interval_of_sets_with_unequal_n_keeps_its_coverage() -> None:
    """The MOVER interval of a domain average (unweighted mean of two sets' accuracies, n = 15 and 40)."""
    zero = mean_interval([wilson(0, 15), wilson(0, 40)])
    assert zero.p == 0.0 and zero.low == 0.0 and zero.high > 0.05 and (zero.k, zero.n) == (0, 55)
    rng = np.random.default_rng(1)
    truth, sizes, trials, covered = (0.2, 0.5), (15, 40), 2000, 0
    for _ in range(trials):
        ks = [int(rng.binomial(n, p)) for n, p in zip(sizes, truth, strict=True)]
        ci = mean_interval([wilson(k, n) for k, n in zip(ks, sizes, strict=True)])
        covered += ci.low <= sum(truth) / 2 <= ci.high
    assert covered / trials >= 0.93
    with pytest.raises(ValueError, match="no intervals"):
        mean_interval([])


def test_score_interval_of_mean_f1_covers_and_never_collapses() -> None:
    """Mean token F1 over n questions: a 95% interval that keeps its coverage on F1-like scores (mostly 0 or 1,
    some partial) and is not a point when every score is equal (a bootstrap gives [0, 0] for all-zero F1)."""
    low, high = score_interval(0.0, 15)
    assert low == 0.0 and high > 0.1
    rng = np.random.default_rng(2)
    values, probs = np.array([0.0, 0.25, 0.5, 1.0]), np.array([0.5, 0.1, 0.1, 0.3])
    truth, trials, covered = float(values @ probs), 2000, 0
    for _ in range(trials):
        f1 = rng.choice(values, size=30, p=probs)
        lo, hi = score_interval(float(f1.sum()), 30)
        covered += lo <= truth <= hi
    assert covered / trials >= 0.93
    with pytest.raises(ValueError, match="total"):
        score_interval(4.0, 3)
