"""The bookkeeping of one channel node: its channels, invoices, preimages, forwards and payments, in one object.

`ChannelBook` is the state every part of the node (opening, updates, payments, forwarding, closing, announcements,
the chain watch) reads and changes; nothing else holds node state. Its helpers are the lookups and the writes to the
store that those parts share.
"""

from __future__ import annotations

import random
from collections import Counter, deque

import attrs

from a27_channels.channel import Channel
from a27_channels.errors import UnknownChannel, WrongChannelStatus
from a27_channels.gossip import ChannelAnnouncement
from a27_channels.graph import ChannelGraph
from a27_channels.params import NodeParams
from a27_channels.payment import FailureReport
from a27_channels.router import Route, RouteParams
from a27_channels.state import ChannelState, ChannelTerms, Operation, payment_hash_of
from a27_channels.store import ChannelStore, Invoice, LocalStatus, StoredChannel
from a27_ledger import KeyPair
from a27_pos.staking import StateReader


@attrs.frozen
class ForPayment:
    """A queued operation carries this node's payment with `payment_hash`."""

    payment_hash: bytes


@attrs.frozen
class ForForward:
    """A queued operation forwards the HTLC `htlc_id` offered to this node on `channel_id`."""

    channel_id: bytes
    htlc_id: int


@attrs.frozen
class ForDirect:
    """A queued operation is a direct payment of `amount`."""

    amount: int


Origin = ForPayment | ForForward | ForDirect
"""Why an operation was queued: whom to tell when it completes or fails."""


@attrs.frozen
class QueuedOperation:
    """An operation waiting for its turn on a channel (one update at a time), or in flight."""

    operation: Operation
    route_data: bytes = b""
    origin: Origin | None = None
    stale_refusals: int = 0


class ChannelEntry:
    """One channel of this node: the state machine plus the queue and timers around it."""

    def __init__(self, terms: ChannelTerms, party: int, status: LocalStatus, channel: Channel | None) -> None:
        """A channel in which this node is `party`; `channel` is None until state 0 is signed by both."""
        self.terms = terms
        self.party = party
        self.peer = terms.parties[1 - party]
        self.status = status
        self.channel = channel
        self.queue: deque[QueuedOperation] = deque()
        self.in_flight: QueuedOperation | None = None
        self.sent_at = 0.0
        self.retransmits = 0
        self.announcement: dict[int, bytes] = {}
        self.announced = False
        self.onchain: set[tuple[object, ...]] = set()
        self.close_state: ChannelState | None = None
        self.close_signatures: dict[int, bytes] = {}
        self.settling: set[int] = set()
        """Incoming HTLC ids with a fulfil or fail queued or in flight."""


class OutgoingPayment:
    """A payment this node sends: its attempts and what they excluded."""

    def __init__(self, payment_hash: bytes, destination: bytes, amount: int, params: RouteParams) -> None:
        """A payment not attempted yet."""
        self.payment_hash = payment_hash
        self.destination = destination
        self.amount = amount
        self.params = params
        self.attempts = 0
        self.failures: list[FailureReport] = []
        self.excluded_channels: set[bytes] = set()
        self.excluded_nodes: set[bytes] = set()
        """Nodes blamed for a timeout or for not answering (with the `avoid_failed_hops` defence)."""
        self.route: Route | None = None
        self.htlc: tuple[bytes, int] | None = None
        """The committed first-hop HTLC of the current attempt (channel id, HTLC id)."""


class ChannelBook:
    """Everything one node knows about its channels and payments; `reader` is its chain's ledger state."""

    def __init__(self, key: KeyPair, reader: StateReader, *, store: ChannelStore, graph: ChannelGraph,
                 params: NodeParams, rng: random.Random | None) -> None:
        """An empty book; `load` fills it from the store."""
        self.key = key
        self.account = key.public_key
        self.reader = reader
        self.store = store
        self.graph = graph
        self.params = params
        self.rng = rng
        self.height = 0
        self.now = 0.0
        self.stats: Counter[str] = Counter()
        """What this node did and saw, by event."""
        self.entries: dict[bytes, ChannelEntry] = {}
        self.invoices: dict[bytes, Invoice] = {}
        self.preimages: dict[bytes, bytes] = {}
        """Preimages learnt from peers and from the chain, by payment hash."""
        self.forwards: dict[tuple[bytes, int], tuple[bytes, int]] = {}
        """Outgoing HTLC (channel id, HTLC id) -> the incoming HTLC it forwards."""
        self.payments: dict[bytes, OutgoingPayment] = {}
        self.pending_announcements: dict[bytes, tuple[ChannelAnnouncement, bytes | None, int]] = {}
        """Announcements waiting for their funding block: the sender and the height at arrival."""
        self.unfunded: dict[bytes, set[bytes]] = {}
        """Per peer, the channels it proposed that this node accepted and that are not funded yet."""
        self.unfunded_count = 0
        self.policy_serial = 0
        self.salt = 0

    def load(self) -> None:
        """Take channels, invoices, preimages and forwards from the store."""
        contents = self.store.load()
        for stored in contents.channels:
            party = stored.terms.party_of(self.account)
            if party is None or stored.status is LocalStatus.FAILED:
                continue
            channel = None
            if stored.latest is not None:
                channel = Channel(stored.terms, self.key, stored.latest, limits=self.params.limits,
                                  highest_signed=stored.highest_signed, incoming=stored.incoming)
            entry = ChannelEntry(stored.terms, party, stored.status, channel)
            self.entries[stored.terms.channel_id] = entry
            self.salt = max(self.salt, stored.terms.salt + 1)
            if party == 1 and entry.status is LocalStatus.FUNDING:
                self.add_unfunded(entry)
        for entry in self.entries.values():
            if entry.status is LocalStatus.OPEN:
                self.add_own_channel(entry)
        self.invoices = {invoice.payment_hash: invoice for invoice in contents.invoices}
        self.preimages = {payment_hash_of(preimage): preimage for preimage in contents.preimages}
        self.forwards = {(out_channel, out_htlc): (in_channel, in_htlc)
                         for out_channel, out_htlc, in_channel, in_htlc in contents.forwards}

    # Lookups ----------------------------------------------------------------------------------------------------

    def preimage(self, payment_hash: bytes) -> bytes | None:
        """The preimage of `payment_hash` if this node knows it (its own invoice, or learnt), else None."""
        learnt = self.preimages.get(payment_hash)
        if learnt is not None:
            return learnt
        invoice = self.invoices.get(payment_hash)
        return None if invoice is None else invoice.preimage

    def peer_entry(self, sender: bytes, channel_id: bytes) -> ChannelEntry:
        """The signed channel `channel_id` with `sender` (UnknownChannel, WrongChannelStatus otherwise)."""
        entry = self.entries.get(channel_id)
        if entry is None or entry.peer != sender:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]} with the sender")
        if entry.channel is None:
            raise WrongChannelStatus("the channel is not signed yet")
        return entry

    def open_entry(self, channel_id: bytes) -> ChannelEntry:
        """The open channel `channel_id` (UnknownChannel, WrongChannelStatus otherwise)."""
        entry = self.entries.get(channel_id)
        if entry is None or entry.channel is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        if entry.status is not LocalStatus.OPEN:
            raise WrongChannelStatus(f"channel {channel_id.hex()[:16]} is {entry.status.name.lower()}")
        return entry

    def payment_of(self, htlc: tuple[bytes, int]) -> OutgoingPayment | None:
        """The payment whose current first-hop HTLC is `htlc` (channel id, HTLC id), if any."""
        for payment in self.payments.values():
            if payment.htlc == htlc:
                return payment
        return None

    # Changes ----------------------------------------------------------------------------------------------------

    def persist(self, entry: ChannelEntry) -> None:
        """Write the channel's status and states to the store."""
        channel = entry.channel
        self.store.put_channel(StoredChannel(
            entry.terms, entry.status, None if channel is None else channel.latest,
            0 if channel is None else channel.highest_signed, None if channel is None else channel.incoming))

    def local_balances(self) -> dict[bytes, int]:
        """What this node can spend now on each of its open channels, by channel id (for route finding)."""
        return {channel_id: entry.channel.spendable() for channel_id, entry in self.entries.items()
                if entry.channel is not None and entry.status is LocalStatus.OPEN}

    def add_own_channel(self, entry: ChannelEntry) -> None:
        """Put one of this node's open channels into the graph with this node's policy."""
        terms = entry.terms
        self.graph.add_channel(terms.channel_id, terms.party_a, terms.party_b, terms.capacity)
        edge = self.graph.edge(terms.channel_id, self.account)
        assert edge is not None
        edge.set_policy(self.params.policy)

    def add_unfunded(self, entry: ChannelEntry) -> None:
        """Count a channel the peer proposed and this node accepted as waiting for its funding."""
        waiting = self.unfunded.setdefault(entry.peer, set())
        if entry.terms.channel_id not in waiting:
            waiting.add(entry.terms.channel_id)
            self.unfunded_count += 1

    def remove_unfunded(self, entry: ChannelEntry) -> None:
        """The channel is funded or forgotten: it no longer waits."""
        waiting = self.unfunded.get(entry.peer)
        if waiting is None or entry.terms.channel_id not in waiting:
            return
        waiting.remove(entry.terms.channel_id)
        self.unfunded_count -= 1
        if not waiting:
            del self.unfunded[entry.peer]

    def forget(self, entry: ChannelEntry) -> None:
        """The channel will never open: drop every trace of it, here and in the store."""
        self.remove_unfunded(entry)
        del self.entries[entry.terms.channel_id]
        self.store.remove_channel(entry.terms.channel_id)

    def drop_forward(self, key: tuple[bytes, int]) -> None:
        """The outgoing HTLC `key` was settled or failed: forget which incoming HTLC it forwarded."""
        if self.forwards.pop(key, None) is not None:
            self.store.remove_forward(*key)
