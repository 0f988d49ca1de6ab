"""The ledger's defence switches, and ``ledger.conflicting_nonces`` in the replica: order, replays, many keys."""

from __future__ import annotations

import pathlib

import attrs

from a27_ledger import (
    DOUBLE_SPEND_NAMESPACE,
    KeyPair,
    LedgerDefences,
    LedgerReplica,
    LedgerState,
    SQLiteStore,
    Transaction,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys

KEYS = make_keys(6, seed=31)
V0, V1, FOLLOWER, ATTACKER, PAYEE_A, PAYEE_B = KEYS
BALANCE = 5_000


def follower(defences: LedgerDefences | None = None, state: LedgerState | None = None,
             extra: list[KeyPair] | None = None) -> LedgerReplica:
    """A light node's replica following validators V0 and V1."""
    if state is None:
        state = LedgerState.from_genesis(make_genesis([*KEYS, *(extra or [])], balance=BALANCE, validators=[V0, V1]))
    return LedgerReplica(state, [V0.public_key, V1.public_key], FOLLOWER.public_key, defences=defences)


def double_spend(key: KeyPair = ATTACKER, fee: int = 0) -> tuple[Transaction, Transaction]:
    """Two transfers of the whole balance with nonce 0 to two payees."""
    return (sign_transfer(key, PAYEE_A.public_key, BALANCE - fee, 0, fee=fee),
            sign_transfer(key, PAYEE_B.public_key, BALANCE - fee, 0, fee=fee))


def test_every_defence_is_on_by_default_and_none_switches_all_off() -> None:
    names = [field.name for field in attrs.fields(LedgerDefences)]
    assert names == ["conflicting_nonces", "confirmed_credits"]
    assert all(getattr(LedgerDefences(), name) for name in names)
    assert not any(getattr(LedgerDefences.none(), name) for name in names)


def test_either_order_ends_in_the_same_state_with_nothing_paid_and_the_fee_returned() -> None:
    first, second = double_spend(fee=7)
    one, other = follower(), follower()
    one.receive_entry(V0.public_key, 1, first, 0.0)
    one.receive_entry(V1.public_key, 1, second, 0.0)
    other.receive_entry(V1.public_key, 1, second, 0.0)
    other.receive_entry(V0.public_key, 1, first, 0.0)
    assert one.state.snapshot().digest() == other.state.snapshot().digest()
    for replica in (one, other):
        replica.state.check_invariants()
        assert replica.state.balance(ATTACKER.public_key) == BALANCE
        assert replica.state.next_nonce(ATTACKER.public_key) == 1
        assert replica.state.balance(PAYEE_A.public_key) == replica.state.balance(PAYEE_B.public_key) == BALANCE
        (found,) = replica.take_double_spends()
        assert found.voided and found.proof.verify() and found.proof.offender == ATTACKER.public_key
        assert replica.take_double_spends() == []


def test_undefended_follower_keeps_what_it_saw_first() -> None:
    first, second = double_spend()
    one, other = follower(LedgerDefences.none()), follower(LedgerDefences.none())
    one.receive_entry(V0.public_key, 1, first, 0.0)
    one.receive_entry(V1.public_key, 1, second, 0.0)
    other.receive_entry(V1.public_key, 1, second, 0.0)
    other.receive_entry(V0.public_key, 1, first, 0.0)
    assert one.state.snapshot().digest() != other.state.snapshot().digest()
    assert one.take_double_spends() == [] and one.double_spends == {}


def test_replayed_proof_and_a_third_transfer_change_nothing() -> None:
    first, second = double_spend()
    third = sign_transfer(ATTACKER, V0.public_key, BALANCE, 0)
    replica = follower()
    replica.receive_entry(V0.public_key, 1, first, 0.0)
    replica.receive_entry(V1.public_key, 1, second, 0.0)
    digest = replica.state.snapshot().digest()
    for sequence in range(2, 1_002):
        replica.receive_entry(V1.public_key, sequence, (first, second, third)[sequence % 3], 0.0)
    assert replica.state.snapshot().digest() == digest
    assert len(replica.double_spends) == 1 and len(replica.take_double_spends()) == 1
    # the applied one (every third) is known by id and not counted; the other two are further conflicting entries
    assert next(iter(replica.double_spends.values())).further == sum(1 for sequence in range(2, 1_002) if sequence % 3)


def test_the_senders_later_transfer_waiting_for_funds_lands_once_the_double_spend_is_void() -> None:
    small = sign_transfer(ATTACKER, PAYEE_A.public_key, 10, 0)
    large = sign_transfer(ATTACKER, PAYEE_B.public_key, BALANCE, 0)
    later = sign_transfer(ATTACKER, V0.public_key, BALANCE - 1, 1)
    replica = follower()
    replica.receive_entry(V1.public_key, 1, large, 0.0)
    replica.receive_entry(V1.public_key, 2, later, 0.0)
    assert replica.waiting == 1
    replica.receive_entry(V0.public_key, 1, small, 0.0)
    assert replica.waiting == 0
    assert replica.state.balance(ATTACKER.public_key) == 1
    replica.state.check_invariants()


def test_a_double_spend_whose_payee_spent_the_funds_is_reported_and_left() -> None:
    first, second = double_spend()
    onward = sign_transfer(PAYEE_A, V0.public_key, 2 * BALANCE, 0)
    replica = follower()
    replica.receive_entry(V0.public_key, 1, first, 0.0)
    replica.receive_entry(V0.public_key, 2, onward, 0.0)
    replica.receive_entry(V1.public_key, 1, second, 0.0)
    (found,) = replica.take_double_spends()
    assert not found.voided
    assert replica.state.get_data(DOUBLE_SPEND_NAMESPACE, ATTACKER.public_key + bytes(8)) is None
    replica.state.check_invariants()


def test_voiding_survives_a_restart_without_refunding_twice(tmp_path: pathlib.Path) -> None:
    first, second = double_spend()
    genesis = make_genesis(KEYS, balance=BALANCE, validators=[V0, V1])
    replica = follower(state=LedgerState.from_genesis(genesis, SQLiteStore(tmp_path / "ledger.db")))
    replica.receive_entry(V0.public_key, 1, first, 0.0)
    replica.receive_entry(V1.public_key, 1, second, 0.0)
    digest = replica.state.snapshot().digest()
    replica.state.close()
    reopened = follower(state=LedgerState.from_genesis(genesis, SQLiteStore(tmp_path / "ledger.db")))
    reopened.receive_entry(V0.public_key, 1, first, 0.0)
    reopened.receive_entry(V1.public_key, 1, second, 0.0)
    assert reopened.state.snapshot().digest() == digest
    assert all(found.voided for found in reopened.double_spends.values())
    reopened.state.check_invariants()
    reopened.state.close()


def test_two_thousand_attackers_cost_one_record_each() -> None:
    attackers = [KeyPair.from_seed(index.to_bytes(4, "big") + b"\x77" * 28) for index in range(2_000)]
    replica = follower(extra=attackers)
    for sequence, attacker in enumerate(attackers, start=1):
        first, second = double_spend(attacker)
        replica.receive_entry(V0.public_key, sequence, first, 0.0)
        replica.receive_entry(V1.public_key, sequence, second, 0.0)
    assert len(replica.take_double_spends()) == len(replica.double_spends) == 2_000
    assert replica.waiting == 0
    assert all(replica.state.balance(attacker.public_key) == BALANCE for attacker in attackers)
    assert replica.state.balance(PAYEE_A.public_key) == replica.state.balance(PAYEE_B.public_key) == BALANCE
    replica.state.check_invariants()


# ledger.confirmed_credits ----------------------------------------------------------------------------------------

def validator(key: KeyPair, defences: LedgerDefences | None = None) -> LedgerReplica:
    """A validator's replica (V0 or V1) with the default 2 s confirmation window."""
    state = LedgerState.from_genesis(make_genesis(KEYS, balance=BALANCE, validators=[V0, V1]))
    return LedgerReplica(state, [V0.public_key, V1.public_key], key.public_key, defences=defences)


def chained(first_payee: KeyPair = PAYEE_A, second_payee: KeyPair = PAYEE_B) -> list[Transaction]:
    """The double spend and the payees' forwards of everything they got (they hold BALANCE of their own)."""
    first, second = double_spend()
    return [first, sign_transfer(first_payee, V0.public_key, 2 * BALANCE, 0),
            second, sign_transfer(second_payee, V1.public_key, 2 * BALANCE, 0)]


def test_a_validator_admits_a_spend_of_a_credit_only_once_the_window_has_passed() -> None:
    v0 = validator(V0)
    payment, onward = chained()[:2]
    assert v0.admit(payment, 0.0).accepted
    digest = v0.state.snapshot().digest()
    refused = v0.admit(onward, 1.999)
    assert refused.code == 5 and "credited less than 2 s ago" in refused.reason
    assert v0.state.snapshot().digest() == digest
    assert v0.admit(sign_transfer(PAYEE_A, V0.public_key, BALANCE, 0), 1.999).accepted  # its own funds are fine
    assert v0.admit(sign_transfer(PAYEE_A, V0.public_key, BALANCE, 1), 2.0).accepted


def test_chained_double_spend_ends_in_one_ledger_in_either_order() -> None:
    for defences, ledgers in ((LedgerDefences(), 1), (LedgerDefences(confirmed_credits=False), 2)):
        first, onward_a, second, onward_b = chained()
        v0, v1 = validator(V0, defences), validator(V1, defences)
        assert v0.admit(first, 0.0).accepted and v1.admit(second, 0.0).accepted
        v0.admit(onward_a, 0.05)
        v1.admit(onward_b, 0.05)
        for replica, other in ((v0, v1), (v1, v0)):
            for sequence, entry in enumerate(other.log.entries(1, 2), start=1):
                replica.receive_entry(other.own_key, sequence, entry.transaction, 0.1)
        replicas = [v0, v1]
        for order in ((V0, V1), (V1, V0)):
            light = follower(defences)
            for key in order:
                source = v0 if key == V0 else v1
                for entry in source.log.entries(1, 2):
                    light.receive_entry(key.public_key, entry.sequence, entry.transaction, 0.2)
            replicas.append(light)
        assert len({replica.state.snapshot().digest() for replica in replicas}) == ledgers
        if ledgers == 1:
            for replica in replicas:
                replica.state.check_invariants()
                assert replica.state.balance(ATTACKER.public_key) == BALANCE
                assert replica.state.balance(PAYEE_A.public_key) == replica.state.balance(PAYEE_B.public_key) == BALANCE


def test_recent_credits_hold_only_the_window() -> None:
    v0 = validator(V0)
    payers = make_keys(200, seed=77)
    for index, payer in enumerate(payers):
        state = v0.state
        state.apply_block([], system=lambda ctx, payer=payer: ctx.transfer(V0.public_key, payer.public_key, 10))
        assert v0.admit(sign_transfer(payer, PAYEE_A.public_key, 1, 0), index * 0.25).accepted
        assert len(v0.recent_credits) <= 8
    assert v0.recent_credits.unconfirmed(PAYEE_A.public_key, 49.75) == 8
    assert v0.recent_credits.unconfirmed(PAYEE_A.public_key, 100.0) == 0 and len(v0.recent_credits) == 0
