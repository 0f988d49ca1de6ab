"""Experiment statistics against values worked out by hand or tabulated."""

from __future__ import annotations

import pytest

from a27_harness.reports.statistics import chi_square_against_shares, compare_proportions, wilson_interval


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
