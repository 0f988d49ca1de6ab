"""Statistics for experiment reports: confidence intervals for shares and goodness-of-fit tests."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import attrs
from scipy import stats


@attrs.frozen
class Interval:
    """A proportion with its confidence interval."""

    share: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """
    The Wilson score interval for a proportion (well behaved for small counts and shares near 0 or 1).

    :raises ValueError: when trials is not positive or successes is outside [0, trials].
    """
    if trials <= 0 or not 0 <= successes <= trials:
        msg = f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}"
        raise ValueError(msg)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(share, max(0.0, centre - half), min(1.0, centre + half))


@attrs.frozen
class ChiSquare:
    """A chi-square goodness-of-fit test of observed counts against expected shares."""

    statistic: float
    degrees_of_freedom: int
    p_value: float


def chi_square_against_shares(observed: Sequence[int], expected_shares: Sequence[float]) -> ChiSquare:
    """
    Test whether ``observed`` counts follow ``expected_shares`` (which are normalised to sum to 1).

    :raises ValueError: on mismatched lengths, no observations, or a non-positive expected share.
    """
    if len(observed) != len(expected_shares) or len(observed) < 2:
        msg = "need at least two categories, with one expected share per observed count"
        raise ValueError(msg)
    total = sum(observed)
    weight = sum(expected_shares)
    if total <= 0 or any(share <= 0 for share in expected_shares):
        msg = "need observations and positive expected shares"
        raise ValueError(msg)
    expected = [total * share / weight for share in expected_shares]
    statistic, p_value = stats.chisquare(list(observed), expected)
    return ChiSquare(float(statistic), len(observed) - 1, float(p_value))


@attrs.frozen
class MeanInterval:
    """A mean over runs with its confidence interval (Student's t; a single value or equal values give a point)."""

    mean: float
    low: float
    high: float
    runs: int


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> MeanInterval:
    """
    The mean of ``values`` with a Student's t confidence interval across them (e.g. one value per seed).

    :raises ValueError: when ``values`` is empty.
    """
    if not values:
        msg = "need at least one value for a mean"
        raise ValueError(msg)
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return MeanInterval(mean, mean, mean, 1)
    deviation = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (len(values) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)) * deviation / math.sqrt(len(values))
    return MeanInterval(mean, mean - half, mean + half, len(values))


BOOTSTRAP_RESAMPLES = 2_000
"""Resamples ``bootstrap_mean_interval`` draws."""


def bootstrap_mean_interval(values: Sequence[float], confidence: float = 0.95, *,
                            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> MeanInterval:
    """
    The mean of ``values`` with a percentile bootstrap interval (``resamples`` resamples from a ``seed``ed stream,
    so the same values give the same interval). Every resampled mean lies between the smallest and the largest
    value, so the interval never leaves the range the values can take (tokens stolen: 0 up to what one run can
    steal), unlike a t interval over a few runs of which one stole everything.

    :raises ValueError: when ``values`` is empty.
    """
    if not values:
        msg = "need at least one value for a mean"
        raise ValueError(msg)
    mean = math.fsum(values) / len(values)
    if len(values) < 2 or min(values) == max(values):
        return MeanInterval(mean, mean, mean, len(values))
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(values, k=len(values))) / len(values) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[math.floor(tail * (resamples - 1))]
    high = means[math.ceil((1 - tail) * (resamples - 1))]
    return MeanInterval(mean, min(low, mean), max(high, mean), len(values))


def compare_proportions(first: tuple[int, int], second: tuple[int, int], confidence: float = 0.95) -> int:
    """
    Whether one proportion is clearly above another: a conservative reading of their Wilson intervals.

    ``first`` and ``second`` are (successes, trials). Returns 1 when the first's interval lies wholly above the
    second's, -1 when wholly below, and 0 when the intervals overlap or either has no trials (no clear difference).
    """
    if first[1] <= 0 or second[1] <= 0:
        return 0
    a, b = wilson_interval(*first, confidence), wilson_interval(*second, confidence)
    if a.low > b.high:
        return 1
    if a.high < b.low:
        return -1
    return 0
