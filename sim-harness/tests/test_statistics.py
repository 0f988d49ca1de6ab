"""Experiment statistics against values worked out by hand or tabulated."""

from __future__ import annotations

import pytest
from scipy import stats

from a27_harness.reports.statistics import (
    chi_square_against_shares,
    compare_proportions,
    detectable_effect_chi_square,
    detectable_proportion_difference,
    detectable_standardized_difference,
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
