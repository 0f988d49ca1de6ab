"""Block sync as a state machine: whom to ask, the rate limit, out-of-order blocks, bounded memory."""

from __future__ import annotations

import pytest

from a27_pos import Block, BlockSync, Chain, CommitCertificate
from a27_pos.sync import BlockRequestDecision, Received
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
