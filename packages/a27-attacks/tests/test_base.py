"""The attack API: registry, parameter parsing and the default verdict."""

from __future__ import annotations

import attrs
import pytest

from a27_attacks import (
    ATTACKS,
    AVAILABILITY,
    Attack,
    AttackerNode,
    AttackError,
    BadParameter,
    DoubleSpendLab1,
    DoubleSpendPos,
    Outcome,
    UnknownAttack,
    attack_named,
    param,
    register,
)


def _outcome(**changes: object) -> Outcome:
    base = Outcome(gain_by_node={"v0": 0}, paid_twice=0, excess_supply=0, agreement=True, replay_agreement=True,
                   differing=(), detections=(), attacker_fees=0, attacker_slashed=0, honest_failed=1,
                   replay_failed=1, honest_latency=0.1, replay_latency=0.1)
    return attrs.evolve(base, **changes)


def test_registry_names_every_attack_and_refuses_unknown_names_listing_them() -> None:
    assert ATTACKS["double-spend-lab1"] is DoubleSpendLab1
    assert attack_named("double-spend-lab1") is DoubleSpendLab1
    with pytest.raises(UnknownAttack, match=r"attacks are .*double-spend-lab1"):
        attack_named("double-spend")


def test_every_attack_declares_its_classvars_and_documents_its_parameters() -> None:
    for attack in ATTACKS.values():
        assert attack.summary and attack.success
        # An attack stopped only by the protocol's structure (BFT bounds, mempool bounds) says so instead.
        assert attack.defences or "no defence switch" in " ".join(attack.summary.split()), attack.name
        assert attack.one_line().endswith(".")
        for parameter in attack.parameters():
            assert parameter.doc, (attack.name, parameter.name)


def test_parameters_parse_to_their_default_types() -> None:
    attack = DoubleSpendLab1.from_params(["at=2.5", "fee=3", "second-validator=2"])
    assert (attack.at, attack.fee, attack.second_validator) == (2.5, 3, 2)
    assert DoubleSpendLab1.from_params([]) == DoubleSpendLab1()


@pytest.mark.parametrize(("pair", "match"), [
    ("at", "unknown parameter"), ("speed=1", "unknown parameter.*at, fee"), ("at=nan", "finite float"),
    ("at=inf", "finite float"), ("fee=1.5", "finite int"), ("at=-1", "at must be"), ("fee=-2", "fee must be"),
])
def test_bad_parameters_are_one_clear_error(pair: str, match: str) -> None:
    with pytest.raises(BadParameter, match=match):
        DoubleSpendLab1.from_params([pair])


def test_parameters_that_do_not_fit_the_network_are_refused_before_a_run() -> None:
    with pytest.raises(BadParameter, match="out of range"):
        DoubleSpendLab1(second_validator=4).check(validators=4, light_nodes=1)
    with pytest.raises(BadParameter, match="must differ"):
        DoubleSpendLab1(first_validator=1, second_validator=1).check(validators=4, light_nodes=1)
    DoubleSpendLab1().check(validators=2, light_nodes=1)
    # Forwarding races Lab 1's log through the sinks' ledger: under PoS it has nothing to race, and a real node cannot
    # read the validators' ledgers to time it.
    DoubleSpendLab1(forward=True).check(validators=2, light_nodes=1)
    with pytest.raises(BadParameter, match="forward is a Lab 1 parameter"):
        DoubleSpendPos(forward=True).check(validators=4, light_nodes=1)
    with pytest.raises(BadParameter, match="forward=true needs the simulator"):
        DoubleSpendLab1(forward=True).check_real_node()
    DoubleSpendLab1().check_real_node()


def test_register_refuses_a_taken_name_an_unknown_lab_a_malformed_defence_and_no_light_nodes() -> None:
    def make(name: str, lab: str, defence: str) -> type[Attack]:
        @attrs.frozen
        class Probe(Attack):
            """A probe."""

            size: int = param(1, "how big")

            def attacker_nodes(self) -> tuple[AttackerNode, ...]:
                """None needed."""
                return ()

        Probe.name, Probe.lab, Probe.family = name, lab, "flooding"
        Probe.summary, Probe.success, Probe.defences = "Probe.", "never", (defence,)
        return Probe

    with pytest.raises(AttackError, match="taken"):
        register(make("double-spend-lab1", "ledger", "ledger.x"))
    with pytest.raises(AttackError, match="lab must be"):
        register(make("probe", "moon", "ledger.x"))
    with pytest.raises(AttackError, match=r"<layer>\.<field>"):
        register(make("probe", "ledger", "conflicting_nonces"))
    for smallest in (0, True, 2.5):
        probe = make("probe", "ledger", "ledger.x")
        probe.min_light_nodes = smallest  # type: ignore[misc]
        with pytest.raises(AttackError, match="min_light_nodes must be an integer of at least 1"):
            register(probe)
    assert "probe" not in ATTACKS
    with pytest.raises(AttackError, match="unknown role"):
        AttackerNode("a0", "miner", "mines")


def test_default_judge_counts_the_largest_theft_and_only_guarantees_the_replay_kept() -> None:
    attack = DoubleSpendLab1()
    quiet = attack.judge(_outcome())
    assert (quiet.succeeded, quiet.stolen, quiet.broken) == (False, 0, ())
    split = attack.judge(_outcome(paid_twice=10_000, agreement=False, differing=("v1",)))
    assert (split.succeeded, split.stolen, split.broken) == (True, 10_000, ("agreement",))
    minted = attack.judge(_outcome(excess_supply=7, gain_by_node={"v0": 5}, honest_failed=3))
    assert (minted.stolen, minted.broken) == (7, ("supply", "availability"))
    already_split = attack.judge(_outcome(agreement=False, replay_agreement=False))
    assert already_split.broken == ()


@pytest.mark.parametrize(("failed", "replay_failed", "submitted", "broken"), [
    (2, 1, 0, False),  # one extra failure never breaks availability
    (3, 1, 13, True),  # two extra: 2 >= 15% of 13 (1.95)
    (3, 1, 14, False),  # two extra of 14 (2.1 needed): noise, e.g. withhold at 0.5 defended, 2 of 16
    (4, 2, 48, False),  # hold-htlcs defended: 2 extra of 48 payments
    (15, 5, 48, True),  # hold-htlcs undefended: 10 extra of 48 (7.2 needed)
    (3, 1, 4, True),  # invalid-block undefended at the quick size: the chain halts, 2 extra of 4
    (1, 1, 100, False),
    (0, 3, 10, False),  # fewer failures than the replay
])
def test_the_availability_threshold_at_its_edges(failed: int, replay_failed: int, submitted: int,
                                                  broken: bool) -> None:
    assert AVAILABILITY.broken(failed, replay_failed, submitted) is broken
    verdict = DoubleSpendLab1().judge(_outcome(honest_failed=failed, replay_failed=replay_failed,
                                               honest_submitted=submitted))
    assert ("availability" in verdict.broken) is broken and verdict.succeeded is broken
    # Below the threshold the extra failures stay reported.
    assert verdict.honest_effect["failed transfers"] == failed
    assert verdict.honest_effect["failed transfers in the replay"] == replay_failed
    assert verdict.honest_effect["honest transfers submitted"] == submitted


def test_the_availability_threshold_refuses_negative_counts_and_describes_itself() -> None:
    with pytest.raises(ValueError, match="negative"):
        AVAILABILITY.broken(-1, 0, 5)
    assert AVAILABILITY.describe().startswith("more honest transfers failed than in the replay by at least 2 and ")
    assert "15% of the honest transfers submitted" in AVAILABILITY.describe()
