"""The Lab 1 replica's admission of submissions whose nonce is ahead: what it holds, for how long, and for whom."""

from __future__ import annotations

from a27_ledger import (
    ACCEPTED,
    QUEUED,
    FutureNonceQueue,
    InsufficientBalance,
    KeyPair,
    LedgerReplica,
    LedgerState,
    NonceGap,
    QueueFull,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys

KEYS = make_keys(3, seed=12)
VALIDATOR, FUNDED, OTHER = KEYS


def replica(queue: FutureNonceQueue | None = None) -> LedgerReplica:
    state = LedgerState.from_genesis(make_genesis(KEYS, balance=1_000, validators=[VALIDATOR]))
    return LedgerReplica(state, [VALIDATOR.public_key], VALIDATOR.public_key, queue=queue)


def unfunded_keys(count: int) -> list[KeyPair]:
    return [KeyPair.from_seed(index.to_bytes(4, "big") + b"\x5a" * 28) for index in range(count)]


def test_gap_transfers_from_unfunded_keys_are_refused_and_do_not_lock_out_a_funded_sender() -> None:
    node = replica()
    codes = {node.admit(sign_transfer(key, OTHER.public_key, 1, nonce=1), 0.0).code for key in unfunded_keys(4_100)}
    assert codes == {InsufficientBalance.code}
    assert len(node.queue) == 0
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 10, nonce=1), 1.0).code == QUEUED
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 10, nonce=0), 1.0).code == ACCEPTED
    assert node.state.next_nonce(FUNDED.public_key) == 2


def test_a_funded_sender_gets_in_when_funded_keys_fill_the_queue() -> None:
    node = replica(FutureNonceQueue(per_sender_limit=4, total_limit=8))
    for nonce in range(1, 5):
        assert node.admit(sign_transfer(OTHER, FUNDED.public_key, 1, nonce), 0.0).code == QUEUED
    assert node.admit(sign_transfer(OTHER, FUNDED.public_key, 1, 5), 0.0).code == NonceGap.code  # beyond the window
    filler = make_keys(8, seed=13)
    for key in filler[:4]:
        node.state.apply(sign_transfer(VALIDATOR, key.public_key, 5, node.state.next_nonce(VALIDATOR.public_key)))
        assert node.admit(sign_transfer(key, FUNDED.public_key, 1, 1), 0.0).code == QUEUED
    assert len(node.queue) == 8
    node.take_outbox()
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 1, 1), 0.0).code == QUEUED
    _, verdicts = node.take_outbox()
    assert [verdict.code for verdict in verdicts] == [QueueFull.code]  # OTHER's nonce 4 made room, and is told


def test_held_transactions_must_be_fundable_together_and_close_to_the_next_nonce() -> None:
    node = replica()
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 600, 1), 0.0).code == QUEUED
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 600, 2), 0.0).code == InsufficientBalance.code
    limit = node.queue.per_sender_limit
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 1, limit), 0.0).code == QUEUED
    far = node.admit(sign_transfer(FUNDED, OTHER.public_key, 1, limit + 1), 0.0)
    assert far.code == NonceGap.code
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 1, 2**64 - 1), 0.0).code == NonceGap.code
    assert len(node.queue) == 2


def test_a_retransmitted_queued_submission_stays_queued_but_another_with_its_nonce_is_refused() -> None:
    node = replica()
    held = sign_transfer(FUNDED, OTHER.public_key, 5, 1)
    assert node.admit(held, 0.0).code == QUEUED
    assert node.admit(held, 0.5).code == QUEUED
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 6, 1), 0.5).code == 13  # DuplicateTransaction
    assert len(node.queue) == 1


def test_queued_submissions_expire_with_a_verdict_for_the_submitter() -> None:
    node = replica(FutureNonceQueue(hold_seconds=30.0))
    held = sign_transfer(FUNDED, OTHER.public_key, 5, 1)
    assert node.admit(held, 100.0).code == QUEUED
    assert node.expire_queued(129.0) == 0
    assert node.expire_queued(130.0) == 1
    _, verdicts = node.take_outbox()
    assert [(verdict.tx_id, verdict.code) for verdict in verdicts] == [(held.tx_id, NonceGap.code)]
    assert "30 s" in verdicts[0].reason
    assert len(node.queue) == 0
    # The nonce 0 that arrives later is accepted; the expired nonce 1 is not applied behind it.
    assert node.admit(sign_transfer(FUNDED, OTHER.public_key, 5, 0), 131.0).code == ACCEPTED
    assert node.state.next_nonce(FUNDED.public_key) == 1
