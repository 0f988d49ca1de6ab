"""The channel attacks on the Lab 3 network: each succeeds with its defences off and fails with them on."""

from __future__ import annotations

import pytest

from a27_attacks import SupersededStateAttack
from a27_harness.attacks import AttackRun, run_attack
from a27_harness.scenario import SimScenario

SEED = 5


def _scenario() -> SimScenario:
    return SimScenario(layers=("ledger", "pos", "channels"), seed=SEED, light_nodes=4, payments=8)


def test_superseded_state_with_the_victim_offline_and_no_defences_takes_back_what_it_paid() -> None:
    attack = SupersededStateAttack()
    report = run_attack(AttackRun(attack, _scenario(), attack.defences))
    assert report.result.succeeded
    assert report.result.stolen == attack.paid == report.outcome.paid_twice
    assert report.outcome.notes["close outcome"] == "unilateral"
    assert report.outcome.agreement and report.outcome.excess_supply == 0


def test_superseded_state_with_the_victim_offline_is_challenged_by_its_watchtower_and_penalized() -> None:
    report = run_attack(AttackRun(SupersededStateAttack(), _scenario()))
    assert not report.result.succeeded
    assert report.result.stolen == 0
    assert report.outcome.notes["close outcome"] == "penalty"
    assert report.outcome.notes["appointments l0 handed to v0's tower"] > 0
    # The attacker lost its whole remaining balance in the channel (500), less the fee it saved by not closing twice.
    assert report.result.cost["penalty lost"] == 499
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
