"""Submission decisions without a network: admission answers, gossip, finality notices, nonce recovery."""

from __future__ import annotations

import pytest

from a27_ledger import DuplicateTransaction, InsufficientBalance, sign_transfer
from a27_pos import Chain, Mempool, NonceCounter, SubmissionDesk
from a27_pos.submissions import ADMITTED, FinalityNotice
from a27_pos.testing import extend, make_validators

KEYS, GENESIS = make_validators(4, seed=43)


def desk(max_tracked: int = 10_000) -> tuple[SubmissionDesk[str], Chain]:
    return SubmissionDesk(Mempool(), max_tracked=max_tracked), Chain.start(GENESIS)


def test_a_new_transaction_is_admitted_gossiped_and_its_submitter_told_when_final() -> None:
    submissions, chain = desk()
    tx = sign_transfer(KEYS[0], KEYS[1].public_key, 5, 0)
    verdict = submissions.submit(tx, "alice", chain.state, now=0.0)
    assert (verdict.code, verdict.gossip, verdict.final, verdict.admitted) == (ADMITTED, True, None, True)
    assert submissions.waiting == 1
    block = extend(chain, KEYS, [tx])
    assert submissions.finalized(block) == [FinalityNotice("alice", tx.tx_id, 1, block.block_id)]
    assert submissions.waiting == 0
    assert submissions.finalized(block) == []


def test_a_retransmission_is_admitted_again_without_gossip() -> None:
    submissions, chain = desk()
    tx = sign_transfer(KEYS[0], KEYS[1].public_key, 5, 0)
    submissions.submit(tx, "alice", chain.state, now=0.0)
    again = submissions.submit(tx, "alice", chain.state, now=1.0)
    assert (again.code, again.gossip) == (ADMITTED, False)


def test_a_retransmission_after_the_block_is_answered_with_its_finality() -> None:
    submissions, chain = desk()
    tx = sign_transfer(KEYS[0], KEYS[1].public_key, 5, 0)
    submissions.submit(tx, "alice", chain.state, now=0.0)
    block = extend(chain, KEYS, [tx])
    submissions.mempool.remove_included(block, chain.state)
    submissions.finalized(block)
    verdict = submissions.submit(tx, "alice", chain.state, now=2.0)
    assert (verdict.code, verdict.gossip, verdict.final) == (ADMITTED, False, (1, block.block_id))


def test_another_transaction_with_a_held_nonce_is_refused() -> None:
    submissions, chain = desk()
    submissions.submit(sign_transfer(KEYS[0], KEYS[1].public_key, 5, 0), "alice", chain.state, now=0.0)
    verdict = submissions.submit(sign_transfer(KEYS[0], KEYS[1].public_key, 6, 0), "alice", chain.state, now=0.0)
    assert (verdict.code, verdict.gossip) == (DuplicateTransaction.code, False)
    assert verdict.reason == "another transaction holds this nonce"
    assert submissions.waiting == 1


def test_an_invalid_transaction_is_refused_with_its_error_and_changes_nothing() -> None:
    submissions, chain = desk()
    verdict = submissions.submit(sign_transfer(KEYS[0], KEYS[1].public_key, 10**9, 0), "alice", chain.state, now=0.0)
    assert verdict.code == InsufficientBalance.code and not verdict.admitted
    assert verdict.reason.startswith(InsufficientBalance.reason)
    assert submissions.waiting == 0 and len(submissions.mempool) == 0


def test_gossip_outcomes() -> None:
    submissions, chain = desk()
    tx = sign_transfer(KEYS[0], KEYS[1].public_key, 5, 0)
    assert submissions.gossiped(tx, chain.state, now=0.0) == "gossip admitted"
    assert submissions.gossiped(tx, chain.state, now=0.0) == "gossip duplicate"
    poor = sign_transfer(KEYS[1], KEYS[0].public_key, 10**9, 0)
    assert submissions.gossiped(poor, chain.state, now=0.0) == f"gossip refused: {InsufficientBalance.reason}"
    assert submissions.waiting == 0


def test_submitters_from_many_keys_are_remembered_within_the_bound() -> None:
    submissions, chain = desk(max_tracked=3)
    for index in range(10):
        submissions.submit(sign_transfer(KEYS[index % 4], KEYS[0].public_key, 1, index // 4), f"peer{index}",
                           chain.state, now=0.0)
    assert submissions.waiting == 3
    with pytest.raises(ValueError):
        SubmissionDesk(Mempool(), max_tracked=0)


def test_the_nonce_counter_runs_ahead_of_the_chain_and_restarts_from_it_after_a_timeout() -> None:
    nonces = NonceCounter()
    assert nonces.next_nonce(chain_next=0) == 0
    nonces.admitted(0)
    nonces.admitted(1)
    assert nonces.next_nonce(chain_next=0) == 2
    nonces.admitted(0)
    assert nonces.next_nonce(chain_next=1) == 2
    nonces.timed_out(chain_next=1)
    assert nonces.next_nonce(chain_next=1) == 1
    assert nonces.next_nonce(chain_next=5) == 5
