"""Proposer strategies: deterministic, stake-weighted, and what distinguishes them."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from a27_pos import STRATEGIES, ChainContext, Lottery, ValidatorSet, WeightedRoundRobin, strategy_named
from a27_pos.proposer import LOTTERY_DOMAIN

A, B, C, D = (bytes([index]) * 32 for index in range(1, 5))
VALIDATORS = ValidatorSet.from_powers({A: 10, B: 20, C: 30, D: 40})
CONTEXT = ChainContext(bytes(32))


def test_strategies_by_name() -> None:
    assert set(STRATEGIES) == {"weighted-round-robin", "lottery"}
    assert isinstance(strategy_named("lottery"), Lottery)
    with pytest.raises(ValueError, match="unknown proposer strategy"):
        strategy_named("longest-chain")


def test_round_robin_round_r_is_the_r_plus_first_repetition() -> None:
    _, chosen = VALIDATORS.increment_priorities(5)
    strategy = WeightedRoundRobin()
    assert [strategy.proposer(VALIDATORS, 9, round_number, CONTEXT) for round_number in range(5)] == chosen


def test_lottery_follows_the_documented_draw() -> None:
    context = ChainContext(bytes(range(32)))
    seed = hashlib.sha256(LOTTERY_DOMAIN + context.previous_block_id + (9).to_bytes(8, "big")
                          + (2).to_bytes(4, "big")).digest()
    ticket = int.from_bytes(seed, "big") % 100
    expected = A if ticket < 10 else B if ticket < 30 else C if ticket < 60 else D
    assert Lottery().proposer(VALIDATORS, 9, 2, context) == expected


def test_lottery_is_deterministic_and_depends_on_the_previous_block() -> None:
    lottery = Lottery()
    draws = [lottery.proposer(VALIDATORS, 5, 0, ChainContext(bytes([seed]) * 32)) for seed in range(64)]
    assert draws == [lottery.proposer(VALIDATORS, 5, 0, ChainContext(bytes([seed]) * 32)) for seed in range(64)]
    assert len(set(draws)) == 4


def test_lottery_shares_approach_stake_shares() -> None:
    lottery = Lottery()
    counts = Counter(lottery.proposer(VALIDATORS, height, 0, CONTEXT) for height in range(4_000))
    for account, power in VALIDATORS.powers.items():
        assert abs(counts[account] / 4_000 - power / 100) < 0.03
