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
        queue.add(transfer(key_index, nonce), 0.0)
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
        queue.add(tx, 0.0)
    assert queue.pop_ready(state) == []
    state.apply(sign_transfer(ALICE, BOB.public_key, 5, 0))
    ready = queue.pop_ready(state)
    assert [tx.nonce for tx in ready] == [1, 2]
    state.apply_batch(ready)
    assert state.next_nonce(ALICE.public_key) == 3


def test_duplicates_are_refused_first_one_wins() -> None:
    queue = FutureNonceQueue()
    first = transfer(0, 4, amount=1)
    queue.add(first, 0.0)
    assert queue.add(first, 1.0) is None  # the same transaction again (a retransmission) changes nothing
    assert len(queue) == 1
    with pytest.raises(DuplicateTransaction):
        queue.add(transfer(0, 4, amount=2), 0.0)
    assert queue.pop_ready(Nonces(a=4)) == [first]


def test_per_sender_and_total_limits() -> None:
    queue = FutureNonceQueue(per_sender_limit=2, total_limit=3)
    queue.add(transfer(0, 1), 0.0)
    queue.add(transfer(0, 2), 0.0)
    with pytest.raises(QueueFull, match="this sender"):
        queue.add(transfer(0, 3), 0.0)
    queue.add(transfer(1, 1), 0.0)
    assert len(queue) == 3


def test_a_full_queue_makes_room_from_the_largest_holder_for_a_sender_with_fewer() -> None:
    queue = FutureNonceQueue(per_sender_limit=2, total_limit=3)
    for key_index, nonce in [(0, 1), (0, 2), (1, 1)]:
        queue.add(transfer(key_index, nonce), 0.0)
    evicted = queue.add(transfer(2, 1), 0.0)
    assert evicted is not None and (evicted.sender, evicted.nonce) == (ALICE.public_key, 2)
    assert len(queue) == 3
    assert [tx.nonce for tx in queue.held_by(ALICE.public_key)] == [1]
    with pytest.raises(QueueFull, match="3 transactions"):
        queue.add(transfer(2, 2), 0.0)  # Carol now holds as many as anyone


def test_the_per_sender_limit_holds_for_a_fresh_key() -> None:
    fresh = make_keys(1, seed=99)[0]
    queue = FutureNonceQueue(per_sender_limit=3)
    for nonce in range(1, 4):
        queue.add(sign_transfer(fresh, ALICE.public_key, 1, nonce), 0.0)
    with pytest.raises(QueueFull, match="this sender"):
        queue.add(sign_transfer(fresh, ALICE.public_key, 1, 4), 0.0)
    assert len(queue) == 3


def test_entries_expire_after_their_hold_time_oldest_first() -> None:
    queue = FutureNonceQueue(hold_seconds=30.0)
    queue.add(transfer(0, 2), 10.0)
    queue.add(transfer(1, 1), 20.0)
    assert queue.expire(39.9) == []
    assert [(tx.sender, tx.nonce) for tx in queue.expire(40.0)] == [(ALICE.public_key, 2)]
    assert len(queue) == 1
    assert [tx.nonce for tx in queue.expire(1e9)] == [1]
    assert len(queue) == 0
    queue.add(transfer(0, 2), 1e9)  # the slot is free again
    assert len(queue) == 1


def test_an_expired_flood_frees_the_whole_queue() -> None:
    senders = make_keys(50, seed=5)
    queue = FutureNonceQueue(per_sender_limit=2, total_limit=60)
    for index, key in enumerate(senders):
        queue.add(sign_transfer(key, ALICE.public_key, 1, 1), float(index))
    assert len(queue) == 50
    assert len(queue.expire(49 + queue.hold_seconds)) == 50
    assert len(queue) == 0
    assert queue.pop_ready(Nonces()) == []


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limits"):
        FutureNonceQueue(per_sender_limit=0)
    with pytest.raises(ValueError, match="hold_seconds"):
        FutureNonceQueue(hold_seconds=0)


def test_stale_transactions_are_dropped() -> None:
    queue = FutureNonceQueue()
    for nonce in (1, 2, 3):
        queue.add(transfer(0, nonce), 0.0)
    queue.add(transfer(1, 1), 0.0)
    assert queue.drop_stale(Nonces(a=3, b=2)) == 3
    assert len(queue) == 1
    assert [tx.nonce for tx in queue.pop_ready(Nonces(a=3))] == [3]
    queue.add(transfer(0, 1), 0.0)
    assert queue.pop_ready(Nonces(a=2)) == []
    assert len(queue) == 0
