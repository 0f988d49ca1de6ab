"""Experiment statistics against values worked out by hand or tabulated."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from a27_harness.reports.statistics import (
    chi_square_against_shares,
    compare_proportions,
    detectable_effect_chi_square,
    detectable_proportion_difference,
    detectable_standardized_difference,
    gini,
    mean_interval,
    nakamoto_coefficient,
    share_shift_for_effect,
    standard_deviation,
    wilson_interval,
)


def test_wilson_interval_known_value() -> None:
    # 50 of 100 at 95%: 0.5 +- 0.0961 (Wilson), slightly narrower than the Wald interval.
    interval = wilson_interval(50, 100)
    assert interval.share == 0.5
    assert interval.low == pytest.approx(0.4038, abs=1e-4)
    assert interval.high == pytest.approx(0.5962, abs=1e-4)


def test_wilson_interval_stays_inside_zero_and_one() -> None:
    assert wilson_interval(0, 10).low == 0.0
    assert wilson_interval(10, 10).high == pytest.approx(1.0)
    assert 0 < wilson_interval(0, 10).high < 0.35


def test_wilson_interval_contains_its_share_and_ends_exactly_at_zero_and_one() -> None:
    # 10 of 10 rounded to high = 0.9999999999999999 < share 1.0: a negative error bar crashed the attack cards.
    for trials in range(1, 61):
        for successes in range(trials + 1):
            interval = wilson_interval(successes, trials)
            assert interval.low <= interval.share <= interval.high, (successes, trials)
        assert wilson_interval(trials, trials).high == 1.0
        assert wilson_interval(0, trials).low == 0.0


@pytest.mark.parametrize(("successes", "trials"), [(1, 0), (-1, 5), (6, 5)])
def test_wilson_interval_refuses_impossible_counts(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, trials)


def test_chi_square_matches_the_textbook_die() -> None:
    # A die rolled 60 times: 5, 8, 9, 8, 10, 20 gives chi2 = 13.4 with 5 degrees of freedom, p ~ 0.0199.
    result = chi_square_against_shares([5, 8, 9, 8, 10, 20], [1] * 6)
    assert result.statistic == pytest.approx(13.4)
    assert result.degrees_of_freedom == 5
    assert result.p_value == pytest.approx(0.0199, abs=1e-3)


def test_chi_square_perfect_fit_and_unnormalised_shares() -> None:
    result = chi_square_against_shares([100, 10, 10], [10, 1, 1])
    assert result.statistic == pytest.approx(0.0)
    assert result.p_value == pytest.approx(1.0)


def test_chi_square_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="two categories"):
        chi_square_against_shares([3], [1.0])
    with pytest.raises(ValueError, match="positive expected shares"):
        chi_square_against_shares([3, 4], [1.0, 0.0])


def test_compare_proportions_reads_intervals_conservatively() -> None:
    assert compare_proportions((80, 100), (20, 100)) == 1
    assert compare_proportions((20, 100), (80, 100)) == -1
    assert compare_proportions((227, 1000), (223, 1000)) == 0
    assert compare_proportions((1, 2), (0, 0)) == 0


# Smallest detectable effects at 80% power and the 5% level, against published tables -------------------------------


@pytest.mark.parametrize(("observations", "freedom", "effect"), [(88, 1, 0.3), (121, 3, 0.3), (785, 1, 0.1)])
def test_chi_square_detectable_effect_matches_cohens_table(observations: int, freedom: int, effect: float) -> None:
    # Cohen (1988), table 7.4.6: N for w at power 0.80, alpha 0.05 (lambda 7.85 for 1 dof, 10.90 for 3 dof).
    assert detectable_effect_chi_square(observations, freedom) == pytest.approx(effect, abs=0.002)


def test_chi_square_detectable_effect_has_the_power_it_claims() -> None:
    effect = detectable_effect_chi_square(240, 3)
    critical = stats.chi2.ppf(0.95, 3)
    assert stats.ncx2.sf(critical, 3, 240 * effect**2) == pytest.approx(0.8, abs=1e-6)
    assert detectable_effect_chi_square(960, 3) == pytest.approx(effect / 2, rel=1e-6)  # w shrinks as 1/sqrt(N)


def test_a_share_shift_follows_from_the_effect_size() -> None:
    # v0 at 25% moved by d, the others scaled: w**2 = d**2 / 0.25 + d**2 / 0.75.
    shift = share_shift_for_effect(0.3, 0.25)
    assert shift**2 / 0.25 + shift**2 / 0.75 == pytest.approx(0.09)
    with pytest.raises(ValueError, match="share"):
        share_shift_for_effect(0.3, 1.0)


@pytest.mark.parametrize(("runs", "paired", "effect"), [(20, False, 0.9091), (64, False, 0.4991), (20, True, 0.6604)])
def test_t_test_detectable_difference_matches_gpower(runs: int, paired: bool, effect: float) -> None:
    # G*Power 3.1, t tests, two tails, alpha 0.05, power 0.80, sensitivity analysis (64 per group: Cohen's d = 0.5).
    assert detectable_standardized_difference(runs, paired=paired) == pytest.approx(effect, abs=2e-4)


def test_detectable_differences_refuse_sizes_without_spread() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        detectable_standardized_difference(1)
    with pytest.raises(ValueError, match="observations"):
        detectable_effect_chi_square(0, 3)
    with pytest.raises(ValueError, match="trials"):
        detectable_proportion_difference(0)


def test_two_proportion_detectable_difference_by_hand() -> None:
    # (1.959964 + 0.841621) * sqrt(2 * 0.25 / 100) = 0.19810
    assert detectable_proportion_difference(100) == pytest.approx(0.19810, abs=1e-5)
    assert detectable_proportion_difference(100, 0.1) < detectable_proportion_difference(100)


def test_standard_deviation_by_hand() -> None:
    assert standard_deviation([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(2.13809, abs=1e-5)
    with pytest.raises(ValueError, match="two values"):
        standard_deviation([1.0])


@pytest.mark.parametrize(("values", "expected"), [
    ((5, 5, 5, 5), 0.0),
    ((0, 0, 0, 0), 0.0),
    ((0, 0, 0, 10), 0.75),
    ((1, 2, 3, 4), 0.25),
    # 10x-more at 4 validators: |differences| sum to 2 * 3 * 900,000; mean 325,000 -> 5.4e6 / (2 * 16 * 325,000).
    ((1_000_000, 100_000, 100_000, 100_000), 5_400_000 / (2 * 16 * 325_000)),
    ((7,), 0.0),
])
def test_gini_against_hand_computed_values(values: tuple[int, ...], expected: float) -> None:
    assert gini(values) == pytest.approx(expected, abs=1e-12)


def test_gini_matches_the_mean_absolute_difference_formula() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        values = rng.integers(0, 1_000, size=int(rng.integers(1, 30)))
        if not values.sum():
            continue
        reference = np.abs(values[:, None] - values[None, :]).mean() / (2 * values.mean())
        assert gini(values.tolist()) == pytest.approx(float(reference), abs=1e-12)


def test_gini_refuses_nothing_and_negatives() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        gini([])
    with pytest.raises(ValueError, match="none negative"):
        gini([3, -1])


def _halts(total: int) -> Callable[[int], bool]:
    # The PoS rule: silence of `power` halts when the rest is not more than 2/3 of the total.
    return lambda power: not 3 * (total - power) > 2 * total


def _finalizes(total: int) -> Callable[[int], bool]:
    return lambda power: 3 * power > 2 * total


@pytest.mark.parametrize(("stakes", "halt", "finalize"), [
    ((100, 100, 100, 100), 2, 3),          # 1 of 4 is 25% < 1/3; 2 are 50%; 3 are 75% > 2/3
    ((1_000, 100, 100, 100), 1, 1),        # v0 holds 10/13
    ((10, 100, 100, 100), 2, 3),           # 100/310 < 1/3, 110/310 > 1/3; 200/310 < 2/3 < 210/310
    ((300, 200, 200, 200), 1, 3),          # exactly 1/3 halts; 500/900 < 2/3 < 700/900
    ((299, 200, 200, 200), 2, 3),          # one token under 1/3 does not
    ((100, 100, 100), 1, 3),               # thirds: each halts alone; 2/3 exactly does not finalize
    ((200, 100), 1, 2),                    # 2/3 exactly is not more than 2/3
    ((5,) * 10, 4, 7),                     # 4/10 > 1/3 > 3/10; 7/10 > 2/3 > 6/10
])
def test_nakamoto_coefficients_against_hand_computed_values(stakes: tuple[int, ...], halt: int,
                                                            finalize: int) -> None:
    total = sum(stakes)
    assert nakamoto_coefficient(stakes, _halts(total)) == halt
    assert nakamoto_coefficient(stakes, _finalizes(total)) == finalize


def test_nakamoto_coefficient_matches_a_search_over_every_coalition() -> None:
    rng = np.random.default_rng(9)
    for _ in range(30):
        stakes = [int(value) for value in rng.integers(1, 50, size=int(rng.integers(1, 8)))]
        total = sum(stakes)
        for rule in (_halts(total), _finalizes(total)):
            fewest = min(size for size in range(1, len(stakes) + 1)
                         for coalition in itertools.combinations(stakes, size) if rule(sum(coalition)))
            assert nakamoto_coefficient(stakes, rule) == fewest


def test_nakamoto_coefficient_refuses_a_rule_nobody_meets() -> None:
    with pytest.raises(ValueError, match="no coalition"):
        nakamoto_coefficient([1, 2], lambda power: power > 3)


def test_a_mean_interval_within_a_range_is_clipped_to_it_and_keeps_its_mean() -> None:
    shares = [1.0, 0.9, 1.0]  # a t interval over three seeds reaches past 1
    plain = mean_interval(shares)
    assert plain.high > 1.0
    clipped = mean_interval(shares, within=(0.0, 1.0))
    assert (clipped.mean, clipped.low, clipped.high, clipped.runs) == (plain.mean, plain.low, 1.0, 3)
    assert mean_interval([0.0, 0.1, 0.0], within=(0.0, 1.0)).low == 0.0
