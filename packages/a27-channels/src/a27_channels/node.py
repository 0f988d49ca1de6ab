"""A channel node, sans-IO: all of one node's channels, its routed payments, its gossip and its chain watching.

Inputs are explicit: messages from peers (`on_message`), finalized blocks (`on_block`, whose height is the clock of
every HTLC rule), the passing of time in seconds (`on_tick`, for retransmissions) and local requests (open, pay,
close). Every input returns a list of actions (`actions.py`): messages to send, transactions to submit, events for
the application. `ChannelCommunity` performs them over IPv8 and the PoS community; `inprocess.ChannelNetwork`
performs them in memory.

`ChannelNode` is the front of the parts that do the work, which share one `ChannelBook` (`book.py`): `Opening`
(`opening.py`), `UpdateQueue` (`updates.py`), `Payments` (`payments.py`), `Forwarding` (`forwarding.py`),
`Closing` (`closing.py`), `Announcements` (`announcements.py`), `ChainWatch` (`chain_watch.py`) and
`Retransmission` (`retransmission.py`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from a27_channels.actions import Action, ChannelOpenFailed
from a27_channels.announcements import Announcements
from a27_channels.book import ChannelBook
from a27_channels.chain_watch import ChainWatch
from a27_channels.channel import Channel
from a27_channels.closing import Closing
from a27_channels.errors import MalformedChannelData, UnknownChannel, channel_error_for_code
from a27_channels.forwarding import Forwarding
from a27_channels.gossip import ChannelAnnouncement
from a27_channels.graph import ChannelGraph
from a27_channels.messages import (
    AnnouncementSignature,
    Appointment,
    ChannelMessage,
    ChannelReject,
    CloseAccept,
    CloseProposal,
    OpenAccept,
    OpenProposal,
    UpdateCancel,
    UpdateComplete,
    UpdateProposal,
    UpdateSignature,
)
from a27_channels.onchain import Challenge
from a27_channels.opening import Opening
from a27_channels.params import NodeParams
from a27_channels.payments import Payments
from a27_channels.retransmission import Retransmission
from a27_channels.router import Route, RouteParams, find_route
from a27_channels.store import ChannelStore, Invoice, LocalStatus, MemoryChannelStore
from a27_channels.updates import UpdateQueue
from a27_ledger import KeyPair, Transaction
from a27_pos.staking import StateReader


class ChannelNode:
    """All channels and payments of the node with `key`; `reader` is its chain's ledger state (a27-pos)."""

    def __init__(self, key: KeyPair, reader: StateReader, *, store: ChannelStore | None = None,
                 graph: ChannelGraph | None = None, params: NodeParams | None = None,
                 rng: random.Random | None = None) -> None:
        """Create the node; channels, invoices, preimages and forwards come back from `store`."""
        self.book = ChannelBook(key, reader, store=MemoryChannelStore() if store is None else store,
                                graph=ChannelGraph() if graph is None else graph,
                                params=NodeParams() if params is None else params, rng=rng)
        """The node's state, shared by its parts."""
        book = self.book
        self.opening = Opening(book)
        self.updates = UpdateQueue(book)
        self.payments = Payments(book, self.updates)
        self.forwarding = Forwarding(book, self.updates, self.payments)
        self.updates.connect(self.payments, self.forwarding)
        self.closing = Closing(book, self.updates)
        self.announcements = Announcements(book)
        self.chain_watch = ChainWatch(book, self.updates, self.closing, self.forwarding, self.announcements)
        self.retransmission = Retransmission(book, self.opening, self.updates, self.closing)
        book.load()

    # Reading ----------------------------------------------------------------------------------------------------

    @property
    def key(self) -> KeyPair:
        """The node's key pair."""
        return self.book.key

    @property
    def account(self) -> bytes:
        """The node's account (its public key)."""
        return self.book.account

    @property
    def store(self) -> ChannelStore:
        """Where the node keeps its channels, invoices, preimages and forwards."""
        return self.book.store

    @property
    def graph(self) -> ChannelGraph:
        """The channel graph the node routes over."""
        return self.book.graph

    @property
    def params(self) -> NodeParams:
        """The node's local choices."""
        return self.book.params

    @property
    def stats(self) -> Counter[str]:
        """What this node did and saw, by event."""
        return self.book.stats

    @property
    def height(self) -> int:
        """The height of the last finalized block shown to the node."""
        return self.book.height

    @height.setter
    def height(self, height: int) -> None:
        self.book.height = height

    def channel(self, channel_id: bytes) -> Channel:
        """The state machine of one of this node's channels (UnknownChannel if none, or not signed yet)."""
        entry = self.book.entries.get(channel_id)
        if entry is None or entry.channel is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        return entry.channel

    def preimage(self, payment_hash: bytes) -> bytes | None:
        """The preimage of `payment_hash` if this node knows it (its own invoice, or learnt), else None."""
        return self.book.preimage(payment_hash)

    def status(self, channel_id: bytes) -> LocalStatus:
        """The local status of one of this node's channels."""
        entry = self.book.entries.get(channel_id)
        if entry is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        return entry.status

    def find_route(self, destination: bytes, amount: int) -> Route:
        """The route a payment of `amount` to `destination` would take now (the node's graph, its spendable balances
        and route parameters); raises NoRoute when there is none."""
        book = self.book
        return find_route(book.graph, book.account, destination, amount, book.height, params=book.params.route,
                          local_balances=book.local_balances())

    def open_channels(self) -> list[Channel]:
        """This node's open channels, by channel id."""
        return [entry.channel for _, entry in sorted(self.book.entries.items())
                if entry.status is LocalStatus.OPEN and entry.channel is not None]

    # Local requests ---------------------------------------------------------------------------------------------

    def open_channel(self, peer: bytes, deposit: int, peer_deposit: int = 0, *,
                     challenge_period: int | None = None) -> tuple[bytes, list[Action]]:
        """Propose a channel to `peer`: this node deposits `deposit`, the peer `peer_deposit`. The channel id and the
        actions; the channel is usable after `ChannelOpened`."""
        return self.opening.open_channel(peer, deposit, peer_deposit, challenge_period=challenge_period)

    def pay(self, channel_id: bytes, amount: int) -> list[Action]:
        """Pay `amount` to the other party of an open channel (queued behind updates in flight)."""
        return self.payments.pay(channel_id, amount)

    def create_invoice(self, amount: int) -> Invoice:
        """A fresh invoice for `amount`: give its payee, hash and amount to the payer."""
        return self.payments.create_invoice(amount)

    def send_payment(self, destination: bytes, amount: int, payment_hash: bytes, *,
                     params: RouteParams | None = None) -> list[Action]:
        """Pay `amount` to `destination` for `payment_hash` over a route; ends in PaymentSucceeded or PaymentFailed."""
        return self.payments.send_payment(destination, amount, payment_hash, params=params)

    def close_channel(self, channel_id: bytes) -> list[Action]:
        """Propose a cooperative close on the latest balances (no HTLCs and no update may be pending)."""
        return self.closing.close_channel(channel_id)

    def force_close(self, channel_id: bytes) -> list[Action]:
        """Publish the latest complete state on chain; the challenge period starts."""
        return self.closing.force_close(channel_id)

    def watchtower_appointments(self, next_nonce: int, fee: int, *, nonces: int | None = None) -> list[Transaction]:
        """Appointments for a watchtower (`Watchtower.watch`): per open channel, a `Challenge` of its latest complete
        state, signed by this node, for each nonce from `next_nonce` on (`nonces` of them; default one per open
        channel, at most 8, since each challenge sent uses one). Empty if the `watchtower` defence is off."""
        book = self.book
        if not book.params.defences.watchtower:
            return []
        channels = self.open_channels()
        count = min(len(channels), 8) if nonces is None else nonces
        return [Transaction(book.account, next_nonce + offset, fee, Challenge(channel.latest)).signed(book.key)
                for channel in channels for offset in range(count)]

    # Inputs -----------------------------------------------------------------------------------------------------

    def on_message(self, sender: bytes, message: ChannelMessage) -> list[Action]:
        """Handle a message from the peer with account `sender`.

        Raises a LedgerError (a ChannelError, or a ledger error such as InvalidAmount) for input that is dropped
        (nothing changes), or InputRefused whose actions (a ChannelReject) must still be performed.
        """
        if isinstance(message, UpdateProposal):
            return self.updates.on_update_proposal(sender, message)
        if isinstance(message, UpdateSignature):
            return self.updates.on_update_signature(sender, message)
        if isinstance(message, UpdateComplete):
            return self.updates.on_update_complete(sender, message)
        if isinstance(message, UpdateCancel):
            return self.updates.on_update_cancel(sender, message)
        if isinstance(message, ChannelReject):
            return self._on_reject(sender, message)
        if isinstance(message, OpenProposal):
            return self.opening.on_open_proposal(sender, message)
        if isinstance(message, OpenAccept):
            return self.opening.on_open_accept(sender, message)
        if isinstance(message, CloseProposal):
            return self.closing.on_close_proposal(sender, message)
        if isinstance(message, CloseAccept):
            return self.closing.on_close_accept(sender, message)
        if isinstance(message, AnnouncementSignature):
            return self.announcements.on_announcement_signature(sender, message)
        if isinstance(message, ChannelAnnouncement):
            return self.announcements.on_announcement(sender, message)
        if isinstance(message, Appointment):
            raise MalformedChannelData("an appointment is for a watchtower (ChannelCommunity.keep_appointments), "
                                       "not for the channel node")
        return self.announcements.on_channel_update(sender, message)

    def _on_reject(self, sender: bytes, message: ChannelReject) -> list[Action]:
        """The peer refused this node's open proposal, close proposal or update."""
        book = self.book
        entry = book.entries.get(message.channel_id)
        if entry is None or entry.peer != sender:
            raise UnknownChannel("a rejection about no channel with the sender")
        error = channel_error_for_code(message.code)(message.reason)
        if entry.status is LocalStatus.PROPOSED:
            book.forget(entry)
            return [ChannelOpenFailed(message.channel_id, f"refused: {message.reason}")]
        if entry.close_state is not None and message.sequence == 0 and entry.status is LocalStatus.CLOSING \
                and 1 - entry.party not in entry.close_signatures:
            return self.closing.close_refused(entry)
        return self.updates.on_update_rejected(entry, message, error)

    def on_block(self, height: int, transactions: Iterable[Transaction] = ()) -> list[Action]:
        """A block at `height` was finalized (its effects are in `reader`): react to what concerns this node."""
        return self.chain_watch.on_block(height, transactions)

    def on_tick(self, now: float) -> list[Action]:
        """Retransmit what is unanswered; give up proposals unanswered after `max_retransmits` (hop offline).

        A signature awaiting its completion is retransmitted for as long as it waits, at growing intervals: only the
        proposer can complete or withdraw the update, and until it does the channel is blocked.
        """
        return self.retransmission.on_tick(now)
