"""Following the finalized chain: which blocks to request from whom, and applying what arrives in height order.

Pure state machines (no network, no clock of their own). `BlockSync` is the follower's side: `PosCommunity` feeds it
the heights peers announce and the blocks they send, and sends the requests it decides, among them a light node's
long-poll for the next block (`BlockSync.follow`); `inmemory.MessageBus` does the same between engines in one
process. `HeldRequests` is the server's side of the long-poll: requests for heights not final yet, answered when
they are.
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
Requester = TypeVar("Requester", bound=Hashable)

TIMER_TOLERANCE = 1e-6
"""Seconds by which a check scheduled for a deadline may run early (event loops compare floats, and a clock read as
an offset from the loop's time rounds): a light node's settle and timeout checks count such a call as on time, or
the next poll would wait for the following periodic check."""


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

    A light node follows the chain with `follow` instead (it hears no Status): one outstanding long-poll at a time to
    one validator, for the blocks after its own. Catching up (on start, and after a poll that brought nothing within
    `follow_timeout` seconds) it asks for `batch` blocks; such a poll is done when all of them were applied, or when
    at least the first was and no further one came for `settle` seconds (the rest of a batch arrives back to back).
    A batch that came only in part reached the validator's head: from then on the node is at the tip and asks for one
    block at a time, held by the validator until it is final, and asks for the next as soon as it is applied, with
    no delay. A poll that brings nothing within `follow_timeout` seconds goes to the next validator (and back to
    catching up), starting from the `follow_offset`-th (so that light nodes spread over the validators).
    """

    def __init__(self, *, batch: int = 16, retry_interval: float = 1.0, max_tracked_peers: int = 10_000,
                 choose: Callable[[Sequence[PeerId]], PeerId] | None = None, follow_timeout: float = 3.0,
                 settle: float = 0.1, follow_offset: int = 0) -> None:
        """A sync with no peer heights known; `choose` picks among candidates (default: rotate by request count,
        so that a seeded simulation repeats exactly)."""
        if batch < 1 or max_tracked_peers < 1:
            raise ValueError("batch and max_tracked_peers must be positive")
        if follow_timeout <= 0 or settle < 0:
            raise ValueError("follow_timeout must be positive and settle not negative")
        self.batch = batch
        self.retry_interval = retry_interval
        self.max_tracked_peers = max_tracked_peers
        self.follow_timeout = follow_timeout
        self.settle = settle
        self.requests = 0
        """Requests decided so far (long-polls included)."""
        self.unanswered_polls = 0
        """Long-polls that brought no block within `follow_timeout` (each moved to the next validator)."""
        self._choose = choose
        self._peer_heights: OrderedDict[PeerId, int] = OrderedDict()
        self._last_request = -1e9
        self._buffer: dict[int, tuple[Block, CommitCertificate]] = {}
        self._poll: BlockRequestDecision[PeerId] | None = None
        self._poll_sent = 0.0
        self._poll_index = follow_offset
        self._seen_height = -1
        self._progress_at = 0.0
        self._catching_up = True

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

    def poll_due(self, now: float, local_height: int) -> bool:
        """Whether a light node at `local_height` should send its next long-poll now (see `follow`)."""
        if local_height != self._seen_height:
            self._seen_height = local_height
            self._progress_at = now
        poll = self._poll
        if poll is None or local_height >= poll.start + poll.count - 1:
            return True
        if local_height >= poll.start:
            return now - self._progress_at >= self.settle - TIMER_TOLERANCE
        return now - self._poll_sent >= self.follow_timeout - TIMER_TOLERANCE

    def follow(self, now: float, local_height: int,
               validators: Sequence[PeerId]) -> BlockRequestDecision[PeerId] | None:
        """A light node's next long-poll (ask one of `validators` for the blocks after `local_height`), or None.

        Call it whenever a block was applied (at once, and again `settle` seconds later) and periodically (for the
        timeout); `poll_due` tells beforehand whether it would decide anything. None while the outstanding poll may
        still bring blocks, or when no validator is known."""
        if not validators or not self.poll_due(now, local_height):
            return None
        poll = self._poll
        if poll is not None and local_height < poll.start:
            self.unanswered_polls += 1
            self._poll_index += 1
            self._catching_up = True
        elif poll is not None and local_height < poll.start + poll.count - 1:
            self._catching_up = False  # a batch that came in part: the validator's head is reached
        count = self.batch if self._catching_up else 1
        decision = BlockRequestDecision(validators[self._poll_index % len(validators)], local_height + 1, count)
        self._poll = decision
        self._poll_sent = now
        self.requests += 1
        return decision

    @property
    def outstanding_poll(self) -> BlockRequestDecision[PeerId] | None:
        """The last long-poll `follow` decided (None before the first)."""
        return self._poll

    @property
    def at_tip(self) -> bool:
        """Whether the light node polls one block at a time (it reached a validator's head), not a batch."""
        return not self._catching_up

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


@attrs.frozen
class HeldRequest(Generic[Requester]):
    """A block request for heights not final yet, held since `since` (seconds)."""

    requester: Requester
    start: int
    count: int
    since: float


class HeldRequests(Generic[Requester]):
    """A node's held long-polls: block requests answered as soon as the heights they ask for are final.

    At most one per requester (a new one replaces it), at most `max_held` in all (the oldest is dropped for a new
    one), each for at most `hold_time` seconds; only requests starting within `batch` heights past the local chain are
    held. So requests from ever new keys, for the largest heights, or repeated, cost bounded memory, and releasing a
    block costs only the requests it answers plus at most `batch` height lookups.
    """

    def __init__(self, *, batch: int = 16, hold_time: float = 30.0, max_held: int = 10_000) -> None:
        """Nothing held yet."""
        if batch < 1 or max_held < 1 or hold_time <= 0:
            raise ValueError("batch, max_held and hold_time must be positive")
        self.batch = batch
        self.hold_time = hold_time
        self.max_held = max_held
        self.expired = 0
        """Requests dropped unanswered after `hold_time`."""
        self.evicted = 0
        """Requests dropped unanswered to make room for newer ones."""
        self._held: OrderedDict[Requester, HeldRequest[Requester]] = OrderedDict()
        self._by_start: dict[int, dict[Requester, None]] = {}

    def __len__(self) -> int:
        """Requests held now."""
        return len(self._held)

    def __contains__(self, requester: object) -> bool:
        """Whether a request of `requester` is held."""
        return requester in self._held

    def hold(self, requester: Requester, start: int, count: int, now: float, local_height: int) -> bool:
        """Hold `requester`'s request for `count` blocks from `start` (above `local_height`); whether it is held.

        Not held: nothing asked (`count` < 1), a height held here already (serve it instead), or one farther than
        `batch` heights ahead."""
        self.expire(now)
        if count < 1 or start <= local_height or start > local_height + self.batch:
            return False
        self._forget(requester)
        self._held[requester] = HeldRequest(requester, start, count, now)
        self._by_start.setdefault(start, {})[requester] = None
        while len(self._held) > self.max_held:
            self._forget(next(iter(self._held)))
            self.evicted += 1
        return True

    def release(self, local_height: int, now: float) -> list[tuple[Requester, range]]:
        """The held requests that `local_height` answers, each with the heights to send, in the order they came in;
        they are no longer held."""
        self.expire(now)
        answered: list[HeldRequest[Requester]] = []
        for start in sorted(start for start in self._by_start if start <= local_height):
            answered.extend(self._held[requester] for requester in self._by_start[start])
        answered.sort(key=lambda request: request.since)
        for request in answered:
            self._forget(request.requester)
        return [(request.requester, range(request.start, min(request.start + min(request.count, self.batch),
                                                              local_height + 1)))
                for request in answered]

    def expire(self, now: float) -> None:
        """Drop the requests held longer than `hold_time`."""
        while self._held:
            oldest = next(iter(self._held.values()))
            if now - oldest.since < self.hold_time:
                break
            self._forget(oldest.requester)
            self.expired += 1

    def _forget(self, requester: Requester) -> None:
        request = self._held.pop(requester, None)
        if request is None:
            return
        waiting = self._by_start[request.start]
        del waiting[requester]
        if not waiting:
            del self._by_start[request.start]
