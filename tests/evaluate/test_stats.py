"""Wilson intervals and paired tests against published / closed-form reference values."""

from __future__ import annotations

import pytest

from agentdistill.evaluate.stats import (
    interval_from_accuracy,
    mcnemar_exact,
    pair_by_question,
    paired_comparison,
    rate_cell,
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
    assert rate_cell(0.41, 15) == "41.0" and rate_cell(None, 15) == "-" and rate_cell(0.5, 0) == "50.0"


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
    assert 0.0 < cmp.diff_low < cmp.diff < cmp.diff_high <= 0.8  # bootstrap interval excludes 0 here
    assert paired_comparison(a, b) == cmp  # fixed seed: the report is reproducible
    assert cmp.text().startswith("+40.0 pts [")


def test_paired_comparison_identical_runs_and_bad_input() -> None:
    same = paired_comparison([True, False, True], [True, False, True])
    assert (same.diff, same.diff_low, same.diff_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="pair them first"):
        paired_comparison([True], [True, False])


def test_pair_by_question_keeps_shared_ids_in_order() -> None:
    ids, a, b = pair_by_question({"q2": True, "q1": False, "q3": True}, {"q1": True, "q2": True})
    assert ids == ["q1", "q2"] and a == [False, True] and b == [True, True]
