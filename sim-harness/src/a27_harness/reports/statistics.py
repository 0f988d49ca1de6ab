"""Statistics for experiment reports: confidence intervals for shares and goodness-of-fit tests."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

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
    # The Wilson interval always contains the share, and its bounds are exactly 0 at no successes and 1 at all
    # successes; rounding can put them just inside (10 of 10 gave 0.9999999999999999 < 1.0), so they are bounded by
    # the share itself, and an error bar drawn from the share to a bound is never negative.
    return Interval(share, min(share, max(0.0, centre - half)), max(share, min(1.0, centre + half)))


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


def standard_deviation(values: Sequence[float]) -> float:
    """
    The sample standard deviation of ``values`` (n - 1 in the denominator).

    :raises ValueError: with fewer than two values.
    """
    if len(values) < 2:
        msg = f"a standard deviation needs at least two values, got {len(values)}"
        raise ValueError(msg)
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (len(values) - 1))


SHARE = (0.0, 1.0)
"""The range of a share, a rate or a Gini coefficient, for ``mean_interval(..., within=SHARE)``."""
AMOUNT = (0.0, math.inf)
"""The range of a count, an amount of tokens or a duration, for ``mean_interval(..., within=AMOUNT)``."""


def mean_interval(values: Sequence[float], confidence: float = 0.95, *,
                  within: tuple[float, float] | None = None) -> MeanInterval:
    """
    The mean of ``values`` with a Student's t confidence interval across them (e.g. one value per seed).

    ``within``: the range the quantity can take (a share: 0 to 1); the interval is clipped to it, as a share's mean
    cannot lie above 1 however few seeds there are.

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
    low, high = mean - half, mean + half
    if within is not None:
        low, high = max(low, within[0]), min(high, within[1])
    return MeanInterval(mean, low, high, len(values))


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


POWER = 0.8
"""The power at which reports state the smallest difference a test can detect."""
SIGNIFICANCE_LEVEL = 0.05
"""The two-sided significance level of those tests."""


def _solve_increasing(power_at: Callable[[float], float], target: float) -> float:
    """The smallest x >= 0 with ``power_at(x) >= target`` for an increasing ``power_at`` (bisection to 1e-9)."""
    low, high = 0.0, 1.0
    while power_at(high) < target:
        high *= 2
    while high - low > 1e-9 * max(1.0, high):
        middle = (low + high) / 2
        if power_at(middle) < target:
            low = middle
        else:
            high = middle
    return high


def detectable_effect_chi_square(observations: int, degrees_of_freedom: int, power: float = POWER,
                                 significance: float = SIGNIFICANCE_LEVEL) -> float:
    """
    Cohen's w that a chi-square goodness-of-fit test over ``observations`` detects with ``power`` at level
    ``significance``: the w whose noncentrality ``observations * w**2`` gives that power.

    :raises ValueError: when observations or degrees of freedom are not positive.
    """
    if observations <= 0 or degrees_of_freedom <= 0:
        msg = f"need observations and degrees of freedom above 0, got {observations} and {degrees_of_freedom}"
        raise ValueError(msg)
    critical = float(stats.chi2.ppf(1 - significance, degrees_of_freedom))
    noncentrality = _solve_increasing(
        lambda value: float(stats.ncx2.sf(critical, degrees_of_freedom, value)) if value else significance, power)
    return math.sqrt(noncentrality / observations)


def share_shift_for_effect(effect: float, share: float) -> float:
    """
    How far one category's share must move from ``share`` (the others scaled in proportion) for a chi-square effect
    size (Cohen's w) of ``effect``: w**2 = d**2 / share + d**2 / (1 - share), so d = w * sqrt(share * (1 - share)).

    :raises ValueError: when share is not strictly between 0 and 1.
    """
    if not 0 < share < 1:
        msg = f"share must lie strictly between 0 and 1, got {share}"
        raise ValueError(msg)
    return effect * math.sqrt(share * (1 - share))


def detectable_standardized_difference(runs: int, *, paired: bool = False, power: float = POWER,
                                       significance: float = SIGNIFICANCE_LEVEL) -> float:
    """
    The standardized mean difference (Cohen's d) a two-sided t-test detects with ``power``: two samples of ``runs``
    values each (d in units of their common standard deviation), or with ``paired`` one sample of ``runs``
    differences (d in units of the differences' standard deviation). Exact, from the noncentral t distribution.

    :raises ValueError: with fewer than 2 runs (no spread to test against).
    """
    if runs < 2:
        msg = f"a t-test needs at least 2 runs per group, got {runs}"
        raise ValueError(msg)
    freedom = runs - 1 if paired else 2 * runs - 2
    scale = math.sqrt(runs) if paired else math.sqrt(runs / 2)
    critical = float(stats.t.ppf(1 - significance / 2, freedom))

    def power_at(effect: float) -> float:
        shift = effect * scale
        return float(stats.nct.sf(critical, freedom, shift) + stats.nct.cdf(-critical, freedom, shift))

    return _solve_increasing(power_at, power)


def detectable_proportion_difference(trials: int, share: float = 0.5, power: float = POWER,
                                     significance: float = SIGNIFICANCE_LEVEL) -> float:
    """
    The difference between two proportions near ``share`` that a two-sided two-sample z-test with ``trials`` in each
    group detects with ``power`` (normal approximation; 0.5, the default, is the worst case).

    :raises ValueError: when trials is not positive or share is outside [0, 1].
    """
    if trials <= 0 or not 0 <= share <= 1:
        msg = f"need trials above 0 and a share in [0, 1], got {trials} and {share}"
        raise ValueError(msg)
    z = float(stats.norm.ppf(1 - significance / 2) + stats.norm.ppf(power))
    return z * math.sqrt(2 * share * (1 - share) / trials)


def gini(values: Sequence[float]) -> float:
    """
    The Gini coefficient of ``values`` (stakes, rewards): the mean absolute difference between two holders drawn
    with replacement, divided by twice the mean. 0 when every holder has the same (or all hold nothing); with n
    holders it is at most (n - 1) / n, reached when one holds everything.

    :raises ValueError: when ``values`` is empty or holds a negative value.
    """
    if not values or min(values) < 0:
        msg = f"a Gini coefficient needs at least one value and none negative, got {list(values)[:8]}"
        raise ValueError(msg)
    total = math.fsum(values)
    if total == 0:
        return 0.0
    ordered = sorted(values)
    count = len(ordered)
    # Sorted ascending, sum_i sum_j |x_i - x_j| = 2 * sum_i (2i - n - 1) x_i with i counted from 1.
    return math.fsum((2 * rank - count - 1) * value for rank, value in enumerate(ordered, 1)) / (count * total)


def nakamoto_coefficient(stakes: Sequence[int], enough: Callable[[int], bool]) -> int:
    """
    The fewest holders whose combined stake satisfies ``enough`` (a rule on a combined stake that, once met, stays
    met for any larger stake: "halts the chain", "finalizes alone"). The largest holders first are always among the
    smallest such coalitions, so they are the ones counted.

    :raises ValueError: when ``stakes`` is empty or even all of it together is not enough.
    """
    combined = 0
    for count, stake in enumerate(sorted(stakes, reverse=True), 1):
        combined += stake
        if enough(combined):
            return count
    msg = f"no coalition of the {len(stakes)} holders is enough"
    raise ValueError(msg)
