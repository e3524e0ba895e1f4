"""Uncertainty of accuracies: Wilson intervals, and paired comparisons of two runs on the same questions.

Every accuracy the project shows comes with its n and a 95% Wilson score interval
(statsmodels ``proportion_confint(method="wilson")``). Two runs graded on the same questions are compared
with the exact McNemar test (statsmodels ``mcnemar(exact=True)``: a binomial test on the discordant pairs)
and the difference of their accuracies with Newcombe's square-and-add interval for paired proportions
(``newcombe_paired``). A percentile bootstrap is not used for it: with few discordant pairs every resample
has the same sign, so its interval collapses onto 0 ([0, 0] when the runs agree on every question).

Sources: Wilson (1927), "Probable inference, the law of succession, and statistical inference", JASA 22;
McNemar (1947), Psychometrika 12; Newcombe (1998), "Improved confidence intervals for the difference between
binomial proportions based on paired data", Statistics in Medicine 17:2635-2650 (method 10), as given by
Fagerland, Lydersen & Laake (2014), Statistical Methods in Medical Research 23(2), "Recommended tests and
confidence intervals for paired binomial proportions".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# statsmodels and scipy are imported where used: they take about a second to import, and summaries are read
# by commands (e.g. `agentdistill report --help`) that should start at once.

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """An accuracy with its sample size and Wilson interval. ``p``, ``low``, ``high`` are fractions in [0, 1]."""

    k: int  # correct answers
    n: int  # questions
    p: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    def pct(self, digits: int = 1) -> str:
        """'40.0 [19.8, 64.3]' in percent (no n)."""
        return f"{100 * self.p:.{digits}f} [{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}]"

    def cell(self, digits: int = 1) -> str:
        """'40.0 [19.8, 64.3] (n=15)': a table cell in percent."""
        return f"{self.pct(digits)} (n={self.n})"


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval of ``k`` successes in ``n`` trials.

    Raises ``ValueError`` if n < 1 or k is outside [0, n]. Example: ``wilson(6, 15)`` is 0.400 [0.198, 0.643].
    """
    if n < 1:
        raise ValueError(f"wilson: n must be >= 1, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"wilson: k must be in [0, n={n}], got {k}")
    if not 0 < confidence < 1:
        raise ValueError(f"wilson: confidence must be in (0, 1), got {confidence}")
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    return Interval(k=k, n=n, p=k / n, low=float(low), high=float(high), confidence=confidence)


def interval_from_accuracy(accuracy: float, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson interval for a stored accuracy fraction over ``n`` questions (k = round(accuracy * n)).

    For summaries that kept only the rate: with binary grades accuracy * n is a whole number up to rounding.
    """
    if n < 1:
        raise ValueError(f"interval_from_accuracy: n must be >= 1, got {n}")
    k = round(accuracy * n)
    if abs(k - accuracy * n) > 1e-6 * n + 1e-9:
        raise ValueError(f"interval_from_accuracy: accuracy {accuracy} is not a count over n={n}")
    return wilson(k, n, confidence)


def score_interval(total: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """95% interval of the mean of ``n`` scores in [0, 1] summing to ``total`` (token F1), as fractions.

    The Wilson score interval at the observed mean: conservative for bounded scores, since a [0, 1] variable
    with mean m has variance at most m(1 − m) (Bhatia & Davis 2000, "A better bound on the variance", The
    American Mathematical Monthly 107(4)), the Bernoulli case Wilson assumes. Unlike a bootstrap it does not
    collapse to a point when every score is equal. Raises ``ValueError`` if n < 1 or total is outside [0, n]."""
    if n < 1 or not 0 <= total <= n:
        raise ValueError(f"score_interval: need n >= 1 and 0 <= total <= n, got total={total}, n={n}")
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(total, n, alpha=1 - confidence, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def mover_mean(points: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the unweighted mean of independent estimates given as ``(p, low, high)``: the
    MOVER limits (Zou & Donner 2008, below), clipped to [0, 1]. Raises ``ValueError`` for no points."""
    if not points:
        raise ValueError("mover_mean: no points")
    w = 1.0 / len(points)
    p = w * sum(pt[0] for pt in points)
    down = w * float(np.sqrt(sum((pt[0] - pt[1]) ** 2 for pt in points)))
    up = w * float(np.sqrt(sum((pt[2] - pt[0]) ** 2 for pt in points)))
    return p, max(0.0, p - down), min(1.0, p + up)


def mean_interval(intervals: Sequence[Interval], confidence: float = CONFIDENCE) -> Interval:
    """The unweighted mean of independent accuracies (a domain average over sets of different n) with its MOVER
    interval: each set's Wilson limits recovered into the mean's variance (Zou & Donner 2008, "Construction of
    confidence limits about effect measures: a general approach", Statistics in Medicine 27:1693-1702). ``k``
    and ``n`` are the totals; ``p`` is the mean, not k / n. Raises ``ValueError`` for no intervals."""
    if not intervals:
        raise ValueError("mean_interval: no intervals")
    p, low, high = mover_mean([(i.p, i.low, i.high) for i in intervals])
    n = sum(i.n for i in intervals)
    return Interval(k=sum(i.k for i in intervals), n=n, p=p, low=low, high=high, confidence=confidence)


def rate_cell(rate: float | None, n: int, digits: int = 1) -> str:
    """'40.0 [19.8, 64.3]': a rate over n questions in percent with its Wilson 95% interval.

    For any table that shows an accuracy (CLI, pipeline): '-' for None or no questions (n < 1: every attempt
    failed, so there is no rate, not a rate of 0); the bare percent when the rate is not a count over n (e.g. a
    mean of fractional scores).
    """
    if rate is None or n < 1:
        return "-"
    try:
        return interval_from_accuracy(rate, n).pct(digits)
    except ValueError:
        return f"{100 * rate:.{digits}f}"


@dataclass(frozen=True)
class PairedComparison:
    """Run A against run B on the same ``n`` questions. Differences are A − B as fractions.

    ``only_a``: questions A got right and B wrong; ``only_b`` the reverse (the discordant pairs McNemar uses).
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    diff: float
    diff_low: float
    diff_high: float
    p_value: float  # exact McNemar, two-sided
    confidence: float = CONFIDENCE

    def text(self, digits: int = 1) -> str:
        """'+13.3 pts [-6.7, +33.3], McNemar exact p=0.375 (n=15; 3 vs 1 discordant)'."""
        return (
            f"{100 * self.diff:+.{digits}f} pts [{100 * self.diff_low:+.{digits}f}, {100 * self.diff_high:+.{digits}f}]"
            f", McNemar exact p={self.p_value:.3g} (n={self.n}; {self.only_a} vs {self.only_b} discordant)"
        )


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial test with p = 1/2)."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"mcnemar_exact: counts must be >= 0, got {only_a}, {only_b}")
    if only_a + only_b == 0:
        return 1.0
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[0, only_a], [only_b, 0]]  # concordant cells do not enter the exact test
    return float(mcnemar(table, exact=True).pvalue)


def newcombe_paired(
    both: int, only_a: int, only_b: int, neither: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Newcombe's square-and-add interval (method 10) for p_A − p_B on paired binary data, as fractions.

    The 2×2 table of the same questions: ``both`` right, ``only_a`` (A right, B wrong), ``only_b``, ``neither``.
    Built from the Wilson intervals of the two marginal accuracies and their estimated correlation, so it
    stays informative with few or no discordant pairs and at 0 % or 100 %. Raises ``ValueError`` for a
    negative count or an empty table."""
    counts = (both, only_a, only_b, neither)
    if min(counts) < 0 or sum(counts) < 1:
        raise ValueError(f"newcombe_paired: counts must be >= 0 with n >= 1, got {counts}")
    n = sum(counts)
    a_right, b_right = both + only_a, both + only_b
    pa, pb = wilson(a_right, n, confidence), wilson(b_right, n, confidence)
    margins = (a_right, n - a_right, b_right, n - b_right)
    psi = 0.0  # the correlation of the two marginal estimates, shrunk towards 0 as Newcombe does
    if min(margins) > 0:
        cross = both * neither - only_a * only_b
        scale = float(np.sqrt(np.prod(np.asarray(margins, dtype=float))))
        if cross > n / 2:
            psi = (cross - n / 2) / scale
        elif cross < 0:
            psi = cross / scale
    diff = pa.p - pb.p
    da, ua = pa.p - pa.low, pa.high - pa.p
    db, ub = pb.p - pb.low, pb.high - pb.p
    low = diff - float(np.sqrt(max(da**2 - 2 * psi * da * ub + ub**2, 0.0)))
    high = diff + float(np.sqrt(max(db**2 - 2 * psi * db * ua + ua**2, 0.0)))
    return max(-1.0, low), min(1.0, high)


def paired_comparison(
    correct_a: Sequence[bool], correct_b: Sequence[bool], *, confidence: float = CONFIDENCE
) -> PairedComparison:
    """Compare two runs' per-question correctness (same questions, same order): the difference A − B with
    Newcombe's paired interval and the exact McNemar p-value.

    Raises ``ValueError`` if the lists differ in length or are empty.
    """
    if len(correct_a) != len(correct_b):
        raise ValueError(
            f"paired_comparison: {len(correct_a)} vs {len(correct_b)} questions; pair them first"
        )
    if not correct_a:
        raise ValueError("paired_comparison: no questions")
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    both, only_a = int(np.sum(a & b)), int(np.sum(a & ~b))
    only_b, neither = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    low, high = newcombe_paired(both, only_a, only_b, neither, confidence)
    return PairedComparison(
        n=len(a),
        accuracy_a=float(a.mean()),
        accuracy_b=float(b.mean()),
        only_a=only_a,
        only_b=only_b,
        diff=float(a.mean() - b.mean()),
        diff_low=low,
        diff_high=high,
        p_value=mcnemar_exact(only_a, only_b),
        confidence=confidence,
    )


def pair_by_question(
    a: Mapping[str, bool], b: Mapping[str, bool]
) -> tuple[list[str], list[bool], list[bool]]:
    """Question ids graded in both runs (sorted), with each run's correctness in that order."""
    shared = sorted(a.keys() & b.keys())
    return shared, [bool(a[q]) for q in shared], [bool(b[q]) for q in shared]
