"""The channel attacks on the Lab 3 network: each succeeds with its defences off and fails with them on."""

from __future__ import annotations

import attrs
import pytest

from a27_attacks import BadParameter, HoldHtlcsAttack, SupersededStateAttack
from a27_harness.attacks import AttackRun, run_attack
from a27_harness.experiments.attacks import DEFENDED, UNDEFENDED, AttackExperiment, AttackExperimentResult, run_planned
from a27_harness.labs.lab3 import run_lab3
from a27_harness.reports import attack_experiment as experiment_report
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


def test_a_ring_of_three_light_nodes_routes_no_payment_so_hold_htlcs_refuses_it() -> None:
    # Every payee is a ring neighbour, paid directly on the shared channel: no HTLC could reach a hub.
    lab = run_lab3(SimScenario(layers=("ledger", "pos", "channels"), seed=1, light_nodes=3, duration=10))
    assert lab.payments and {payment.kind for payment in lab.payments} == {"direct"}
    assert HoldHtlcsAttack.min_light_nodes == 4
    scenario = SimScenario(layers=("ledger", "pos", "channels"), seed=1, light_nodes=3, duration=10)
    with pytest.raises(BadParameter, match="needs at least 4 honest light nodes"):
        run_attack(AttackRun(HoldHtlcsAttack(), scenario))


def test_the_quick_preset_runs_hold_htlcs_on_four_light_nodes_where_it_succeeds_undefended_and_fails_defended(
        ) -> None:
    experiment = AttackExperiment.quick((HoldHtlcsAttack.name, SupersededStateAttack.name))
    plan = experiment.plan()
    assert experiment.light_nodes == 3
    assert {run.light_nodes for run in plan if run.attack == SupersededStateAttack.name} == {3}
    held = [run for run in plan if run.attack == HoldHtlcsAttack.name and run.seed == 1]
    assert [(run.build, run.light_nodes, run.duration) for run in held] == [(UNDEFENDED, 4, 10.0),
                                                                             (DEFENDED, 4, 10.0)]
    undefended, defended = (run_planned(run) for run in held)
    assert undefended.succeeded and undefended.broken == ("availability",)
    assert undefended.honest_failed > undefended.replay_failed
    assert not defended.succeeded and defended.honest_failed <= defended.replay_failed
    assert undefended.stolen == defended.stolen == 0
    # The scoreboard reads hold-htlcs's rows on its 4 light nodes, and says so.
    result = AttackExperimentResult(attrs.evolve(experiment, attacks=(HoldHtlcsAttack.name,)),
                                    (undefended, defended), {})
    assert result.headline(HoldHtlcsAttack.name, UNDEFENDED) == [undefended]
    terminal = experiment_report.format_terminal(result)
    assert "hold-htlcs (on 4 light nodes, the fewest it can matter on) undefended: success 100.0%" in terminal
    assert "blue team: held in every defended run" in terminal
    assert "hold-htlcs on 4" in experiment_report.format_markdown(result)
