"""The Lab 2 attacks of a27-attacks run on the simulated PoS network: each with its defences off (it succeeds) and
on (it fails), on 4 honest validators and 4 light nodes, seed 3, 10 simulated seconds (a few seconds each)."""

from __future__ import annotations

import pytest

from a27_attacks import (
    Attack,
    CensorAttack,
    CoalitionAttack,
    DoubleSpendPos,
    InvalidBlock,
    MempoolFlood,
    ProposalEquivocationAttack,
    VoteEquivocationAttack,
    WithholdAttack,
)
from a27_harness.attacks import AttackReport, AttackRun, run_attack
from a27_harness.cli import main
from a27_harness.scenario import SimScenario

SEED = 3
"""A seed where the attacker validator's account sorts first among the validators (the censor needs it)."""


def _run(attack: Attack, *, undefended: bool) -> AttackReport:
    scenario = SimScenario(layers=("ledger", "pos"), seed=SEED, light_nodes=4, duration=10)
    return run_attack(AttackRun(attack, scenario, tuple(attack.defences) if undefended else ()))


def _detected(report: AttackReport, text: str) -> bool:
    return any(text in detection.how for detection in report.result.detections)


def test_list_shows_every_pos_attack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attack", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("vote-equivocation", "proposal-equivocation", "invalid-block", "double-spend-pos", "coalition",
                 "censor", "withhold", "mempool-flood"):
        assert f"\n{name} (lab pos, " in "\n" + out


@pytest.mark.parametrize(("attack", "evidence"), [(VoteEquivocationAttack(), "Evidence included"),
                                                  (ProposalEquivocationAttack(), "ProposalEvidence included")])
def test_an_equivocator_keeps_stake_and_seat_undefended_and_is_slashed_defended(attack: Attack, evidence: str) -> None:
    undefended = _run(attack, undefended=True)
    assert undefended.result.succeeded and undefended.result.broken == ("accountability",)
    assert undefended.outcome.notes["twins signed by a0"] > 0  # type: ignore[operator]
    assert undefended.outcome.attacker_slashed == 0 and undefended.outcome.notes["a0 validates at the end"] is True
    assert not _detected(undefended, "included in finalized block")

    defended = _run(attack, undefended=False)
    assert not defended.result.succeeded and defended.result.stolen == 0
    stake = attack.attacker_stakes((100_000,) * 4)
    assert stake is not None
    assert defended.outcome.attacker_slashed == stake[0] // 10  # slash_percent 10 of its genesis stake
    assert defended.outcome.notes["a0 validates at the end"] is False
    assert _detected(defended, evidence)
    assert defended.outcome.agreement and defended.outcome.excess_supply == 0


def test_a_split_vote_equivocator_is_unpunished_undefended_and_slashed_through_relayed_votes_defended() -> None:
    attack = VoteEquivocationAttack(split=True)
    undefended = _run(attack, undefended=True)
    assert undefended.run.switched_off == ("pos.vote_evidence", "pos.vote_relay")
    assert undefended.result.succeeded and undefended.result.broken == ("accountability",)
    assert undefended.outcome.attacker_slashed == 0 and undefended.outcome.notes["a0 validates at the end"] is True
    defended = _run(attack, undefended=False)
    assert not defended.result.succeeded and defended.honest_slashed == 0
    stake = attack.attacker_stakes((100_000,) * 4)
    assert stake is not None and defended.outcome.attacker_slashed == stake[0] // 10
    assert defended.outcome.notes["a0 validates at the end"] is False
    assert _detected(defended, "Evidence included")


def test_an_invalid_block_halts_the_chain_undefended_and_loses_its_round_defended() -> None:
    undefended = _run(InvalidBlock(), undefended=True)
    assert undefended.result.succeeded and "availability" in undefended.result.broken
    assert undefended.outcome.honest_failed > undefended.outcome.replay_failed
    defended = _run(InvalidBlock(), undefended=False)
    assert not defended.result.succeeded and defended.result.broken == ()
    assert defended.outcome.notes["height finalized (first honest validator)"] > \
        undefended.outcome.notes["height finalized (first honest validator)"]  # type: ignore[operator]
    for report in (undefended, defended):
        assert report.outcome.notes["credited to sink-a and sink-b"] == 0
        assert report.outcome.agreement and report.outcome.excess_supply == 0
        assert _detected(report, "dropped: invalid block")


def test_the_pos_double_spend_is_ordered_by_consensus_and_pays_once() -> None:
    report = _run(DoubleSpendPos(), undefended=True)  # nothing to switch off: the same run as defended
    assert report.outcome.notes["to sink-a via v0"] == report.outcome.notes["to sink-b via v1"] == "accepted"
    assert not report.result.succeeded and report.result.stolen == 0 == report.outcome.paid_twice
    assert report.outcome.agreement and report.outcome.excess_supply == 0


def test_a_coalition_above_a_third_finalizes_two_blocks_at_one_height_and_below_it_is_slashed() -> None:
    above = _run(CoalitionAttack(stake_share=0.4), undefended=True)
    assert above.result.succeeded and "finality" in above.result.broken
    # 0.4 of the stake, split over 2 members: 133,333 each, less the 10% slashed
    assert above.outcome.notes["a0 bonded stake at the end"] == 133_333 - 13_333
    assert above.result.cost["stake provably at fault"] == 266_666 > 400_000 / 3
    assert above.result.cost["slashable (computed)"] == 26_666
    # Applied, not only computed: the honest nodes that learned the other side's certificate slashed the coalition
    # by slash_percent (10%) of its bonded stake, and no honest validator.
    assert above.outcome.attacker_slashed == above.result.cost["slashed"] == 266_666 * 10 // 100
    assert above.honest_slashed == 0
    assert above.outcome.notes["a0 validates at the end"] is False
    below = _run(CoalitionAttack(stake_share=0.3), undefended=False)
    assert not below.result.succeeded and "conflicting finality at height" not in below.outcome.notes
    assert below.outcome.agreement and below.outcome.attacker_slashed > 0


@pytest.mark.parametrize("share", [0.34, 0.5])
def test_every_coalition_member_that_signed_both_certificates_is_slashed_in_the_run(share: float) -> None:
    report = _run(CoalitionAttack(stake_share=share), undefended=True)
    assert report.result.succeeded and report.honest_slashed == 0
    assert report.result.cost["slashed"] == report.result.cost["slashable (computed)"] > 0
    assert report.outcome.notes["a0 validates at the end"] is False is report.outcome.notes["a1 validates at the end"]


def test_a_censored_light_node_times_out_without_resubmit_and_is_only_delayed_with_it() -> None:
    undefended = _run(CensorAttack(), undefended=True)
    assert undefended.outcome.notes["a0's place in the victim's validator order"] == 0
    assert undefended.result.succeeded and undefended.result.broken == ("availability",)
    assert undefended.outcome.by_sender["l0"][0] > undefended.outcome.replay_by_sender["l0"][0]
    defended = _run(CensorAttack(), undefended=False)
    assert not defended.result.succeeded
    assert defended.outcome.by_sender["l0"][0] == 0
    extra = defended.result.honest_effect["l0: extra median delay"]
    assert isinstance(extra, float) and 0 < extra < CensorAttack().min_delay


def test_withholding_under_a_third_only_delays_and_withholding_votes_above_a_third_halts() -> None:
    under = _run(WithholdAttack(), undefended=False)
    assert not under.result.succeeded and under.outcome.honest_failed == under.outcome.replay_failed
    extra = under.result.honest_effect["extra median verdict latency"]
    assert isinstance(extra, float) and extra > 0
    above = _run(WithholdAttack(stake_share=0.4, votes=True), undefended=True)
    assert above.result.succeeded and above.result.broken == ("availability",)
    assert above.outcome.notes["height finalized (first honest validator)"] == 0


def test_a_gapped_nonce_flood_is_bounded_by_the_mempool_and_hurts_no_honest_transfer() -> None:
    report = _run(MempoolFlood(), undefended=True)
    admitted = [report.outcome.notes[f"admitted by v{index}"] for index in range(4)]
    assert all(0 < count < MempoolFlood().count for count in admitted)  # type: ignore[operator]
    assert not report.result.succeeded
    assert report.outcome.honest_failed == report.outcome.replay_failed


def test_running_a_coalition_twice_with_one_attack_object_gives_the_same_report() -> None:
    attack = CoalitionAttack(stake_share=0.4)
    first, second = _run(attack, undefended=False), _run(attack, undefended=False)
    assert first.result == second.result and first.outcome == second.outcome
