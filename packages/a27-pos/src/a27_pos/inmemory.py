"""An in-memory network for consensus engines: seeded latency, loss, partitions and behaviours on a virtual clock.

`MessageBus` runs `ConsensusEngine`s against each other in one process, as `PosCommunity` runs one over IPv8: it
consults each engine's behaviour (the seam of `a27_pos.behaviour`) on every message the engine sends and every
block it serves, and each node follows the chain through its own `BlockSync`, as a community does.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import attrs

from a27_ledger import KeyPair, LedgerError, Transaction
from a27_pos.behaviour import ConsensusMessage, ValidatorBehaviour, is_honest
from a27_pos.block import Block, Proposal
from a27_pos.chain import Chain
from a27_pos.consensus import (
    Action,
    Committed,
    ConsensusEngine,
    EvidenceFound,
    RefusedInput,
    RequestSync,
    ScheduleTimeout,
    SendToValidators,
    ServeSync,
    Timeouts,
)
from a27_pos.defences import PosDefences
from a27_pos.errors import PosError
from a27_pos.evidence import AnyEvidence
from a27_pos.params import PosGenesis
from a27_pos.sync import BlockSync, Received
from a27_pos.votes import CommitCertificate, Vote


@attrs.frozen
class Partition:
    """During [start, end) nodes in different groups cannot reach each other; nodes in no group reach nobody."""

    start: float
    end: float
    groups: tuple[frozenset[int], ...]

    def separates(self, now: float, sender: int, recipient: int) -> bool:
        """Whether the partition blocks `sender` -> `recipient` at `now`."""
        if not self.start <= now < self.end:
            return False
        return not any(sender in group and recipient in group for group in self.groups)


SYNC_BATCH = 16
"""Blocks a sync response carries at most."""


class MessageBus:
    """Runs engines against each other on a virtual clock: seeded latency, loss, partitions, Byzantine nodes.

    Everything is deterministic for a seed. What an engine sends goes where its behaviour says (every other node,
    for an honest one) and arrives after a uniform random delay unless lost or partitioned; timeouts fire at their
    virtual time; a `RequestSync` (and a periodic check of peers' heights, as `Status` messages do on a real network)
    delivers finalized blocks from a reachable peer that has them and whose behaviour serves them. Node i's
    behaviour is `engines[i].behaviour` (see `make_engines`).
    """

    def __init__(self, engines: Sequence[ConsensusEngine], *, seed: int = 0, min_delay: float = 0.01,
                 max_delay: float = 0.1, loss: float = 0.0, sync_interval: float = 1.0,
                 check_invariants: bool = True) -> None:
        """Connect `engines` (node i is engines[i]); nothing runs until `run`."""
        self.engines = list(engines)
        self.rng = random.Random(f"a27-pos/bus/{seed}")
        self.min_delay, self.max_delay, self.loss = min_delay, max_delay, loss
        self.sync_interval = sync_interval
        self.syncs: list[BlockSync[int]] = [BlockSync(batch=SYNC_BATCH, retry_interval=0.0, choose=self.rng.choice)
                                            for _ in self.engines]
        """Each node's block sync (the same state machine a `PosCommunity` follows the chain with)."""
        self.check_invariants = check_invariants
        self.partitions: list[Partition] = []
        self.now = 0.0
        self.commits: list[list[Block]] = [[] for _ in self.engines]
        """Blocks each node finalized, in order."""
        self.committed_at: list[dict[bytes, float]] = [{} for _ in self.engines]
        """When each node applied each transaction (by id)."""
        self.submitted_at: dict[bytes, float] = {}
        self.rejections: Counter[tuple[int, str]] = Counter()
        """Rejected inputs by node and error class name."""
        self.evidence_found: list[tuple[int, AnyEvidence]] = []
        self.messages_sent = 0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = 0
        self._started = False

    @property
    def honest(self) -> list[int]:
        """Indices of the nodes that run the honest behaviour."""
        return [index for index, engine in enumerate(self.engines) if is_honest(engine.behaviour)]

    def partition(self, start: float, end: float, groups: Iterable[Iterable[int]]) -> None:
        """Split the network into `groups` during [start, end)."""
        self.partitions.append(Partition(start, end, tuple(frozenset(group) for group in groups)))

    def reachable(self, sender: int, recipient: int) -> bool:
        """Whether a message from `sender` to `recipient` can leave now."""
        return not any(partition.separates(self.now, sender, recipient) for partition in self.partitions)

    def at(self, time: float, callback: Callable[[], None]) -> None:
        """Run `callback` at virtual `time` (events at equal times run in scheduling order)."""
        heapq.heappush(self._events, (time, self._sequence, callback))
        self._sequence += 1

    def submit(self, transaction: Transaction, nodes: Iterable[int] | None = None) -> None:
        """Put `transaction` into the mempools of `nodes` (default: every node), as transaction gossip would."""
        self.submitted_at.setdefault(transaction.tx_id, self.now)
        for index in range(len(self.engines)) if nodes is None else nodes:
            engine = self.engines[index]
            with contextlib.suppress(LedgerError, PosError):
                engine.mempool.add(transaction, engine.chain.state, now=self.now)

    def deliver(self, recipient: int, message: ConsensusMessage, delay: float = 0.0) -> None:
        """Hand `message` to node `recipient` after `delay` (crafted input, bypassing loss and partitions)."""
        self.at(self.now + delay, lambda: self._receive(recipient, message))

    def deliver_block(self, recipient: int, block: Block, certificate: CommitCertificate, delay: float = 0.0) -> None:
        """Hand node `recipient` a finalized block after `delay`, as a sync response (bypassing loss and partitions)."""
        self.at(self.now + delay, partial(self._synced, recipient, block, certificate))

    def run(self, until: float) -> None:
        """Advance virtual time to `until`, processing every event due before it."""
        if not self._started:
            self._started = True
            for index, engine in enumerate(self.engines):
                self._handle(index, engine.start(self.now))
            self.at(self.sync_interval, self._periodic_sync)
        while self._events and self._events[0][0] <= until:
            time, _, callback = heapq.heappop(self._events)
            self.now = time
            callback()
        self.now = until

    # Safety and progress ---------------------------------------------------------------------------------------

    def finalized_conflicts(self) -> list[tuple[int, set[bytes]]]:
        """Heights at which honest nodes finalized different blocks (empty when safe)."""
        by_height: dict[int, set[bytes]] = {}
        for index in self.honest:
            for block in self.commits[index]:
                by_height.setdefault(block.height, set()).add(block.block_id)
        return [(height, ids) for height, ids in sorted(by_height.items()) if len(ids) > 1]

    def min_height(self, nodes: Iterable[int] | None = None) -> int:
        """The lowest finalized height among `nodes` (default: the honest ones)."""
        return min(self.engines[index].chain.height for index in (self.honest if nodes is None else nodes))

    # Internals --------------------------------------------------------------------------------------------------

    def _receive(self, index: int, message: ConsensusMessage) -> None:
        engine = self.engines[index]
        if isinstance(message, Proposal):
            actions = engine.on_proposal(message, self.now)
        elif isinstance(message, Vote):
            actions = engine.on_vote(message, self.now)
        else:
            actions = engine.on_evidence(message, self.now)
        self._handle(index, actions)

    def _handle(self, index: int, actions: Iterable[Action]) -> None:
        for action in actions:
            if isinstance(action, SendToValidators):
                self._broadcast(index, action.message)
            elif isinstance(action, ScheduleTimeout):
                self.at(self.now + action.delay, partial(self._timeout, index, action))
            elif isinstance(action, Committed):
                self.commits[index].append(action.block)
                for tx in action.block.transactions:
                    self.committed_at[index][tx.tx_id] = self.now
                if self.check_invariants:
                    self.engines[index].chain.check_invariants()
            elif isinstance(action, EvidenceFound):
                self.evidence_found.append((index, action.evidence))
            elif isinstance(action, RefusedInput):
                self.rejections[(index, type(action.error).__name__)] += 1
            elif isinstance(action, RequestSync):
                self._sync(index, action.height)
            elif isinstance(action, ServeSync):
                self._serve(index, action)

    def _timeout(self, index: int, timeout: ScheduleTimeout) -> None:
        self._handle(index, self.engines[index].on_timeout(timeout, self.now))

    def _synced(self, index: int, block: Block, certificate: CommitCertificate) -> None:
        """A finalized block reached node `index`: apply it and the buffered ones after it, in height order."""
        engine, sync = self.engines[index], self.syncs[index]
        if sync.receive(block, certificate, engine.chain.height) is not Received.NEXT:
            return
        following: tuple[Block, CommitCertificate] | None = (block, certificate)
        while following is not None:
            height = engine.chain.height
            self._handle(index, engine.on_decided_block(*following, self.now))
            if engine.chain.height == height:
                break
            following = sync.pop_next(engine.chain.height)
        sync.prune(engine.chain.height)

    def _broadcast(self, sender: int, message: ConsensusMessage) -> None:
        engine = self.engines[sender]
        peers = [peer for peer in range(len(self.engines)) if peer != sender]
        for outgoing, recipients in engine.behaviour.outgoing(engine, message, peers):
            for peer in recipients:
                self._send(sender, peer, outgoing)

    def _send(self, sender: int, recipient: int, message: ConsensusMessage) -> None:
        self.messages_sent += 1
        if not self.reachable(sender, recipient) or self.rng.random() < self.loss:
            return
        self.deliver(recipient, message, self.rng.uniform(self.min_delay, self.max_delay))

    def _sync(self, index: int, height: int) -> None:
        """Node `index` requests blocks from `height` of a reachable peer that has them (its Status heard)."""
        sync = self.syncs[index]
        local_height = self.engines[index].chain.height
        sources = [peer for peer in range(len(self.engines)) if peer != index and self.reachable(peer, index)
                   and self.engines[peer].behaviour.serves_blocks(index, height)]
        for peer in sources:
            sync.note_status(peer, self.engines[peer].chain.height, local_height)
        decision = sync.request(self.now, height, sources)
        if decision is None:
            return
        source = self.engines[decision.peer].chain
        delay = self.rng.uniform(self.min_delay, self.max_delay) + self.rng.uniform(self.min_delay, self.max_delay)
        for block_height in self.syncs[decision.peer].serve_range(decision.start, decision.count, source.height):
            block, certificate = source.block(block_height), source.certificate(block_height)
            assert block is not None and certificate is not None
            self.at(self.now + delay, partial(self._synced, index, block, certificate))

    def _serve(self, index: int, action: ServeSync) -> None:
        """Send a lagging validator the finalized blocks from `action.height`, each over the lossy links."""
        source = self.engines[index].chain
        for recipient, engine in enumerate(self.engines):
            if engine.key is None or engine.key.public_key != action.account or not self.reachable(index, recipient):
                continue
            if not self.engines[index].behaviour.serves_blocks(recipient, action.height):
                continue
            for block_height in self.syncs[index].serve_range(action.height, SYNC_BATCH, source.height):
                self.messages_sent += 1
                if self.rng.random() < self.loss:
                    continue
                block, certificate = source.block(block_height), source.certificate(block_height)
                assert block is not None and certificate is not None
                delay = self.rng.uniform(self.min_delay, self.max_delay)
                self.at(self.now + delay, partial(self._synced, recipient, block, certificate))

    def _periodic_sync(self) -> None:
        for index, engine in enumerate(self.engines):
            if any(other.chain.height > engine.chain.height for other in self.engines):
                self._sync(index, engine.chain.height + 1)
        self.at(self.now + self.sync_interval, self._periodic_sync)


def make_engines(keys: Sequence[KeyPair], genesis: PosGenesis, *, timeouts: Timeouts | None = None,
                 observers: int = 0, behaviours: Mapping[int, ValidatorBehaviour] | None = None,
                 defences: PosDefences | None = None) -> list[ConsensusEngine]:
    """One engine per key over its own in-memory chain of `genesis`, plus `observers` keyless followers.

    `behaviours` gives node i (by index) a behaviour other than the honest default; `defences` are every node's
    (all on by default; `PosDefences.none()` to show what an attack does without them)."""
    chosen = dict(behaviours or {})
    engines = [ConsensusEngine(key, Chain.start(genesis), timeouts=timeouts, behaviour=chosen.get(index),
                               defences=defences)
               for index, key in enumerate(keys)]
    engines += [ConsensusEngine(None, Chain.start(genesis), timeouts=timeouts, behaviour=chosen.get(len(keys) + index),
                                defences=defences)
                for index in range(observers)]
    return engines
