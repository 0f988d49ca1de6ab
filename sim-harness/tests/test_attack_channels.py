"""The channel attacks on the Lab 3 network: each succeeds with its defences off and fails with them on."""

from __future__ import annotations

import pytest

from a27_attacks import HoldHtlcsAttack, SupersededStateAttack
from a27_harness.attacks import AttackRun, run_attack
from a27_harness.scenario import SimScenario

SEED = 5
ROUTED = 48
"""Payments for the hold-htlcs runs (the default): many start after the hub's channels are known (about 5 s)."""


def _scenario(payments: int = 8) -> SimScenario:
    return SimScenario(layers=("ledger", "pos", "channels"), seed=SEED, light_nodes=4, payments=payments)


def test_superseded_state_with_the_victim_offline_and_no_defences_takes_back_what_it_paid() -> None:
    attack = SupersededStateAttack()
    report = run_attack(AttackRun(attack, _scenario(), attack.defences))
    assert report.result.succeeded
    assert report.result.stolen == attack.paid == report.outcome.paid_twice
    assert report.outcome.notes["close outcome"] == "unilateral"
    assert report.outcome.agreement and report.outcome.excess_supply == 0


@pytest.mark.parametrize("payments", [8, 48])  # with 48, the validator first asked has not applied the close yet
def test_superseded_state_with_the_victim_offline_is_challenged_by_its_watchtower_and_penalized(payments: int) -> None:
    report = run_attack(AttackRun(SupersededStateAttack(), _scenario(payments)))
    assert not report.result.succeeded
    assert report.result.stolen == 0
    assert report.outcome.notes["close outcome"] == "penalty"
    assert report.outcome.notes["appointments l0 handed to v0's tower"] > 0
    # The attacker lost its whole remaining balance in the channel (500), less the fee it saved by not closing twice.
    assert report.result.cost["lost against the replay"] == 499
    assert report.outcome.agreement and report.outcome.excess_supply == 0


@pytest.mark.parametrize(("switched_off", "victim_offline", "stolen"), [
    (("channels.watchtower",), True, 1_500),   # the victim's own challenge cannot come while it is away
    (("channels.penalty",), True, 0),           # its tower challenges in its place
    (("channels.watchtower",), False, 0),       # online, the victim challenges itself
])
def test_superseded_state_needs_the_watchtower_exactly_when_the_victim_is_offline(
        switched_off: tuple[str, ...], victim_offline: bool, stolen: int) -> None:
    attack = SupersededStateAttack(victim_offline=victim_offline)
    report = run_attack(AttackRun(attack, _scenario(), switched_off))
    assert report.result.stolen == stolen
    assert report.outcome.notes["close outcome"] == ("unilateral" if stolen else "penalty")


def test_hold_htlcs_without_retries_around_the_holder_fails_honest_payments_and_locks_liquidity() -> None:
    attack = HoldHtlcsAttack()
    report = run_attack(AttackRun(attack, _scenario(ROUTED), attack.defences))
    assert report.result.succeeded
    assert report.result.broken == ("availability",)
    assert report.outcome.honest_failed > report.outcome.replay_failed
    assert report.outcome.honest_locked > 5 * report.outcome.replay_locked
    assert report.result.stolen == 0  # its channels still open count at their deposits, as in the replay
    assert report.outcome.notes["hub channels opened"] == 4


def test_hold_htlcs_with_retries_around_the_holder_fails_no_more_honest_payments_than_the_replay() -> None:
    report = run_attack(AttackRun(HoldHtlcsAttack(), _scenario(ROUTED)))
    assert not report.result.succeeded
    assert report.outcome.honest_failed == report.outcome.replay_failed
    # The held HTLCs still lock the payers' funds until they expire: the defence saves the payment, not the time.
    assert report.outcome.honest_locked > 5 * report.outcome.replay_locked
    assert report.result.stolen == 0 and report.outcome.agreement
