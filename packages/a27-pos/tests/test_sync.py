"""Block sync as a state machine: whom to ask, the rate limit, out-of-order blocks, bounded memory."""

from __future__ import annotations

import pytest

from a27_pos import Block, BlockSync, Chain, CommitCertificate
from a27_pos.sync import BlockRequestDecision, HeldRequests, Received
from a27_pos.testing import extend, make_validators

KEYS, GENESIS = make_validators(4, seed=41)
SOURCE = Chain.start(GENESIS)
for _ in range(5):
    extend(SOURCE, KEYS)


def finalized(height: int) -> tuple[Block, CommitCertificate]:
    block, certificate = SOURCE.block(height), SOURCE.certificate(height)
    assert block is not None and certificate is not None
    return block, certificate


def test_asks_a_peer_known_to_be_ahead_rotating_among_them() -> None:
    sync: BlockSync[str] = BlockSync(batch=8, retry_interval=0.0)
    assert sync.note_status("a", 5, local_height=2)
    assert not sync.note_status("b", 2, local_height=2)
    assert sync.note_status("c", 9, local_height=2)
    assert sync.request(0.0, 3, ["a", "b", "c"]) == BlockRequestDecision("a", 3, 8)
    assert sync.request(0.0, 3, ["a", "b", "c"]) == BlockRequestDecision("c", 3, 8)
    assert sync.request(0.0, 6, ["a", "b", "c"]) == BlockRequestDecision("c", 6, 8)
    assert sync.requests == 3


def test_falls_back_to_the_validators_and_asks_nobody_without_them() -> None:
    sync: BlockSync[str] = BlockSync(retry_interval=0.0)
    assert sync.request(0.0, 1, ["light"]) is None
    assert sync.request(0.0, 1, ["light"], fallback=["v1", "v2"]) == BlockRequestDecision("v1", 1, 16)
    assert sync.request(0.0, 1, [], peer="chosen") == BlockRequestDecision("chosen", 1, 16)


def test_one_request_per_retry_interval() -> None:
    sync: BlockSync[str] = BlockSync(retry_interval=1.0)
    assert sync.request(10.0, 1, [], peer="a") is not None
    assert sync.request(10.9, 1, [], peer="a") is None
    assert sync.request(11.0, 1, [], peer="a") is not None


def test_a_finality_notice_only_raises_a_peers_height() -> None:
    sync: BlockSync[str] = BlockSync()
    sync.note_status("a", 7, local_height=0)
    assert not sync.note_at_least("a", 3, local_height=4)
    assert sync.note_at_least("a", 5, local_height=4)
    assert sync.peer_height("a") == 7
    sync.note_status("a", 2, local_height=0)
    assert sync.peer_height("a") == 2


def test_blocks_arriving_out_of_order_come_out_in_height_order() -> None:
    sync: BlockSync[str] = BlockSync(batch=2)
    assert sync.receive(*finalized(3), local_height=1) is Received.BUFFERED
    assert sync.receive(*finalized(4), local_height=1) is Received.BUFFERED
    assert sync.receive(*finalized(5), local_height=1) is Received.BUFFERED
    assert sync.receive(*finalized(1), local_height=1) is Received.HELD
    assert sync.receive(*finalized(2), local_height=1) is Received.NEXT
    assert sync.pop_next(2) == finalized(3)
    assert sync.pop_next(3) == finalized(4)
    assert sync.buffered == 1
    sync.prune(5)
    assert sync.buffered == 0 and sync.pop_next(4) is None


def test_blocks_beyond_the_buffer_are_dropped() -> None:
    sync: BlockSync[str] = BlockSync(batch=1)
    assert sync.receive(*finalized(4), local_height=1) is Received.TOO_FAR
    assert sync.buffered == 0


def test_serves_at_most_a_batch_of_held_blocks() -> None:
    sync: BlockSync[str] = BlockSync(batch=3)
    assert sync.serve_range(2, 10, local_height=5) == range(2, 5)
    assert sync.serve_range(4, 10, local_height=5) == range(4, 6)
    assert sync.serve_range(7, 10, local_height=5) == range(7, 6)
    assert sync.serve_range(1, 2**32 - 1, local_height=100) == range(1, 4)


def test_announcements_from_ten_thousand_keys_keep_memory_bounded() -> None:
    sync: BlockSync[int] = BlockSync(max_tracked_peers=100, retry_interval=0.0)
    for key in range(10_000):
        sync.note_status(key, 2**64 - 1, local_height=0)
    assert sync.peer_height(0) == 0 and sync.peer_height(9_999) == 2**64 - 1
    assert sync.tracked_peers == 100


def test_refuses_a_batch_or_memory_of_zero() -> None:
    with pytest.raises(ValueError):
        BlockSync(batch=0)


# A light node's long-poll (BlockSync.follow) ------------------------------------------------------------------------

VALIDATORS = ["v0", "v1", "v2"]


def test_a_light_node_polls_one_validator_for_the_next_block_starting_at_its_offset() -> None:
    sync: BlockSync[str] = BlockSync(batch=8, follow_timeout=3.0, follow_offset=4)
    assert sync.follow(0.0, 0, []) is None
    assert sync.poll_due(0.0, 5)
    assert sync.follow(0.0, 5, VALIDATORS) == BlockRequestDecision("v1", 6, 8)
    assert sync.outstanding_poll == BlockRequestDecision("v1", 6, 8)
    # Outstanding and unanswered: nothing more until the timeout, however often it is asked.
    for now in (0.5, 1.0, 2.9):
        assert not sync.poll_due(now, 5)
        assert sync.follow(now, 5, VALIDATORS) is None
    assert sync.requests == 1
    # Timed out while no validator is known: nothing is sent, and the rotation waits for one.
    for now in (3.0, 4.0):
        assert sync.follow(now, 5, []) is None
    assert sync.unanswered_polls == 0
    assert sync.follow(5.0, 5, VALIDATORS) == BlockRequestDecision("v2", 6, 8)
    assert sync.unanswered_polls == 1


def test_a_partly_answered_batch_waits_for_the_settle_time_then_polls_one_block_at_a_time() -> None:
    sync: BlockSync[str] = BlockSync(batch=8, settle=0.1)
    assert sync.follow(0.0, 5, VALIDATORS) == BlockRequestDecision("v0", 6, 8)
    assert not sync.at_tip
    # Blocks 6 and 7 came; more of the batch may still be on the way.
    assert sync.follow(1.0, 6, VALIDATORS) is None
    assert sync.follow(1.01, 7, VALIDATORS) is None
    assert sync.follow(1.1, 7, VALIDATORS) is None
    assert sync.follow(1.11, 7, VALIDATORS) == BlockRequestDecision("v0", 8, 1)
    assert sync.at_tip
    # At the tip each held request brings one block, and the next one leaves at once.
    assert sync.follow(2.0, 7, VALIDATORS) is None
    assert sync.follow(2.5, 8, VALIDATORS) == BlockRequestDecision("v0", 9, 1)
    assert sync.follow(2.5, 9, VALIDATORS) == BlockRequestDecision("v0", 10, 1)
    assert sync.unanswered_polls == 0


def test_a_fully_answered_batch_is_followed_by_the_next_batch_at_once() -> None:
    sync: BlockSync[str] = BlockSync(batch=4, settle=0.1)
    assert sync.follow(0.0, 0, VALIDATORS) == BlockRequestDecision("v0", 1, 4)
    for height in (1, 2, 3):
        assert sync.follow(0.5, height, VALIDATORS) is None
    assert sync.follow(0.5, 4, VALIDATORS) == BlockRequestDecision("v0", 5, 4)
    assert not sync.at_tip


def test_a_node_at_the_tip_whose_poll_goes_unanswered_catches_up_by_batch_from_the_next_validator() -> None:
    sync: BlockSync[str] = BlockSync(batch=4, settle=0.1, follow_timeout=3.0)
    assert sync.follow(0.0, 0, VALIDATORS) == BlockRequestDecision("v0", 1, 4)
    sync.follow(0.5, 1, VALIDATORS)
    assert sync.follow(0.6 - 1e-9, 1, VALIDATORS) == BlockRequestDecision("v0", 2, 1)  # a timer fired a hair early
    assert sync.follow(3.7, 1, VALIDATORS) == BlockRequestDecision("v1", 2, 4)
    assert not sync.at_tip and sync.unanswered_polls == 1


def test_an_unanswered_poll_goes_to_the_next_validator_after_the_timeout() -> None:
    sync: BlockSync[str] = BlockSync(follow_timeout=3.0)
    assert sync.follow(0.0, 2, VALIDATORS) == BlockRequestDecision("v0", 3, 16)
    assert sync.follow(3.0, 2, VALIDATORS) == BlockRequestDecision("v1", 3, 16)
    assert sync.follow(6.0, 2, VALIDATORS) == BlockRequestDecision("v2", 3, 16)
    assert sync.follow(9.0, 2, VALIDATORS) == BlockRequestDecision("v0", 3, 16)
    assert sync.unanswered_polls == 3
    # A validator set that shrank: the rotation stays within it.
    assert sync.follow(12.0, 2, ["v9"]) == BlockRequestDecision("v9", 3, 16)


def test_refuses_a_follow_timeout_of_zero_or_a_negative_settle_time() -> None:
    with pytest.raises(ValueError):
        BlockSync(follow_timeout=0.0)
    with pytest.raises(ValueError):
        BlockSync(settle=-1.0)


# Held requests (the server's side of the long-poll) -----------------------------------------------------------------


def test_a_request_for_the_next_heights_is_held_and_answered_when_they_are_final() -> None:
    held: HeldRequests[str] = HeldRequests(batch=4)
    assert held.hold("a", 6, 4, now=0.0, local_height=5)
    assert held.hold("b", 7, 4, now=0.1, local_height=5)
    assert held.release(5, now=0.2) == []
    assert held.release(6, now=1.0) == [("a", range(6, 7))]
    assert len(held) == 1
    assert held.release(8, now=1.5) == [("b", range(7, 9))]
    assert len(held) == 0 and held.release(9, now=2.0) == []


def test_released_requests_come_out_in_arrival_order_capped_at_a_batch() -> None:
    held: HeldRequests[str] = HeldRequests(batch=2)
    assert held.hold("late", 3, 2**16 - 1, now=1.0, local_height=1)
    assert held.hold("early", 2, 1, now=2.0, local_height=1)
    assert held.hold("late", 2, 2**16 - 1, now=3.0, local_height=1)
    assert held.release(10, now=3.5) == [("early", range(2, 3)), ("late", range(2, 4))]


def test_only_requests_within_a_batch_past_the_chain_are_held() -> None:
    held: HeldRequests[str] = HeldRequests(batch=4)
    assert not held.hold("a", 5, 4, now=0.0, local_height=5)  # held here already: serve it
    assert not held.hold("a", 10, 4, now=0.0, local_height=5)
    assert not held.hold("a", 2**64 - 1, 2**16 - 1, now=0.0, local_height=5)
    assert not held.hold("a", 6, 0, now=0.0, local_height=5)
    assert held.hold("a", 9, 4, now=0.0, local_height=5)
    assert len(held) == 1


def test_one_request_per_requester_the_newest_replaces_it() -> None:
    held: HeldRequests[str] = HeldRequests()
    for attempt in range(10_000):
        assert held.hold("a", 6 + attempt % 2, 16, now=float(attempt), local_height=5)
    assert len(held) == 1
    assert held.release(7, now=10_000.0) == [("a", range(7, 8))]


def test_held_requests_expire_unanswered_after_the_hold_time() -> None:
    held: HeldRequests[str] = HeldRequests(hold_time=30.0)
    assert held.hold("a", 6, 16, now=0.0, local_height=5)
    assert held.hold("b", 6, 16, now=10.0, local_height=5)
    held.expire(29.9)
    assert len(held) == 2
    assert held.release(6, now=30.0) == [("b", range(6, 7))]
    assert held.expired == 1
    assert held.hold("c", 7, 16, now=31.0, local_height=6)
    held.expire(61.0)
    assert len(held) == 0 and held.expired == 2


def test_requests_from_ten_thousand_keys_keep_memory_bounded() -> None:
    held: HeldRequests[int] = HeldRequests(max_held=100)
    for key in range(10_000):
        assert held.hold(key, 6, 2**16 - 1, now=0.0, local_height=5)
    assert len(held) == 100 and held.evicted == 9_900
    released = held.release(2**64 - 1, now=1.0)
    assert [requester for requester, _ in released] == list(range(9_900, 10_000))
    assert all(heights == range(6, 22) for _, heights in released)


def test_refuses_holding_nothing() -> None:
    for arguments in ({"batch": 0}, {"max_held": 0}, {"hold_time": 0.0}):
        with pytest.raises(ValueError):
            HeldRequests(**arguments)  # type: ignore[arg-type]
