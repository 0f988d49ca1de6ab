"""The kind registry, and an upper-layer kind applied through the ledger's one path."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import ClassVar

import attrs
import pytest

from a27_ledger import (
    InsufficientBalance,
    InvalidAmount,
    LedgerState,
    MalformedTransaction,
    SQLiteStore,
    StateTransition,
    Transaction,
    TransactionRegistry,
    Transfer,
    UnknownTransactionKind,
    default_registry,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys

STAKE = "stake"


@attrs.frozen
class Bond:
    """A toy upper-layer kind: lock `amount` of the sender's balance as stake and remember it."""

    KIND: ClassVar[int] = 100
    NAME: ClassVar[str] = "bond"
    amount: int

    def encode(self) -> bytes:
        return struct.pack(">Q", self.amount)

    @classmethod
    def decode(cls, data: bytes) -> Bond:
        if len(data) != 8:
            raise MalformedTransaction("bond body is 8 bytes")
        return cls(struct.unpack(">Q", data)[0])

    def check(self, tx: Transaction) -> None:
        if self.amount <= 0:
            raise InvalidAmount("bond amount must be positive")

    def debit(self) -> int:
        return self.amount

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        ctx.lock(tx.sender, STAKE, tx.sender, self.amount)
        ctx.put_data(STAKE, tx.sender, struct.pack(">Q", ctx.escrow(STAKE, tx.sender)))


@attrs.frozen
class Unbond:
    """The toy kind's inverse: release stake back to the balance."""

    KIND: ClassVar[int] = 101
    NAME: ClassVar[str] = "unbond"
    amount: int

    def encode(self) -> bytes:
        return struct.pack(">Q", self.amount)

    @classmethod
    def decode(cls, data: bytes) -> Unbond:
        if len(data) != 8:
            raise MalformedTransaction("unbond body is 8 bytes")
        return cls(struct.unpack(">Q", data)[0])

    def check(self, tx: Transaction) -> None:
        if self.amount <= 0:
            raise InvalidAmount("unbond amount must be positive")

    def debit(self) -> int:
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        ctx.unlock(STAKE, tx.sender, tx.sender, self.amount)
        left = ctx.escrow(STAKE, tx.sender)
        ctx.put_data(STAKE, tx.sender, struct.pack(">Q", left) if left else None)


def staking_registry() -> TransactionRegistry:
    registry = default_registry.copy()
    registry.register(Bond)
    registry.register(Unbond)
    return registry


def test_register_refuses_a_taken_or_invalid_kind() -> None:
    registry = staking_registry()

    class Impostor(Bond):
        KIND: ClassVar[int] = Transfer.KIND

    class Huge(Bond):
        KIND: ClassVar[int] = 2**16

    with pytest.raises(ValueError, match="kind 1 is already registered to Transfer"):
        registry.register(Impostor)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="already registered to Bond"):
        registry.register(Bond)
    with pytest.raises(ValueError, match="KIND"):
        registry.register(Huge)  # type: ignore[type-var]
    assert registry.body_class(Transfer.KIND) is Transfer


def test_register_works_as_a_decorator_and_lists_kinds() -> None:
    registry = TransactionRegistry()
    decorated = registry.register(Bond)
    assert decorated is Bond
    assert registry.kinds() == {100: "bond"}
    assert staking_registry().kinds() == {1: "transfer", 100: "bond", 101: "unbond"}


def test_unknown_kind_raises_unknown_transaction_kind() -> None:
    with pytest.raises(UnknownTransactionKind, match="100"):
        TransactionRegistry().body_class(100)


def test_copy_is_independent() -> None:
    registry = staking_registry()
    assert 100 not in default_registry.kinds()
    assert registry.copy().kinds() == registry.kinds()


def test_an_upper_layer_kind_goes_through_the_same_path(tmp_path: Path) -> None:
    keys = make_keys(2, seed=3)
    alice, bob = keys
    registry = staking_registry()
    state = LedgerState.from_genesis(make_genesis(keys, balance=1_000), SQLiteStore(tmp_path / "l.db"), registry)
    bond = Transaction(alice.public_key, 0, 2, Bond(600)).signed(alice)
    decoded = Transaction.decode(bond.encode(), registry)
    receipt = state.apply(decoded)
    assert receipt.accounts == (alice.public_key,)
    assert state.balance(alice.public_key) == 1_000 - 600 - 2
    assert state.escrow(STAKE, alice.public_key) == 600
    assert state.get_data(STAKE, alice.public_key) == struct.pack(">Q", 600)
    state.check_invariants()

    with pytest.raises(InsufficientBalance):
        state.apply(Transaction(alice.public_key, 1, 0, Bond(399)).signed(alice))
    before = state.snapshot().digest()
    with pytest.raises(InsufficientBalance, match="escrow"):
        state.apply(Transaction(alice.public_key, 1, 0, Unbond(601)).signed(alice))
    assert state.snapshot().digest() == before

    state.apply_batch(
        [
            Transaction(alice.public_key, 1, 0, Unbond(600)).signed(alice),
            sign_transfer(alice, bob.public_key, 500, 2),
        ]
    )
    assert state.escrow(STAKE, alice.public_key) == 0
    assert state.get_data(STAKE, alice.public_key) is None
    assert state.balance(bob.public_key) == 1_500
    state.check_invariants()
    assert [receipt.tx.kind for receipt in state.history()] == [100, 101, 1]


def test_a_kind_outside_the_registry_is_refused_by_the_state() -> None:
    keys = make_keys(2, seed=3)
    state = LedgerState.from_genesis(make_genesis(keys))
    before = state.snapshot().digest()
    with pytest.raises(UnknownTransactionKind):
        state.apply(Transaction(keys[0].public_key, 0, 0, Bond(5)).signed(keys[0]))
    assert state.snapshot().digest() == before
