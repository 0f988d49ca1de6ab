"""
`a27 attack flood | sybil | eclipse` on a small Lab 2 network: each succeeds with the defences it names switched off
and fails with them on, judged from numbers measured against the honest replay.
"""

from __future__ import annotations

import pytest

from a27_attacks import Attack, Eclipse, PeerFlood, SybilSlots
from a27_harness.attacks import AttackReport, AttackRun, run_attack
from a27_harness.scenario import SimScenario

SEED = 3


def _run(attack: Attack, *, undefended: bool) -> AttackReport:
    # A short settle: an eclipsed victim never catches up, and the run waits for it until the timeout.
    scenario = SimScenario(layers=("ledger", "pos"), seed=SEED, light_nodes=2, duration=6, settle_timeout=8)
    return run_attack(AttackRun(attack, scenario, tuple(attack.defences) if undefended else ()))


FLOOD = PeerFlood(packets=5_000, keys=1_000, oversized=10)
"""Beyond the 2,000 packets per address and message id a token bucket lets through at once (``PeerLimits.burst``)."""


@pytest.mark.timeout(60)
def test_undefended_the_flood_costs_the_validator_a_signature_check_per_packet() -> None:
    report = _run(FLOOD, undefended=True)
    effect = report.result.honest_effect
    assert report.result.succeeded and report.result.broken == ("availability",)
    assert report.outcome.notes["packets sent"] == 6_010
    assert effect["v0 signatures verified beyond the replay"] >= 6_000  # give or take honest traffic
    assert effect["v0 handler calls beyond the replay"] >= 5_000  # the submissions from the attacker's own key
    assert report.result.stolen == 0 and report.outcome.excess_supply == 0


@pytest.mark.timeout(60)
def test_defended_the_flood_is_dropped_before_most_verification_and_transfers_stay_final() -> None:
    report = _run(FLOOD, undefended=False)
    effect = report.result.honest_effect
    assert not report.result.succeeded and report.result.broken == ()
    # One token bucket of SubmitTransaction from the attacker's address reaches the handler; the Status claims of
    # unknown keys are refused before verification, the oversized responses unread.
    assert effect["v0 signatures verified beyond the replay"] < 2_200
    assert effect["v0 signatures verified per flood packet"] < 0.4
    assert report.outcome.honest_failed == report.outcome.replay_failed
    assert {"dropped: oversized", "dropped: rate limited"} <= {d.how for d in report.result.detections
                                                               if d.node == "v0"}


SYBIL = SybilSlots(sybils=8, slots=6)


@pytest.mark.timeout(60)
def test_undefended_sybils_hold_every_slot_of_the_victim_and_its_chain_stalls() -> None:
    report = _run(SYBIL, undefended=True)
    notes = report.outcome.notes
    assert report.result.succeeded and report.result.broken == ("availability",)
    assert notes["slot fraction"] == 1.0 and notes["sybil slots"] == 7  # IPv8 admits max_peers + 1
    assert notes["identity fraction"] == round(8 / 12, 3)
    assert notes["victim validator peers"] == 0
    assert report.outcome.views["l0"].validator_peers == 0
    # Stake weighting is structural: no Sybil vote counts and no Sybil proposes, defences or not.
    assert notes["sybil votes refused"] == notes["sybil votes sent"] == 2 * 8 * 4
    assert notes["blocks proposed by sybils"] == 0


@pytest.mark.timeout(60)
def test_defended_sybils_hold_less_than_their_identity_share_and_the_victim_keeps_every_validator() -> None:
    report = _run(SYBIL, undefended=False)
    notes = report.outcome.notes
    assert not report.result.succeeded and report.result.broken == ()
    assert notes["advantage"] < 1
    assert notes["sybil slots"] == 6 - 4  # the anchors took their slots
    assert notes["victim validator peers"] == 4
    assert report.outcome.views["l0"].height >= report.outcome.views["v0"].height - 2


ECLIPSE = Eclipse(attackers=6, slots=5)
"""One slot more than the validators: with anchors one attacker keeps a slot, and its height claim is refused."""


@pytest.mark.timeout(60)
def test_undefended_the_eclipsed_light_node_believes_the_false_height_and_stalls() -> None:
    report = _run(ECLIPSE, undefended=True)
    victim, honest = report.outcome.views["l0"], report.outcome.views["v0"]
    assert report.result.succeeded and report.result.broken == ("availability",)
    assert report.outcome.notes["victim validator peers"] == 0
    assert report.outcome.notes["claimed height taken"] == 50
    assert victim.forked_at is None  # the private chain's block is refused: attacker keys hold no stake
    assert victim.height <= 2 < honest.height - 5
    assert report.outcome.replay_views["l0"].height >= report.outcome.replay_views["v0"].height - 2
    assert report.outcome.honest_failed > report.outcome.replay_failed  # its transfers found no validator


@pytest.mark.timeout(60)
def test_defended_the_victim_follows_the_validators_and_refuses_the_claim() -> None:
    report = _run(ECLIPSE, undefended=False)
    assert not report.result.succeeded and report.result.broken == ()
    assert report.outcome.notes["victim validator peers"] == 4
    assert report.outcome.notes["claimed height taken"] == 0
    assert report.outcome.views["l0"].forked_at is None
    assert report.outcome.views["l0"].height >= report.outcome.views["v0"].height - 2
    assert any(d.node == "l0" and d.how == "dropped: not a validator" for d in report.result.detections)
