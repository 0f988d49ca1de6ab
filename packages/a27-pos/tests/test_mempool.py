"""The mempool: bounds, deduplication, nonce order, fee priority, eviction, and blocks that always apply."""

from __future__ import annotations

import contextlib
from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a27_ledger import (
    BadSignature,
    DuplicateTransaction,
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    LedgerState,
    NonceReplay,
    StateTransition,
    Transaction,
    UnknownTransactionKind,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys
from a27_pos import (
    Chain,
    Mempool,
    MempoolFull,
    NonceTooFarAhead,
    PosError,
    TransactionTooLarge,
    pos_registry,
    sign_bond,
    sign_unbond,
)
from a27_pos.testing import extend, make_pos_genesis

KEYS = make_keys(6, seed=41)
A, B, C, D, E, F = KEYS


def fresh_state(balance: int = 1_000) -> LedgerState:
    return LedgerState.from_genesis(make_genesis(KEYS, balance=balance), registry=pos_registry())


def transfer(key: object, nonce: int, fee: int = 0, amount: int = 1) -> Transaction:
    return sign_transfer(key, F.public_key if key is not F else A.public_key, amount, nonce, fee)  # type: ignore[arg-type]


def test_admission_rejections() -> None:
    state = fresh_state()
    pool = Mempool(max_nonce_ahead=4, max_transaction_bytes=200)
    pool.add(transfer(A, 0), state)
    cases: list[tuple[Transaction, type[Exception]]] = [
        (transfer(A, 0), DuplicateTransaction),
        (transfer(A, 0, fee=1), DuplicateTransaction),
        (transfer(A, 5), NonceTooFarAhead),
        (transfer(B, 0, amount=1_001), InsufficientBalance),
        (transfer(B, 0, amount=0), InvalidAmount),
        (attrs.evolve(transfer(B, 0), signature=bytes(64)), BadSignature),
        (sign_bond(B, 10, 0), UnknownTransactionKind),
    ]
    for tx, error in cases:
        with pytest.raises(error):
            pool.add(tx, LedgerState.from_genesis(make_genesis(KEYS)) if error is UnknownTransactionKind else state)
    state.apply(transfer(C, 0))
    with pytest.raises(NonceReplay):
        pool.add(transfer(C, 0, fee=3), state)
    with pytest.raises(TransactionTooLarge):
        Mempool(max_transaction_bytes=100).add(transfer(B, 0), state)
    assert len(pool) == 1
    assert transfer(A, 0).tx_id in pool
    assert pool.get(transfer(A, 0).tx_id) == transfer(A, 0)
    assert list(pool) == [transfer(A, 0)]
    assert pool.size_bytes == 159


def test_blocks_take_consecutive_nonces_by_fee_and_leave_the_pool_intact() -> None:
    state = fresh_state()
    pool = Mempool()
    for tx in (transfer(A, 1, fee=50), transfer(A, 0, fee=1), transfer(B, 0, fee=10), transfer(C, 1, fee=99),
               transfer(D, 0, fee=5)):
        pool.add(tx, state)
    chosen = pool.pop_for_block(state, 10, 10_000)
    assert chosen == [transfer(B, 0, fee=10), transfer(D, 0, fee=5), transfer(A, 0, fee=1), transfer(A, 1, fee=50)]
    assert len(pool) == 5
    assert pool.pop_for_block(state, 2, 10_000) == chosen[:2]
    assert pool.pop_for_block(state, 10, 2 * 163) == chosen[:2]


def test_a_sender_that_cannot_pay_stops_at_its_last_affordable_transaction() -> None:
    pool = Mempool()
    for nonce in range(3):
        pool.add(transfer(A, nonce, amount=120), fresh_state(balance=360))
    # The balance fell after admission (another block spent it): only what it still pays for is offered.
    state = fresh_state(balance=300)
    assert pool.pop_for_block(state, 10, 10_000) == [transfer(A, 0, amount=120), transfer(A, 1, amount=120)]


def test_admission_counts_the_senders_pending_transactions_against_its_balance() -> None:
    state = fresh_state(balance=300)
    pool = Mempool()
    pool.add(transfer(A, 0, amount=120), state)
    pool.add(transfer(A, 2, amount=120), state)
    with pytest.raises(InsufficientBalance):
        pool.add(transfer(A, 1, amount=120), state)
    assert len(pool) == 2


def test_when_full_the_cheapest_last_transaction_goes() -> None:
    state = fresh_state()
    pool = Mempool(max_transactions=3)
    pool.add(transfer(A, 0, fee=5), state)
    pool.add(transfer(A, 1, fee=1), state)
    pool.add(transfer(B, 0, fee=3), state)
    with pytest.raises(MempoolFull):
        pool.add(transfer(C, 0, fee=1), state)
    pool.add(transfer(C, 0, fee=2), state)
    assert transfer(A, 1, fee=1).tx_id not in pool
    pool.add(transfer(D, 0, fee=4), state)
    assert {tx.sender for tx in pool} == {A.public_key, B.public_key, D.public_key}


def test_a_sender_never_evicts_its_own_lower_nonce_for_a_higher_one() -> None:
    state = fresh_state()
    pool = Mempool(max_transactions=2)
    pool.add(transfer(A, 0, fee=1), state)
    pool.add(transfer(B, 0, fee=9), state)
    with pytest.raises(MempoolFull):
        pool.add(transfer(A, 1, fee=5), state)
    assert len(pool) == 2


def test_the_byte_bound_evicts_too() -> None:
    state = fresh_state()
    pool = Mempool(max_bytes=2 * 159)
    pool.add(transfer(A, 0, fee=1), state)
    pool.add(transfer(B, 0, fee=2), state)
    pool.add(transfer(C, 0, fee=3), state)
    assert pool.size_bytes == 2 * 159
    assert transfer(A, 0, fee=1).tx_id not in pool


def test_finalized_blocks_remove_what_they_include_and_make_stale() -> None:
    keys = make_keys(4, seed=42)
    chain = Chain.start(make_pos_genesis(keys))
    pool = Mempool()
    mine = [sign_transfer(keys[0], keys[1].public_key, 1, nonce) for nonce in range(3)]
    rival = sign_transfer(keys[0], keys[2].public_key, 2, 1)
    for tx in [*mine, sign_transfer(keys[3], keys[1].public_key, 1, 0)]:
        pool.add(tx, chain.state)
    block = extend(chain, keys, [mine[0], rival])
    assert pool.remove_included(block, chain.state) == 2
    assert [tx.nonce for tx in pool if tx.sender == keys[0].public_key] == [2]


def test_a_transaction_that_does_not_apply_is_dropped_when_building() -> None:
    keys = make_keys(4, seed=43)
    chain = Chain.start(make_pos_genesis(keys))
    # Admitted while the stake was there (another view of the chain); it is gone in the state the block builds on.
    richer = Chain.start(make_pos_genesis(keys, 2 * 10**6, balance=2 * 10**6))
    pool = Mempool()
    pool.add(sign_unbond(keys[0], 10**6, 0, fee=9), richer.state)
    pool.add(sign_unbond(keys[0], 10, 1), richer.state)
    pool.add(sign_unbond(keys[1], 10, 0, fee=1), richer.state)
    pool.add(transfer(keys[2], 0), richer.state)
    assert pool.pop_for_block(chain.state, 10, 10_000) == [sign_unbond(keys[1], 10, 0, fee=1), transfer(keys[2], 0)]
    assert len(pool) == 3


@attrs.frozen
class Doomed:
    """A test kind whose stateless checks pass and whose application always fails (like a one-party close)."""

    KIND: ClassVar[int] = 250
    NAME: ClassVar[str] = "doomed"

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, data: bytes) -> Doomed:
        return cls()

    def check(self, tx: Transaction) -> None:
        pass

    def debit(self) -> int:
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        raise InsufficientBalance("nothing to close")


def doomed_state() -> LedgerState:
    registry = pos_registry()
    registry.register(Doomed)
    return LedgerState.from_genesis(make_genesis(KEYS, balance=1_000), registry=registry)


def test_a_transaction_whose_application_fails_is_refused_and_holds_no_nonce() -> None:
    state = doomed_state()
    pool = Mempool()
    with pytest.raises(InsufficientBalance, match="nothing to close"):
        pool.add(Transaction(A.public_key, 0, 0, Doomed()).signed(A), state)
    pool.add(transfer(A, 0), state)
    # Behind the sender's pending transactions too: dry-run after them.
    with pytest.raises(InsufficientBalance, match="nothing to close"):
        pool.add(Transaction(A.public_key, 1, 3, Doomed()).signed(A), state)
    pool.add(transfer(A, 1), state)
    assert len(pool) == 2


def test_gapped_transactions_are_bounded_per_sender_and_in_all() -> None:
    state = fresh_state()
    pool = Mempool(max_transactions=100, max_gapped_per_sender=3, max_gapped=5)
    for nonce in (2, 3, 4):
        pool.add(transfer(A, nonce), state)
    with pytest.raises(NonceTooFarAhead, match="behind a nonce gap"):
        pool.add(transfer(A, 5), state)
    pool.add(transfer(B, 1), state)
    pool.add(transfer(B, 2), state)
    with pytest.raises(MempoolFull, match="nonce gaps"):
        pool.add(transfer(C, 1), state)
    assert pool.gapped == 5
    # Filling the gap makes them includable: they no longer count as gapped.
    pool.add(transfer(B, 0), state)
    assert pool.gapped == 3
    pool.add(transfer(C, 1), state)


def test_gap_transactions_from_keys_without_funds_cannot_lock_out_funded_senders() -> None:
    strangers = make_keys(300, seed=44)
    state = fresh_state()
    pool = Mempool(max_transactions=100)
    for key in strangers:
        # A zero-debit kind passes the balance check with no funds; behind a gap it cannot be dry-run.
        for transaction in (sign_unbond(key, 10, 1), transfer(key, 1)):
            with contextlib.suppress(LedgerError, PosError):
                pool.add(transaction, state)
    assert len(pool) <= 25
    for key in KEYS[:5]:
        pool.add(transfer(key, 0), state)
    assert len(pool.pop_for_block(state, 100, 100_000)) == 5


def test_gapped_transactions_that_never_become_includable_expire() -> None:
    strangers = make_keys(30, seed=44)
    state = fresh_state()
    pool = Mempool(max_transactions=100)
    for key in strangers:
        with contextlib.suppress(MempoolFull):
            pool.add(sign_unbond(key, 10, 1), state, now=0.0)
    pool.add(transfer(A, 0), state, now=1.0)
    assert pool.gapped == 25 and len(pool) == 26
    assert pool.expire(599.0, state) == 0
    assert pool.expire(600.0, state) == 25 and pool.gapped == 0 and list(pool) == [transfer(A, 0)]


def test_expiry_takes_a_senders_later_transactions_with_it() -> None:
    state = fresh_state()
    pool = Mempool(max_age=10.0)
    pool.add(transfer(A, 0), state, now=0.0)
    pool.add(transfer(A, 1), state, now=5.0)
    pool.add(transfer(B, 0), state, now=5.0)
    assert pool.expire(10.0, state) == 2
    assert list(pool) == [transfer(B, 0)]


OPERATION = st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 20), st.integers(1, 400))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATION, max_size=40), st.integers(1, 12), st.integers(300, 2_000), st.integers(1, 8))
def test_bounds_hold_evictions_take_tails_and_blocks_apply(operations: list[tuple[int, int, int, int]],
                                                           max_transactions: int, max_bytes: int,
                                                           block_size: int) -> None:
    state = fresh_state()
    pool = Mempool(max_transactions=max_transactions, max_bytes=max_bytes, max_nonce_ahead=4)
    for sender, nonce, fee, amount in operations:
        before = _nonces_by_sender(pool)
        with contextlib.suppress(LedgerError, PosError):
            pool.add(transfer(KEYS[sender], nonce, fee, amount), state)
        assert len(pool) <= max_transactions
        assert pool.size_bytes <= max_bytes
        after = _nonces_by_sender(pool)
        for account, nonces in before.items():
            kept, lost = nonces & after.get(account, set()), nonces - after.get(account, set())
            assert not lost or not kept or max(kept) < min(lost), "evicted a lower nonce while a higher one stayed"
        chosen = pool.pop_for_block(state, block_size, 1_000)
        assert len(chosen) <= block_size
        assert sum(len(tx.encode()) + 4 for tx in chosen) <= 1_000
        state.apply_block(chosen, dry_run=True)
        if chosen and len(chosen) % 3 == 0:
            state.apply_batch(chosen)
            pool.remove_included(_block_of(chosen), state)
    state.check_invariants()


def _nonces_by_sender(pool: Mempool) -> dict[bytes, set[int]]:
    nonces: dict[bytes, set[int]] = {}
    for tx in pool:
        nonces.setdefault(tx.sender, set()).add(tx.nonce)
    return nonces


def _block_of(transactions: list[Transaction]) -> object:
    return attrs.make_class("Included", ["transactions", "evidence"])(tuple(transactions), ())
