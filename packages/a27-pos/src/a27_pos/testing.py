"""Fixtures for tests, for the layers above and for the harness: PoS genesis builders, certificates, chains."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import partial

import attrs

from a27_ledger import KeyPair, LedgerError, Transaction
from a27_ledger.testing import make_keys
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
from a27_pos.errors import PosError
from a27_pos.params import PosGenesis, PosParams
from a27_pos.votes import NIL, PRECOMMIT, CommitCertificate, Evidence, Vote


def make_pos_genesis(
    keys: Sequence[KeyPair],
    stakes: Sequence[int] | int = 10_000,
    *,
    balance: int = 1_000_000,
    params: PosParams | None = None,
    chain_id: str = "a27-test",
) -> PosGenesis:
    """A genesis where every key holds `balance` to spend and the first `len(stakes)` keys stake `stakes[i]`.

    An int for `stakes` stakes that much on every key. Accounts are named n0, n1, ...
    """
    amounts = [stakes] * len(keys) if isinstance(stakes, int) else list(stakes)
    if len(amounts) > len(keys):
        raise ValueError("more stakes than keys")
    return PosGenesis.build(
        chain_id,
        {key.public_key: balance for key in keys},
        {key.public_key: stake for key, stake in zip(keys, amounts, strict=False)},
        params,
        {key.public_key: f"n{index}" for index, key in enumerate(keys)},
    )


def make_validators(n: int, stakes: Sequence[int] | int = 10_000, *, seed: int = 0,
                    params: PosParams | None = None) -> tuple[list[KeyPair], PosGenesis]:
    """`n` deterministic keys, all staking, and their genesis."""
    keys = make_keys(n, seed=seed)
    return keys, make_pos_genesis(keys, stakes, params=params)


def certify(block: Block, keys: Iterable[KeyPair], round_number: int | None = None) -> CommitCertificate:
    """A certificate for `block` with precommits signed by `keys` (in the block's round unless given)."""
    round_number = block.header.round if round_number is None else round_number
    votes = [Vote(PRECOMMIT, block.height, round_number, block.block_id, key.public_key).signed(key,
                                                                                             block.header.chain_id)
             for key in keys]
    return CommitCertificate.from_votes(votes)


def extend(chain: Chain, keys: Sequence[KeyPair], transactions: Sequence[Transaction] = (), *,
           evidence: Sequence[Evidence] = (), round_number: int = 0, timestamp: int | None = None) -> Block:
    """Build, certify (by every key in `keys` that validates) and commit the next block; the proposer signs it.

    The proposer is the chain's proposer of `round_number`, looked up among `keys`.
    """
    by_account = {key.public_key: key for key in keys}
    height = chain.height + 1
    proposer = by_account[chain.proposer(height, round_number)]
    block = chain.build_block(proposer, round_number, chain.head.timestamp + 1_000 if timestamp is None else timestamp,
                              transactions, evidence)
    validator_set = chain.validator_set(height)
    chain.commit(block, certify(block, [key for key in keys if key.public_key in validator_set]))
    return block


class LoopClock:
    """A clock for test nodes: `start` seconds at its first reading, then advancing with the running event loop.

    Share one instance among the nodes of a test so that they agree on the time, as Unix time makes real nodes agree,
    while the test depends neither on the wall clock nor on the host's uptime (a real loop's clock). `start` near 0
    and near 10**9 covers a fresh simulation and a Unix-time deployment.
    """

    def __init__(self, start: float = 0.0) -> None:
        """A clock that will read `start` when first read."""
        self.start = start
        self._offset: float | None = None

    def __call__(self) -> float:
        """Seconds: `start` plus the loop time elapsed since the first reading."""
        loop_time = asyncio.get_running_loop().time()
        if self._offset is None:
            self._offset = self.start - loop_time
        return loop_time + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` ahead at once, for a test that needs time to pass without waiting for it."""
        self.start += seconds
        if self._offset is not None:
            self._offset += seconds


# A deterministic in-memory network for engines ---------------------------------------------------------------------


class Behaviour(enum.Enum):
    """How a node on the `MessageBus` behaves; everything but HONEST is Byzantine."""

    HONEST = "honest"
    SILENT = "silent"
    """Sends nothing (a crashed or withholding validator); still receives."""
    EQUIVOCATE = "equivocate"
    """Signs a second, conflicting vote for every vote it casts and sends both, in opposite orders to the two
    halves of its peers, trying to split them."""


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

    Everything is deterministic for a seed. Broadcasts reach every other node after a uniform random delay unless
    lost or partitioned; timeouts fire at their virtual time; a `RequestSync` (and a periodic check of peers' heights,
    as `Status` messages do on a real network) delivers finalized blocks from a reachable peer that has them.
    """

    def __init__(self, engines: Sequence[ConsensusEngine], *, seed: int = 0, min_delay: float = 0.01,
                 max_delay: float = 0.1, loss: float = 0.0, sync_interval: float = 1.0,
                 behaviours: dict[int, Behaviour] | None = None, check_invariants: bool = True) -> None:
        """Connect `engines` (node i is engines[i]); nothing runs until `run`."""
        self.engines = list(engines)
        self.rng = random.Random(f"a27-pos/bus/{seed}")
        self.min_delay, self.max_delay, self.loss = min_delay, max_delay, loss
        self.sync_interval = sync_interval
        self.behaviours = dict(behaviours or {})
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
        self.evidence_found: list[tuple[int, Evidence]] = []
        self.messages_sent = 0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = 0
        self._started = False

    @property
    def honest(self) -> list[int]:
        """Indices of the honest nodes."""
        return [index for index in range(len(self.engines))
                if self.behaviours.get(index, Behaviour.HONEST) is Behaviour.HONEST]

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

    def deliver(self, recipient: int, message: Proposal | Vote | Evidence, delay: float = 0.0) -> None:
        """Hand `message` to node `recipient` after `delay` (crafted input, bypassing loss and partitions)."""
        self.at(self.now + delay, lambda: self._receive(recipient, message))

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

    def _receive(self, index: int, message: Proposal | Vote | Evidence) -> None:
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
        self._handle(index, self.engines[index].on_decided_block(block, certificate, self.now))

    def _broadcast(self, sender: int, message: Proposal | Vote | Evidence) -> None:
        behaviour = self.behaviours.get(sender, Behaviour.HONEST)
        if behaviour is Behaviour.SILENT:
            return
        peers = [peer for peer in range(len(self.engines)) if peer != sender]
        key = self.engines[sender].key
        if behaviour is Behaviour.EQUIVOCATE and isinstance(message, Vote) and key is not None \
                and message.validator == key.public_key:
            conflicting = attrs.evolve(message, block_id=_CONFLICTING_ID if message.is_nil else NIL).signed(
                key, self.engines[sender].chain.chain_id)
            half = len(peers) // 2
            for position, peer in enumerate(peers):
                first, second = (message, conflicting) if position < half else (conflicting, message)
                self._send(sender, peer, first)
                self._send(sender, peer, second)
            return
        for peer in peers:
            self._send(sender, peer, message)

    def _send(self, sender: int, recipient: int, message: Proposal | Vote | Evidence) -> None:
        self.messages_sent += 1
        if not self.reachable(sender, recipient) or self.rng.random() < self.loss:
            return
        self.deliver(recipient, message, self.rng.uniform(self.min_delay, self.max_delay))

    def _sync(self, index: int, height: int) -> None:
        sources = [peer for peer in range(len(self.engines))
                   if peer != index and self.engines[peer].chain.height >= height and self.reachable(peer, index)
                   and self.behaviours.get(peer, Behaviour.HONEST) is not Behaviour.SILENT]
        if not sources:
            return
        source = self.engines[self.rng.choice(sources)].chain
        delay = self.rng.uniform(self.min_delay, self.max_delay) + self.rng.uniform(self.min_delay, self.max_delay)
        for block_height in range(height, min(source.height, height + SYNC_BATCH - 1) + 1):
            block, certificate = source.block(block_height), source.certificate(block_height)
            assert block is not None and certificate is not None
            self.at(self.now + delay, partial(self._synced, index, block, certificate))

    def _serve(self, index: int, action: ServeSync) -> None:
        """Send a lagging validator the finalized blocks from `action.height`, each over the lossy links."""
        source = self.engines[index].chain
        if self.behaviours.get(index, Behaviour.HONEST) is Behaviour.SILENT:
            return
        for recipient, engine in enumerate(self.engines):
            if engine.key is None or engine.key.public_key != action.account or not self.reachable(index, recipient):
                continue
            for block_height in range(action.height, min(source.height, action.height + SYNC_BATCH - 1) + 1):
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


_CONFLICTING_ID = bytes([0xEE]) * 32


def make_engines(keys: Sequence[KeyPair], genesis: PosGenesis, *, timeouts: Timeouts | None = None,
                 observers: int = 0) -> list[ConsensusEngine]:
    """One engine per key over its own in-memory chain of `genesis`, plus `observers` keyless followers."""
    engines = [ConsensusEngine(key, Chain.start(genesis), timeouts=timeouts) for key in keys]
    engines += [ConsensusEngine(None, Chain.start(genesis), timeouts=timeouts) for _ in range(observers)]
    return engines
