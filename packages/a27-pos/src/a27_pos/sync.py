"""Following the finalized chain: which blocks to request from whom, and applying what arrives in height order.

A pure state machine (no network, no clock of its own): `PosCommunity` feeds it the heights peers announce and the
blocks they send, and sends the requests it decides; `inmemory.MessageBus` does the same between engines in one process.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

import attrs

from a27_pos.block import Block
from a27_pos.votes import CommitCertificate

PeerId = TypeVar("PeerId", bound=Hashable)


class Received(enum.Enum):
    """What `BlockSync.receive` made of a finalized block."""

    HELD = "held"
    """At or below the local height: nothing to do."""
    NEXT = "next"
    """The next height: apply it now, then the buffered blocks `pop_next` gives."""
    BUFFERED = "buffered"
    """Ahead of the next height and within reach: kept until the blocks before it are applied."""
    TOO_FAR = "too far"
    """Further ahead than the buffer reaches: dropped."""


@attrs.frozen
class BlockRequestDecision(Generic[PeerId]):
    """Ask `peer` for up to `count` finalized blocks from height `start`."""

    peer: PeerId
    start: int
    count: int


class BlockSync(Generic[PeerId]):
    """One node's block sync: peers' announced heights, the request rate limit, and out-of-order blocks.

    `batch` blocks are asked for per request; responses up to `2 * batch` heights ahead of the local chain are
    buffered (bounded: at most that many blocks). At most one request leaves per `retry_interval` seconds. Heights
    are remembered for the `max_tracked_peers` peers heard from last, so announcements from ever new keys cannot grow
    memory without bound.
    """

    def __init__(self, *, batch: int = 16, retry_interval: float = 1.0, max_tracked_peers: int = 10_000,
                 choose: Callable[[Sequence[PeerId]], PeerId] | None = None) -> None:
        """A sync with no peer heights known; `choose` picks among candidates (default: rotate by request count,
        so that a seeded simulation repeats exactly)."""
        if batch < 1 or max_tracked_peers < 1:
            raise ValueError("batch and max_tracked_peers must be positive")
        self.batch = batch
        self.retry_interval = retry_interval
        self.max_tracked_peers = max_tracked_peers
        self.requests = 0
        """Requests decided so far."""
        self._choose = choose
        self._peer_heights: OrderedDict[PeerId, int] = OrderedDict()
        self._last_request = -1e9
        self._buffer: dict[int, tuple[Block, CommitCertificate]] = {}

    # Peers' heights ---------------------------------------------------------------------------------------------

    def peer_height(self, peer: PeerId) -> int:
        """The finalized height `peer` last announced (0 if unknown)."""
        return self._peer_heights.get(peer, 0)

    @property
    def tracked_peers(self) -> int:
        """Peers whose height is remembered (at most `max_tracked_peers`)."""
        return len(self._peer_heights)

    def note_status(self, peer: PeerId, height: int, local_height: int) -> bool:
        """`peer` announced its finalized `height` (a Status); whether it is ahead of `local_height`."""
        self._remember(peer, height)
        return height > local_height

    def note_at_least(self, peer: PeerId, height: int, local_height: int) -> bool:
        """`peer` showed it holds `height` (a finality notice); whether that is ahead of `local_height`."""
        if height <= local_height:
            return False
        self._remember(peer, max(height, self.peer_height(peer)))
        return True

    def _remember(self, peer: PeerId, height: int) -> None:
        self._peer_heights[peer] = height
        self._peer_heights.move_to_end(peer)
        while len(self._peer_heights) > self.max_tracked_peers:
            self._peer_heights.popitem(last=False)

    # Requests ---------------------------------------------------------------------------------------------------

    def request(self, now: float, start: int, peers: Sequence[PeerId], fallback: Sequence[PeerId] = (),
                peer: PeerId | None = None) -> BlockRequestDecision[PeerId] | None:
        """Whom to ask for blocks from `start`, or None (asked too recently, or nobody to ask).

        Without `peer`, one of `peers` known to hold `start` is chosen; if none is known, one of `fallback` (the
        validators, who are likely ahead)."""
        if now - self._last_request < self.retry_interval:
            return None
        if peer is None:
            candidates = [candidate for candidate in peers if self.peer_height(candidate) >= start] or list(fallback)
            if not candidates:
                return None
            peer = self._choose(candidates) if self._choose is not None else candidates[self.requests % len(candidates)]
        self._last_request = now
        self.requests += 1
        return BlockRequestDecision(peer, start, self.batch)

    def serve_range(self, start: int, count: int, local_height: int) -> range:
        """The heights to send a peer that asks for `count` blocks from `start`: at most `batch`, all held here."""
        return range(max(start, 1), min(start + min(count, self.batch), local_height + 1))

    # Responses --------------------------------------------------------------------------------------------------

    def receive(self, block: Block, certificate: CommitCertificate, local_height: int) -> Received:
        """Sort a finalized block that arrived (its certificate is checked when it is applied, not here)."""
        if block.height <= local_height:
            return Received.HELD
        if block.height == local_height + 1:
            return Received.NEXT
        if block.height <= local_height + 2 * self.batch:
            self._buffer[block.height] = (block, certificate)
            return Received.BUFFERED
        return Received.TOO_FAR

    def pop_next(self, local_height: int) -> tuple[Block, CommitCertificate] | None:
        """The buffered block of the height after `local_height`, if any (removed from the buffer)."""
        return self._buffer.pop(local_height + 1, None)

    def prune(self, local_height: int) -> None:
        """Forget buffered blocks at or below `local_height` (applied, or finalized by consensus meanwhile)."""
        for height in [height for height in self._buffer if height <= local_height]:
            del self._buffer[height]

    @property
    def buffered(self) -> int:
        """Blocks waiting in the buffer."""
        return len(self._buffer)
