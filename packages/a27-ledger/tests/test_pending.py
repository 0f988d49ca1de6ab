"""The future-nonce queue: bounds, duplicates, release order and stale entries."""

from __future__ import annotations

import pytest

from a27_ledger import DuplicateTransaction, FutureNonceQueue, LedgerState, QueueFull, Transaction, sign_transfer
from a27_ledger.testing import make_genesis, make_keys

KEYS = make_keys(3, seed=8)
ALICE, BOB, CAROL = KEYS


class Nonces:
    """A NonceView whose next nonces the test sets."""

    def __init__(self, **next_nonces: int) -> None:
        self.values = {key.public_key: next_nonces.get(name, 0) for name, key in zip("abc", KEYS, strict=True)}

    def next_nonce(self, account: bytes) -> int:
        return self.values[account]


def transfer(key_index: int, nonce: int, amount: int = 1) -> Transaction:
    return sign_transfer(KEYS[key_index], KEYS[(key_index + 1) % 3].public_key, amount, nonce)


def test_pop_ready_releases_consecutive_runs_in_nonce_order() -> None:
    queue = FutureNonceQueue()
    for key_index, nonce in [(0, 3), (1, 1), (0, 1), (0, 2), (1, 0), (0, 5), (2, 4)]:
        queue.add(transfer(key_index, nonce))
    ready = queue.pop_ready(Nonces(a=1, b=0, c=0))
    assert [(tx.sender, tx.nonce) for tx in ready] == [
        (ALICE.public_key, 1),
        (ALICE.public_key, 2),
        (ALICE.public_key, 3),
        (BOB.public_key, 0),
        (BOB.public_key, 1),
    ]
    assert len(queue) == 2  # Alice's 5 waits for 4; Carol's 4 waits for 0..3
    assert queue.pop_ready(Nonces(a=1, b=0, c=0)) == []
    assert [tx.nonce for tx in queue.pop_ready(Nonces(a=5, b=2, c=4))] == [5, 4]
    assert len(queue) == 0


def test_pop_ready_with_a_real_state() -> None:
    state = LedgerState.from_genesis(make_genesis(KEYS))
    queue = FutureNonceQueue()
    later = [sign_transfer(ALICE, BOB.public_key, 5, nonce) for nonce in (2, 1)]
    for tx in later:
        queue.add(tx)
    assert queue.pop_ready(state) == []
    state.apply(sign_transfer(ALICE, BOB.public_key, 5, 0))
    ready = queue.pop_ready(state)
    assert [tx.nonce for tx in ready] == [1, 2]
    state.apply_batch(ready)
    assert state.next_nonce(ALICE.public_key) == 3


def test_duplicates_are_refused_first_one_wins() -> None:
    queue = FutureNonceQueue()
    first = transfer(0, 4, amount=1)
    queue.add(first)
    with pytest.raises(DuplicateTransaction):
        queue.add(first)
    with pytest.raises(DuplicateTransaction):
        queue.add(transfer(0, 4, amount=2))
    assert queue.pop_ready(Nonces(a=4)) == [first]


def test_per_sender_and_total_limits() -> None:
    queue = FutureNonceQueue(per_sender_limit=2, total_limit=3)
    queue.add(transfer(0, 1))
    queue.add(transfer(0, 2))
    with pytest.raises(QueueFull, match="this sender"):
        queue.add(transfer(0, 3))
    queue.add(transfer(1, 1))
    with pytest.raises(QueueFull, match="3 transactions"):
        queue.add(transfer(2, 1))
    assert len(queue) == 3


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limits"):
        FutureNonceQueue(per_sender_limit=0)


def test_stale_transactions_are_dropped() -> None:
    queue = FutureNonceQueue()
    for nonce in (1, 2, 3):
        queue.add(transfer(0, nonce))
    queue.add(transfer(1, 1))
    assert queue.drop_stale(Nonces(a=3, b=2)) == 3
    assert len(queue) == 1
    assert [tx.nonce for tx in queue.pop_ready(Nonces(a=3))] == [3]
    queue.add(transfer(0, 1))
    assert queue.pop_ready(Nonces(a=2)) == []
    assert len(queue) == 0
