"""A channel node, sans-IO: all of one node's channels, its routed payments, its gossip and its chain watching.

Inputs are explicit: messages from peers (`on_message`), finalized blocks (`on_block`, whose height is the clock of
every HTLC rule), the passing of time in seconds (`on_tick`, for retransmissions) and local requests (open, pay,
close). Every input returns a list of actions: messages to send, transactions to submit, events for the
application. `ChannelCommunity` performs them over IPv8 and the PoS community; `testing.ChannelNetwork` performs them
in memory.
"""

from __future__ import annotations

import os
import random
from collections import Counter, deque
from collections.abc import Iterable, Sequence

import attrs

from a27_channels.channel import Channel, signed_by_both
from a27_channels.errors import (
    ChannelBusy,
    ChannelError,
    ChannelRefused,
    InvalidAnnouncement,
    InvalidChannelSignature,
    MalformedChannelData,
    NoRoute,
    NotAChannelParty,
    StaleState,
    UnknownChannel,
    WrongChannelStatus,
    channel_error_for_code,
)
from a27_channels.gossip import ChannelAnnouncement, ChannelPolicy, ChannelUpdate
from a27_channels.graph import DEFAULT_POLICY, ChannelGraph
from a27_channels.messages import (
    AnnouncementSignature,
    ChannelMessage,
    CloseAccept,
    CloseProposal,
    OpenAccept,
    OpenProposal,
    Reject,
    UpdateCancel,
    UpdateComplete,
    UpdateProposal,
    UpdateSignature,
)
from a27_channels.onchain import (
    Challenge,
    ChannelOpen,
    ChannelRecord,
    ChannelStatus,
    CloseOutcome,
    CooperativeClose,
    HtlcClaim,
    HtlcOutcome,
    HtlcRefund,
    Settle,
    UnilateralClose,
    channel_record,
    htlc_outcome,
    preimage_height,
)
from a27_channels.payment import (
    NO_CHANNEL,
    FailureCause,
    FailureReport,
    HopInstruction,
    cause_of,
    decode_instructions,
    encode_instructions,
)
from a27_channels.router import DEFAULT_ROUTE_PARAMS, Route, RouteParams, find_route
from a27_channels.state import (
    CLOSE_DOMAIN,
    DEFAULT_LIMITS,
    AddHtlc,
    ChannelState,
    ChannelTerms,
    FailHtlc,
    FulfillHtlc,
    Htlc,
    HtlcLimits,
    Operation,
    Pay,
    SignedState,
    payment_hash_of,
)
from a27_channels.store import ChannelStore, Invoice, LocalStatus, MemoryChannelStore, StoredChannel
from a27_ledger import InvalidAmount, KeyPair, LedgerError, Transaction, TransactionBody, verify_signature
from a27_pos.staking import StateReader

# Actions -------------------------------------------------------------------------------------------------------------


@attrs.frozen
class Send:
    """Send `message` to the peer whose account is `peer`."""

    peer: bytes
    message: ChannelMessage


@attrs.frozen
class Broadcast:
    """Gossip `message` to every peer but `exclude` (the one it came from)."""

    message: ChannelAnnouncement | ChannelUpdate
    exclude: bytes | None = None


@attrs.frozen
class Submit:
    """Put a transaction with this body from the node's account on chain (the performer picks nonce and fee)."""

    body: TransactionBody


@attrs.frozen
class ChannelOpened:
    """Event: the channel's funding is final; it is usable."""

    channel_id: bytes


@attrs.frozen
class ChannelOpenFailed:
    """Event: the channel will not open (refused, or its funding deadline passed)."""

    channel_id: bytes
    reason: str


@attrs.frozen
class ChannelClosed:
    """Event: everything in the channel was paid out on chain."""

    channel_id: bytes
    outcome: CloseOutcome


@attrs.frozen
class PaymentSucceeded:
    """Event: a payment this node sent was settled; the preimage is the proof."""

    payment_hash: bytes
    preimage: bytes
    route: Route | None
    attempts: int


@attrs.frozen
class PaymentFailed:
    """Event: a payment this node sent failed for good; `failure` is the last cause, `failures` every attempt's."""

    payment_hash: bytes
    failure: FailureReport
    attempts: int
    failures: tuple[FailureReport, ...]


@attrs.frozen
class PaymentReceived:
    """Event: this node was paid `amount` on a channel (routed: with the payment hash; direct: None)."""

    channel_id: bytes
    amount: int
    payment_hash: bytes | None


@attrs.frozen
class DirectPaymentDone:
    """Event: a direct payment this node proposed is complete."""

    channel_id: bytes
    amount: int
    sequence: int


@attrs.frozen
class DirectPaymentFailed:
    """Event: a direct payment this node proposed did not happen."""

    channel_id: bytes
    amount: int
    code: int
    reason: str


Event = (ChannelOpened | ChannelOpenFailed | ChannelClosed | PaymentSucceeded | PaymentFailed | PaymentReceived
         | DirectPaymentDone | DirectPaymentFailed)
Action = Send | Broadcast | Submit | Event
"""What the node asks its performer to do."""


class InputRefused(Exception):
    """Bad input from a peer: `error` says why; `actions` (a Reject) are to be performed all the same."""

    def __init__(self, error: LedgerError, actions: Sequence[Action]) -> None:
        """Wrap the error and the answer."""
        super().__init__(str(error))
        self.error = error
        self.actions = list(actions)


@attrs.frozen
class NodeParams:
    """One node's local choices (DESIGN.md, "Parameters")."""

    policy: ChannelPolicy = DEFAULT_POLICY
    """How this node forwards: fee base, fee ppm, expiry delta."""
    challenge_period: int = 20
    """Of the channels this node opens."""
    funding_window: int = 20
    """Blocks a counterparty's funding consent is valid for."""
    accept_deposit_up_to: int = 0
    """Largest deposit this node puts into a channel another node opens."""
    min_challenge_period: int = 2
    max_challenge_period: int = 2_016
    limits: HtlcLimits = DEFAULT_LIMITS
    route: RouteParams = DEFAULT_ROUTE_PARAMS
    min_final_expiry: int = 6
    """Blocks an HTLC paying one of this node's invoices must still have."""
    claim_margin: int = 4
    """Blocks before an incoming HTLC's expiry at which the node goes on chain to claim it."""
    retransmit_interval: float = 1.0
    max_retransmits: int = 5
    max_attempts: int = 5
    max_pending_announcements: int = 1_000
    announcement_wait: int = 10
    """Blocks an announcement waits for its funding block to reach this node's chain before it is dropped, so that
    announcements of channels that never open cannot keep the buffer full."""
    max_unfunded_per_peer: int = 8
    """Channels one peer proposed to this node that this node accepted and whose funding is not yet on chain; a
    further proposal from that peer is refused until one is funded or its funding deadline passes."""
    max_unfunded: int = 256
    """The same bound over all peers (a block holds at most 256 transactions, so more cannot be funded at once)."""
    gossip: bool = True
    """Whether to announce this node's channels and relay announcements and policies. A simulation that gives every
    node one shared graph (each node adds its own channels to it) can turn gossip off."""


MAX_STALE_REFUSALS = 2
"""How often an operation is proposed again at the next sequence after the peer refused it as stale."""


# Internal bookkeeping -------------------------------------------------------------------------------------------------


@attrs.frozen
class _ForPayment:
    payment_hash: bytes


@attrs.frozen
class _ForForward:
    channel_id: bytes
    htlc_id: int


@attrs.frozen
class _ForDirect:
    amount: int


@attrs.frozen
class _Queued:
    operation: Operation
    route_data: bytes = b""
    origin: _ForPayment | _ForForward | _ForDirect | None = None
    stale_refusals: int = 0


class _Entry:
    """One channel of this node: the state machine plus the queue and timers around it."""

    def __init__(self, terms: ChannelTerms, party: int, status: LocalStatus, channel: Channel | None) -> None:
        self.terms = terms
        self.party = party
        self.peer = terms.parties[1 - party]
        self.status = status
        self.channel = channel
        self.queue: deque[_Queued] = deque()
        self.in_flight: _Queued | None = None
        self.sent_at = 0.0
        self.retransmits = 0
        self.announcement: dict[int, bytes] = {}
        self.announced = False
        self.onchain: set[tuple[object, ...]] = set()
        self.close_state: ChannelState | None = None
        self.close_signatures: dict[int, bytes] = {}
        self.settling: set[int] = set()
        """Incoming HTLC ids with a fulfil or fail queued or in flight."""


class _Payment:
    """A payment this node sends: its attempts and what they excluded."""

    def __init__(self, payment_hash: bytes, destination: bytes, amount: int, params: RouteParams) -> None:
        self.payment_hash = payment_hash
        self.destination = destination
        self.amount = amount
        self.params = params
        self.attempts = 0
        self.failures: list[FailureReport] = []
        self.excluded_channels: set[bytes] = set()
        self.route: Route | None = None
        self.htlc: tuple[bytes, int] | None = None
        """The committed first-hop HTLC of the current attempt (channel id, HTLC id)."""


# The node -----------------------------------------------------------------------------------------------------------


class ChannelNode:
    """All channels and payments of the node with `key`; `reader` is its chain's ledger state (a27-pos)."""

    def __init__(self, key: KeyPair, reader: StateReader, *, store: ChannelStore | None = None,
                 graph: ChannelGraph | None = None, params: NodeParams | None = None,
                 rng: random.Random | None = None) -> None:
        """Create the node; channels, invoices, preimages and forwards come back from `store`."""
        self.key = key
        self.account = key.public_key
        self.reader = reader
        self.store: ChannelStore = MemoryChannelStore() if store is None else store
        self.graph = ChannelGraph() if graph is None else graph
        self.params = NodeParams() if params is None else params
        self.rng = rng
        self.height = 0
        self.now = 0.0
        self.stats: Counter[str] = Counter()
        """What this node did and saw, by event."""
        self.entries: dict[bytes, _Entry] = {}
        self.invoices: dict[bytes, Invoice] = {}
        self.preimages: dict[bytes, bytes] = {}
        self.forwards: dict[tuple[bytes, int], tuple[bytes, int]] = {}
        self.payments: dict[bytes, _Payment] = {}
        self._pending_announcements: dict[bytes, tuple[ChannelAnnouncement, bytes | None, int]] = {}
        """Announcements waiting for their funding block: the sender and the height at arrival."""
        self._unfunded: dict[bytes, set[bytes]] = {}
        """Per peer, the channels it proposed that this node accepted and that are not funded yet."""
        self._unfunded_count = 0
        self._policy_serial = 0
        self._salt = 0
        self._load()

    def _load(self) -> None:
        contents = self.store.load()
        for stored in contents.channels:
            party = stored.terms.party_of(self.account)
            if party is None or stored.status is LocalStatus.FAILED:
                continue
            channel = None
            if stored.latest is not None:
                channel = Channel(stored.terms, self.key, stored.latest, limits=self.params.limits,
                                  highest_signed=stored.highest_signed, incoming=stored.incoming)
            entry = _Entry(stored.terms, party, stored.status, channel)
            self.entries[stored.terms.channel_id] = entry
            self._salt = max(self._salt, stored.terms.salt + 1)
            if party == 1 and entry.status is LocalStatus.FUNDING:
                self._add_unfunded(entry)
        for entry in self.entries.values():
            if entry.status is LocalStatus.OPEN:
                self._add_own_channel(entry)
        self.invoices = {invoice.payment_hash: invoice for invoice in contents.invoices}
        self.preimages = {payment_hash_of(preimage): preimage for preimage in contents.preimages}
        self.forwards = {(out_channel, out_htlc): (in_channel, in_htlc)
                         for out_channel, out_htlc, in_channel, in_htlc in contents.forwards}

    # Reading ----------------------------------------------------------------------------------------------------

    def channel(self, channel_id: bytes) -> Channel:
        """The state machine of one of this node's channels (UnknownChannel if none, or not signed yet)."""
        entry = self.entries.get(channel_id)
        if entry is None or entry.channel is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        return entry.channel

    def preimage(self, payment_hash: bytes) -> bytes | None:
        """The preimage of `payment_hash` if this node knows it (its own invoice, or learnt), else None."""
        learnt = self.preimages.get(payment_hash)
        if learnt is not None:
            return learnt
        invoice = self.invoices.get(payment_hash)
        return None if invoice is None else invoice.preimage

    def status(self, channel_id: bytes) -> LocalStatus:
        """The local status of one of this node's channels."""
        entry = self.entries.get(channel_id)
        if entry is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        return entry.status

    def open_channels(self) -> list[Channel]:
        """This node's open channels, by channel id."""
        return [entry.channel for _, entry in sorted(self.entries.items())
                if entry.status is LocalStatus.OPEN and entry.channel is not None]

    # Opening ----------------------------------------------------------------------------------------------------

    def open_channel(self, peer: bytes, deposit: int, peer_deposit: int = 0, *,
                     challenge_period: int | None = None) -> tuple[bytes, list[Action]]:
        """Propose a channel to `peer`: this node deposits `deposit`, the peer `peer_deposit`. The channel id and the
        actions; the channel is usable after `ChannelOpened`."""
        terms = ChannelTerms(self.account, peer, deposit, peer_deposit,
                             self.params.challenge_period if challenge_period is None else challenge_period,
                             self.height + self.params.funding_window, self._salt)
        terms.check()
        self._salt += 1
        entry = _Entry(terms, 0, LocalStatus.PROPOSED, None)
        entry.sent_at = self.now
        self.entries[terms.channel_id] = entry
        self._persist(entry)
        return terms.channel_id, [Send(peer, self._open_proposal(terms))]

    def _open_proposal(self, terms: ChannelTerms) -> OpenProposal:
        return OpenProposal(terms, terms.initial_state().sign(self.key))

    def _on_open_proposal(self, sender: bytes, message: OpenProposal) -> list[Action]:
        terms = message.terms
        channel_id = terms.channel_id
        existing = self.entries.get(channel_id)
        if existing is not None and existing.channel is not None and existing.party == 1:
            return [Send(sender, self._open_accept(terms))]
        try:
            self._check_proposed_terms(sender, terms)
            self._check_unfunded_bounds(sender)
            state = terms.initial_state()
            if not verify_signature(sender, state.signing_bytes(), message.signature):
                raise InvalidChannelSignature("the opener's signature of state 0 does not verify")
        except LedgerError as error:
            raise InputRefused(error, [Send(sender, Reject(channel_id, 0, error.code, str(error)))]) from error
        latest = SignedState(state, message.signature, state.sign(self.key))
        entry = _Entry(terms, 1, LocalStatus.FUNDING, Channel(terms, self.key, latest, limits=self.params.limits))
        self.entries[channel_id] = entry
        self._add_unfunded(entry)
        self._persist(entry)
        return [Send(sender, self._open_accept(terms))]

    def _check_unfunded_bounds(self, sender: bytes) -> None:
        params = self.params
        if len(self._unfunded.get(sender, ())) >= params.max_unfunded_per_peer:
            self.stats["open proposals refused: too many unfunded from the peer"] += 1
            raise ChannelRefused(f"the sender has {params.max_unfunded_per_peer} channels waiting for their funding")
        if self._unfunded_count >= params.max_unfunded:
            self.stats["open proposals refused: too many unfunded"] += 1
            raise ChannelRefused(f"{params.max_unfunded} channels wait for their funding here")

    def _add_unfunded(self, entry: _Entry) -> None:
        waiting = self._unfunded.setdefault(entry.peer, set())
        if entry.terms.channel_id not in waiting:
            waiting.add(entry.terms.channel_id)
            self._unfunded_count += 1

    def _remove_unfunded(self, entry: _Entry) -> None:
        waiting = self._unfunded.get(entry.peer)
        if waiting is None or entry.terms.channel_id not in waiting:
            return
        waiting.remove(entry.terms.channel_id)
        self._unfunded_count -= 1
        if not waiting:
            del self._unfunded[entry.peer]

    def _forget(self, entry: _Entry) -> None:
        """The channel will never open: drop every trace of it, here and in the store."""
        self._remove_unfunded(entry)
        del self.entries[entry.terms.channel_id]
        self.store.remove_channel(entry.terms.channel_id)

    def _check_proposed_terms(self, sender: bytes, terms: ChannelTerms) -> None:
        if terms.party_b != self.account or terms.party_a != sender:
            raise NotAChannelParty("the terms do not name the sender and this node")
        terms.check()
        params = self.params
        if terms.deposit_b > params.accept_deposit_up_to:
            raise ChannelRefused(f"deposit {terms.deposit_b} exceeds the {params.accept_deposit_up_to} this node puts "
                                 "into others' channels")
        if not params.min_challenge_period <= terms.challenge_period <= params.max_challenge_period:
            raise ChannelRefused(f"challenge period {terms.challenge_period} outside {params.min_challenge_period}.."
                                 f"{params.max_challenge_period}")
        if not self.height < terms.funding_deadline <= self.height + 4 * params.funding_window:
            raise ChannelRefused(f"funding deadline {terms.funding_deadline} does not suit height {self.height}")

    def _open_accept(self, terms: ChannelTerms) -> OpenAccept:
        return OpenAccept(terms.channel_id, terms.funding_signature(self.key), terms.initial_state().sign(self.key))

    def _on_open_accept(self, sender: bytes, message: OpenAccept) -> list[Action]:
        entry = self.entries.get(message.channel_id)
        if entry is None or entry.party != 0 or sender != entry.peer:
            raise UnknownChannel("an acceptance of no channel this node proposed to the sender")
        if entry.status is not LocalStatus.PROPOSED:
            self.stats["repeated open accept"] += 1
            return []
        terms = entry.terms
        state = terms.initial_state()
        if not terms.verify_funding_signature(message.funding_signature):
            raise InvalidChannelSignature("the funding signature does not verify")
        if not verify_signature(sender, state.signing_bytes(), message.state_signature):
            raise InvalidChannelSignature("the counterparty's signature of state 0 does not verify")
        latest = SignedState(state, state.sign(self.key), message.state_signature)
        entry.channel = Channel(terms, self.key, latest, limits=self.params.limits)
        entry.status = LocalStatus.FUNDING
        self._persist(entry)
        return [Submit(ChannelOpen(terms, message.funding_signature))]

    # Paying -----------------------------------------------------------------------------------------------------

    def pay(self, channel_id: bytes, amount: int) -> list[Action]:
        """Pay `amount` to the other party of an open channel (queued behind updates in flight)."""
        entry = self._open_entry(channel_id)
        return self._enqueue(entry, _Queued(Pay(amount), origin=_ForDirect(amount)))

    def create_invoice(self, amount: int) -> Invoice:
        """A fresh invoice for `amount`: give its payee, hash and amount to the payer."""
        if amount <= 0:
            raise InvalidAmount("an invoice is for a positive amount")
        preimage = os.urandom(32) if self.rng is None else self.rng.randbytes(32)
        invoice = Invoice(self.account, payment_hash_of(preimage), preimage, amount)
        self.invoices[invoice.payment_hash] = invoice
        self.store.put_invoice(invoice)
        return invoice

    def send_payment(self, destination: bytes, amount: int, payment_hash: bytes, *,
                     params: RouteParams | None = None) -> list[Action]:
        """Pay `amount` to `destination` for `payment_hash` over a route; ends in PaymentSucceeded or PaymentFailed."""
        if payment_hash in self.payments:
            raise ChannelBusy("a payment with this hash is in progress")
        payment = _Payment(payment_hash, destination, amount, self.params.route if params is None else params)
        self.payments[payment_hash] = payment
        return self._attempt(payment)

    def _attempt(self, payment: _Payment) -> list[Action]:
        try:
            local_balances = {channel_id: entry.channel.spendable() for channel_id, entry in self.entries.items()
                              if entry.channel is not None and entry.status is LocalStatus.OPEN}
            route = find_route(self.graph, self.account, payment.destination, payment.amount, self.height,
                               params=payment.params, exclude_channels=payment.excluded_channels,
                               local_balances=local_balances)
        except NoRoute:
            failure = payment.failures[-1] if payment.failures else FailureReport(FailureCause.NO_PATH, self.account)
            return self._finish_failed(payment, failure)
        first = route.hops[0]
        entry = self.entries.get(first.channel_id)
        if entry is None or entry.status is not LocalStatus.OPEN:
            payment.excluded_channels.add(first.channel_id)
            return self._attempt(payment)
        payment.attempts += 1
        payment.route = route
        payment.htlc = None
        self.stats["payment attempts"] += 1
        queued = _Queued(AddHtlc(payment.payment_hash, first.amount, first.expiry),
                         encode_instructions(route.hops[1:]), _ForPayment(payment.payment_hash))
        return self._enqueue(entry, queued)

    def _attempt_failed(self, payment: _Payment, failure: FailureReport) -> list[Action]:
        payment.failures.append(failure)
        payment.htlc = None
        final = failure.cause in (FailureCause.UNKNOWN_PAYMENT, FailureCause.TIMEOUT)
        if final or payment.attempts >= self.params.max_attempts or failure.channel_id == NO_CHANNEL:
            return self._finish_failed(payment, failure)
        payment.excluded_channels.add(failure.channel_id)
        return self._attempt(payment)

    def _finish_failed(self, payment: _Payment, failure: FailureReport) -> list[Action]:
        del self.payments[payment.payment_hash]
        self.stats[f"payment failed: {failure.cause.label}"] += 1
        return [PaymentFailed(payment.payment_hash, failure, payment.attempts, tuple(payment.failures))]

    # Closing ----------------------------------------------------------------------------------------------------

    def close_channel(self, channel_id: bytes) -> list[Action]:
        """Propose a cooperative close on the latest balances (no HTLCs and no update may be pending)."""
        entry = self._open_entry(channel_id)
        channel = entry.channel
        assert channel is not None
        if channel.busy or entry.queue or channel.state.htlcs:
            raise ChannelBusy("settle every HTLC and update before closing cooperatively")
        entry.status = LocalStatus.CLOSING
        entry.close_state = channel.state
        entry.close_signatures = {entry.party: channel.state.sign_close(self.key)}
        entry.sent_at, entry.retransmits = self.now, 0
        self._persist(entry)
        return [Send(entry.peer, CloseProposal(channel_id, channel.state, entry.close_signatures[entry.party]))]

    def force_close(self, channel_id: bytes) -> list[Action]:
        """Publish the latest complete state on chain; the challenge period starts."""
        entry = self.entries.get(channel_id)
        if entry is None or entry.channel is None or entry.status not in (LocalStatus.OPEN, LocalStatus.CLOSING):
            raise WrongChannelStatus("only an open or closing channel can be closed on chain")
        return self._force_close(entry)

    def _force_close(self, entry: _Entry) -> list[Action]:
        assert entry.channel is not None
        actions = self._stop_updates(entry)
        if ("close",) in entry.onchain:
            return actions
        entry.onchain.add(("close",))
        self.stats["forced closes"] += 1
        return [*actions, Submit(UnilateralClose(entry.channel.latest))]

    def _on_close_proposal(self, sender: bytes, message: CloseProposal) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        channel = entry.channel
        if channel is None:
            raise WrongChannelStatus("the channel is not open")
        if entry.close_state is not None and entry.close_state == message.state:
            # A repeat, or both parties proposed the same close at once: both signatures are there.
            if not verify_signature(sender, CLOSE_DOMAIN + message.state.encode(), message.signature):
                raise InvalidChannelSignature("the close signature does not verify")
            answer: list[Action] = [Send(sender, CloseAccept(message.channel_id, message.state.sequence,
                                                             entry.close_signatures[entry.party]))]
            if 1 - entry.party not in entry.close_signatures:
                entry.close_signatures[1 - entry.party] = message.signature
                answer.append(self._submit_cooperative_close(entry))
            return answer
        try:
            if entry.status is not LocalStatus.OPEN or channel.busy or entry.queue:
                raise ChannelBusy("the channel has updates pending")
            if message.state != channel.state or message.state.htlcs:
                raise StaleState("the final state must be the latest complete one, without HTLCs")
            if not verify_signature(sender, CLOSE_DOMAIN + message.state.encode(), message.signature):
                raise InvalidChannelSignature("the close signature does not verify")
        except LedgerError as error:
            raise InputRefused(error, [Send(sender, Reject(message.channel_id, 0, error.code, str(error)))]) from error
        entry.status = LocalStatus.CLOSING
        entry.close_state = message.state
        entry.close_signatures = {1 - entry.party: message.signature, entry.party: message.state.sign_close(self.key)}
        self._persist(entry)
        return [Send(sender, CloseAccept(message.channel_id, message.state.sequence,
                                         entry.close_signatures[entry.party])),
                self._submit_cooperative_close(entry)]

    def _on_close_accept(self, sender: bytes, message: CloseAccept) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        state = entry.close_state
        if state is None or message.sequence != state.sequence:
            raise StaleState("no close proposal awaits this acceptance")
        if 1 - entry.party in entry.close_signatures:
            return []
        if not verify_signature(sender, CLOSE_DOMAIN + state.encode(), message.signature):
            raise InvalidChannelSignature("the close signature does not verify")
        entry.close_signatures[1 - entry.party] = message.signature
        return [self._submit_cooperative_close(entry)]

    def _submit_cooperative_close(self, entry: _Entry) -> Submit:
        assert entry.close_state is not None
        entry.onchain.add(("cooperative close",))
        signed = signed_by_both(entry.close_state, entry.party, entry.close_signatures[entry.party],
                                entry.close_signatures[1 - entry.party])
        return Submit(CooperativeClose(attrs.evolve(signed, domain=CLOSE_DOMAIN)))

    # Messages ---------------------------------------------------------------------------------------------------

    def on_message(self, sender: bytes, message: ChannelMessage) -> list[Action]:
        """Handle a message from the peer with account `sender`.

        Raises a LedgerError (a ChannelError, or a ledger error such as InvalidAmount) for input that is dropped
        (nothing changes), or InputRefused whose actions (a Reject) must still be performed.
        """
        if isinstance(message, UpdateProposal):
            return self._on_update_proposal(sender, message)
        if isinstance(message, UpdateSignature):
            return self._on_update_signature(sender, message)
        if isinstance(message, UpdateComplete):
            return self._on_update_complete(sender, message)
        if isinstance(message, UpdateCancel):
            entry = self._peer_entry(sender, message.channel_id)
            assert entry.channel is not None
            if entry.channel.receive_cancel(message):
                self._persist(entry)
                return self._pump(entry)
            return []
        if isinstance(message, Reject):
            return self._on_reject(sender, message)
        if isinstance(message, OpenProposal):
            return self._on_open_proposal(sender, message)
        if isinstance(message, OpenAccept):
            return self._on_open_accept(sender, message)
        if isinstance(message, CloseProposal):
            return self._on_close_proposal(sender, message)
        if isinstance(message, CloseAccept):
            return self._on_close_accept(sender, message)
        if isinstance(message, AnnouncementSignature):
            return self._on_announcement_signature(sender, message)
        if isinstance(message, ChannelAnnouncement):
            return self._on_announcement(sender, message)
        return self._on_channel_update(sender, message)

    def _peer_entry(self, sender: bytes, channel_id: bytes) -> _Entry:
        entry = self.entries.get(channel_id)
        if entry is None or entry.peer != sender:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]} with the sender")
        if entry.channel is None:
            raise WrongChannelStatus("the channel is not signed yet")
        return entry

    def _open_entry(self, channel_id: bytes) -> _Entry:
        entry = self.entries.get(channel_id)
        if entry is None or entry.channel is None:
            raise UnknownChannel(f"no channel {channel_id.hex()[:16]}")
        if entry.status is not LocalStatus.OPEN:
            raise WrongChannelStatus(f"channel {channel_id.hex()[:16]} is {entry.status.name.lower()}")
        return entry

    def _on_update_proposal(self, sender: bytes, message: UpdateProposal) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        channel = entry.channel
        assert channel is not None
        if entry.status is LocalStatus.FUNDING:
            # The peer's chain is ahead of this node's: its retransmission will find the channel open.
            raise WrongChannelStatus("the channel's funding block has not arrived here yet")
        try:
            if entry.status is not LocalStatus.OPEN:
                raise WrongChannelStatus(f"the channel is {entry.status.name.lower()}")
            signature, displaced = channel.receive_proposal(message, self.height)
        except LedgerError as error:
            answer: list[Action] = [Send(sender, Reject(message.channel_id, message.sequence, error.code, str(error)))]
            if isinstance(error, ChannelBusy) and channel.incoming is not None:
                # The proposer may have missed this party's signature of the update in flight: send it again.
                pending = channel.pending_message()
                assert pending is not None
                answer.append(Send(sender, pending))
            if isinstance(message.operation, FulfillHtlc) and self._offered(channel, message.operation.preimage):
                # Refused or not, a preimage of an HTLC this node offered is worth knowing: it pays upstream.
                answer += self._learn_preimage(message.operation.preimage)
            raise InputRefused(error, answer) from error
        self._persist(entry)
        entry.sent_at, entry.retransmits = self.now, 0
        actions: list[Action] = [Send(sender, signature)]
        if displaced is not None and entry.in_flight is not None:
            entry.queue.appendleft(entry.in_flight)
            entry.in_flight = None
            self.stats["conflicts lost"] += 1
        operation = message.operation
        if isinstance(operation, FulfillHtlc):
            actions += self._learn_preimage(operation.preimage)
        return actions

    def _offered(self, channel: Channel, preimage: bytes) -> bool:
        payment_hash = payment_hash_of(preimage)
        return any(htlc.payment_hash == payment_hash and htlc.offerer == channel.party for htlc in channel.state.htlcs)

    def _on_update_signature(self, sender: bytes, message: UpdateSignature) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        channel = entry.channel
        assert channel is not None
        outgoing, previous = channel.outgoing, channel.state
        if outgoing is not None and outgoing.proposal.sequence == message.sequence \
                and entry.status is not LocalStatus.OPEN:
            # The channel is closing: nothing more is completed off chain; the chain settles what is pending.
            channel.withdraw()
            queued, entry.in_flight = entry.in_flight, None
            closing = WrongChannelStatus("the channel is closing")
            return [Send(sender, UpdateCancel(message.channel_id, message.sequence)),
                    *self._operation_failed(entry, queued, closing, offline=False)]
        answer = channel.receive_signature(message)
        if isinstance(answer, UpdateCancel) or outgoing is None or answer.sequence != outgoing.proposal.sequence:
            # A repeat about an earlier update: answered again, nothing new is complete.
            return [Send(sender, answer)]
        self._persist(entry)
        queued, entry.in_flight = entry.in_flight, None
        actions: list[Action] = [Send(sender, answer)]
        actions += self._outgoing_completed(entry, outgoing.proposal, queued, previous)
        return actions + self._pump(entry)

    def _on_update_complete(self, sender: bytes, message: UpdateComplete) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        channel = entry.channel
        assert channel is not None
        incoming = channel.incoming
        state = channel.receive_completion(message)
        if state is None or incoming is None:
            return []
        self._persist(entry)
        actions = self._incoming_completed(entry, incoming.proposal)
        return actions + self._pump(entry)

    def _on_reject(self, sender: bytes, message: Reject) -> list[Action]:
        entry = self.entries.get(message.channel_id)
        if entry is None or entry.peer != sender:
            raise UnknownChannel("a rejection about no channel with the sender")
        error = channel_error_for_code(message.code)(message.reason)
        if entry.status is LocalStatus.PROPOSED:
            self._forget(entry)
            return [ChannelOpenFailed(message.channel_id, f"refused: {message.reason}")]
        channel = entry.channel
        if entry.close_state is not None and message.sequence == 0 and entry.status is LocalStatus.CLOSING \
                and 1 - entry.party not in entry.close_signatures:
            entry.status, entry.close_state, entry.close_signatures = LocalStatus.OPEN, None, {}
            self._persist(entry)
            return self._pump(entry)
        if channel is None or channel.outgoing is None or channel.outgoing.proposal.sequence != message.sequence:
            # About a proposal withdrawn meanwhile (a conflict this node lost, a give-up): nothing to undo.
            self.stats["rejections of withdrawn proposals"] += 1
            return []
        channel.withdraw()
        queued, entry.in_flight = entry.in_flight, None
        self.stats[f"proposals rejected: {error.reason}"] += 1
        if isinstance(error, ChannelBusy):
            # The peer has an update of its own in flight: retry at the next tick, once it is through.
            if queued is not None:
                entry.queue.appendleft(queued)
            return []
        if isinstance(error, StaleState) and queued is not None and queued.stale_refusals < MAX_STALE_REFUSALS:
            # The peer signed this sequence for a proposal withdrawn here (its signature was lost): the next one.
            channel.peer_refused_as_stale(message.sequence)
            entry.queue.appendleft(attrs.evolve(queued, stale_refusals=queued.stale_refusals + 1))
            return self._pump(entry)
        actions = self._operation_failed(entry, queued, error, offline=False)
        return actions + self._pump(entry)

    # The update queue -------------------------------------------------------------------------------------------

    def _enqueue(self, entry: _Entry, queued: _Queued) -> list[Action]:
        entry.queue.append(queued)
        return self._pump(entry)

    def _pump(self, entry: _Entry) -> list[Action]:
        """Propose the next queued operation if the channel is open and idle."""
        channel = entry.channel
        actions: list[Action] = []
        while entry.status is LocalStatus.OPEN and channel is not None and not channel.busy and entry.queue:
            queued = entry.queue.popleft()
            try:
                proposal = channel.propose(queued.operation, self.height, queued.route_data)
            except LedgerError as error:
                actions += self._operation_failed(entry, queued, error, offline=False)
                continue
            entry.in_flight = queued
            entry.sent_at, entry.retransmits = self.now, 0
            actions.append(Send(entry.peer, proposal))
        return actions

    def _stop_updates(self, entry: _Entry) -> list[Action]:
        """The channel closes: withdraw the proposal in flight and fail it and what is queued; the chain settles
        what the latest complete state holds."""
        if entry.status is LocalStatus.OPEN:
            entry.status = LocalStatus.CLOSING
            self._persist(entry)
        actions: list[Action] = []
        closing = WrongChannelStatus("the channel is closing")
        channel = entry.channel
        if channel is not None and channel.outgoing is not None:
            proposal = channel.withdraw()
            actions.append(Send(entry.peer, UpdateCancel(proposal.channel_id, proposal.sequence)))
            queued, entry.in_flight = entry.in_flight, None
            actions += self._operation_failed(entry, queued, closing, offline=False)
        while entry.queue:
            actions += self._operation_failed(entry, entry.queue.popleft(), closing, offline=False)
        return actions

    def _outgoing_completed(self, entry: _Entry, proposal: UpdateProposal, queued: _Queued | None,
                            previous: ChannelState) -> list[Action]:
        """An update this node proposed on `previous` is complete."""
        operation = proposal.operation
        origin = None if queued is None else queued.origin
        if isinstance(operation, Pay):
            self.stats["direct payments sent"] += 1
            return [DirectPaymentDone(entry.terms.channel_id, operation.amount, proposal.sequence)]
        if isinstance(operation, AddHtlc):
            if isinstance(origin, _ForForward):
                self.forwards[(entry.terms.channel_id, proposal.sequence)] = (origin.channel_id, origin.htlc_id)
                self.store.put_forward(entry.terms.channel_id, proposal.sequence, origin.channel_id, origin.htlc_id)
                self.stats["htlcs forwarded"] += 1
            elif isinstance(origin, _ForPayment) and origin.payment_hash in self.payments:
                self.payments[origin.payment_hash].htlc = (entry.terms.channel_id, proposal.sequence)
            return []
        entry.settling.discard(operation.htlc_id)
        if isinstance(operation, FulfillHtlc):
            self.stats["htlcs fulfilled"] += 1
            invoice = self.invoices.get(payment_hash_of(operation.preimage))
            if invoice is not None and invoice.payee == self.account:
                self.stats["payments received"] += 1
                amount = previous.htlc(operation.htlc_id).amount
                return [PaymentReceived(entry.terms.channel_id, amount, invoice.payment_hash)]
        return []

    def _incoming_completed(self, entry: _Entry, proposal: UpdateProposal) -> list[Action]:
        """An update the peer proposed is complete here."""
        operation = proposal.operation
        channel_id = entry.terms.channel_id
        if isinstance(operation, Pay):
            self.stats["direct payments received"] += 1
            return [PaymentReceived(channel_id, operation.amount, None)]
        if isinstance(operation, AddHtlc):
            htlc = Htlc(proposal.sequence, 1 - entry.party, operation.amount, operation.payment_hash,
                        operation.expiry)
            return self._route_incoming(entry, htlc, proposal.route_data)
        key = (channel_id, operation.htlc_id)
        if isinstance(operation, FulfillHtlc):
            self._drop_forward(key)
            payment = self._payment_of(key)
            if payment is not None:
                return self._payment_succeeded(payment, operation.preimage)
            return []
        try:
            failure = FailureReport.decode(proposal.route_data)
        except MalformedChannelData:
            failure = FailureReport(FailureCause.CHANNEL_FAILURE, entry.peer, channel_id)
        upstream = self.forwards.get(key)
        if upstream is not None:
            self._drop_forward(key)
            return self._fail_incoming(*upstream, failure)
        payment = self._payment_of(key)
        if payment is not None:
            return self._attempt_failed(payment, failure)
        return []

    def _payment_of(self, htlc: tuple[bytes, int]) -> _Payment | None:
        for payment in self.payments.values():
            if payment.htlc == htlc:
                return payment
        return None

    def _drop_forward(self, key: tuple[bytes, int]) -> None:
        if self.forwards.pop(key, None) is not None:
            self.store.remove_forward(*key)

    def _operation_failed(self, entry: _Entry, queued: _Queued | None, error: LedgerError, *,
                          offline: bool) -> list[Action]:
        """A queued or proposed operation will not happen: report or pass the failure on."""
        if queued is None:
            return []
        operation, origin = queued.operation, queued.origin
        channel_id = entry.terms.channel_id
        cause = FailureCause.HOP_OFFLINE if offline else cause_of(error)
        if isinstance(origin, _ForDirect):
            return [DirectPaymentFailed(channel_id, origin.amount, error.code, str(error))]
        if isinstance(origin, _ForPayment):
            payment = self.payments.get(origin.payment_hash)
            if payment is None:
                return []
            blamed = entry.peer if offline else self.account
            return self._attempt_failed(payment, FailureReport(cause, blamed, channel_id))
        if isinstance(origin, _ForForward):
            blamed = entry.peer if offline else self.account
            return self._fail_incoming(origin.channel_id, origin.htlc_id, FailureReport(cause, blamed, channel_id))
        if isinstance(operation, (FulfillHtlc, FailHtlc)) and offline and entry.status is LocalStatus.OPEN:
            # Settling an HTLC offered to this node: keep trying; the chain enforces it if the peer never answers.
            entry.queue.append(queued)
            return []
        if isinstance(operation, (FulfillHtlc, FailHtlc)):
            entry.settling.discard(operation.htlc_id)
        return []

    # Routing incoming HTLCs -------------------------------------------------------------------------------------

    def _route_incoming(self, entry: _Entry, htlc: Htlc, route_data: bytes) -> list[Action]:
        """An HTLC offered to this node is complete: be paid (payee) or forward it."""
        channel_id = entry.terms.channel_id
        try:
            instructions = decode_instructions(route_data)
        except MalformedChannelData:
            return self._fail_incoming(channel_id, htlc.htlc_id,
                                       FailureReport(FailureCause.CHANNEL_FAILURE, self.account, channel_id))
        if not instructions:
            return self._receive_payment(entry, htlc)
        return self._forward(entry, htlc, instructions[0], instructions[1:])

    def _receive_payment(self, entry: _Entry, htlc: Htlc) -> list[Action]:
        channel_id = entry.terms.channel_id
        invoice = self.invoices.get(htlc.payment_hash)
        if invoice is None or invoice.paid or htlc.amount < invoice.amount:
            return self._fail_incoming(channel_id, htlc.htlc_id,
                                       FailureReport(FailureCause.UNKNOWN_PAYMENT, self.account, channel_id))
        if htlc.expiry < self.height + self.params.min_final_expiry:
            return self._fail_incoming(channel_id, htlc.htlc_id,
                                       FailureReport(FailureCause.EXPIRY_TOO_SOON, self.account, channel_id))
        invoice = attrs.evolve(invoice, paid=True)
        self.invoices[htlc.payment_hash] = invoice
        self.store.put_invoice(invoice)
        entry.settling.add(htlc.htlc_id)
        return self._enqueue(entry, _Queued(FulfillHtlc(htlc.htlc_id, invoice.preimage)))

    def _forward(self, entry: _Entry, htlc: Htlc, hop: HopInstruction,
                 rest: list[HopInstruction]) -> list[Action]:
        channel_id = entry.terms.channel_id
        out = self.entries.get(hop.channel_id)
        policy = self.params.policy
        cause = None
        if out is None or out.status is not LocalStatus.OPEN or out.channel is None:
            cause = FailureCause.UNKNOWN_CHANNEL
        elif policy.disabled:
            cause = FailureCause.CHANNEL_FAILURE
        elif htlc.amount < hop.amount or htlc.amount - hop.amount < policy.fee(hop.amount):
            cause = FailureCause.FEE_INSUFFICIENT
        elif htlc.expiry < hop.expiry + policy.expiry_delta or \
                hop.expiry <= self.height + self.params.limits.min_expiry_margin:
            cause = FailureCause.EXPIRY_TOO_SOON
        elif out.channel.spendable() < hop.amount:
            cause = FailureCause.INSUFFICIENT_BALANCE
        if cause is not None:
            return self._fail_incoming(channel_id, htlc.htlc_id, FailureReport(cause, self.account, hop.channel_id))
        assert out is not None
        queued = _Queued(AddHtlc(htlc.payment_hash, hop.amount, hop.expiry), encode_instructions(rest),
                         _ForForward(channel_id, htlc.htlc_id))
        return self._enqueue(out, queued)

    def _fail_incoming(self, channel_id: bytes, htlc_id: int, failure: FailureReport) -> list[Action]:
        """Give up an HTLC offered to this node, passing `failure` upstream."""
        entry = self.entries.get(channel_id)
        if entry is None or htlc_id in entry.settling or entry.status is not LocalStatus.OPEN:
            return []
        entry.settling.add(htlc_id)
        self.stats[f"htlcs failed: {failure.cause.label}"] += 1
        return self._enqueue(entry, _Queued(FailHtlc(htlc_id), failure.encode()))

    def _learn_preimage(self, preimage: bytes) -> list[Action]:
        """A preimage became known (from a peer's fulfil or from the chain): settle everything that waits for it."""
        payment_hash = payment_hash_of(preimage)
        actions: list[Action] = []
        if payment_hash not in self.preimages:
            self.preimages[payment_hash] = preimage
            self.store.put_preimage(preimage)
        for _, entry in sorted(self.entries.items()):
            if entry.channel is None or entry.status is not LocalStatus.OPEN:
                continue
            for htlc in entry.channel.state.htlcs:
                if htlc.payment_hash == payment_hash and htlc.receiver == entry.party \
                        and htlc.htlc_id not in entry.settling:
                    entry.settling.add(htlc.htlc_id)
                    actions += self._enqueue(entry, _Queued(FulfillHtlc(htlc.htlc_id, preimage)))
        payment = self.payments.get(payment_hash)
        if payment is not None and payment.htlc is not None:
            actions += self._payment_succeeded(payment, preimage)
        return actions

    def _payment_succeeded(self, payment: _Payment, preimage: bytes) -> list[Action]:
        if self.payments.pop(payment.payment_hash, None) is None:
            return []
        self.stats["payments succeeded"] += 1
        return [PaymentSucceeded(payment.payment_hash, preimage, payment.route, payment.attempts)]

    # Time ---------------------------------------------------------------------------------------------------------

    def on_tick(self, now: float) -> list[Action]:
        """Retransmit what is unanswered; give up proposals unanswered after `max_retransmits` (hop offline).

        A signature awaiting its completion is retransmitted for as long as it waits, at growing intervals: only the
        proposer can complete or withdraw the update, and until it does the channel is blocked.
        """
        self.now = now
        params = self.params
        actions: list[Action] = []
        for _, entry in sorted(self.entries.items()):
            actions += self._pump(entry)
            message = self._unanswered(entry)
            if message is None:
                continue
            waiting = isinstance(message, UpdateSignature)
            due = params.retransmit_interval * (2 ** min(entry.retransmits, 6) if waiting else 1)
            if now - entry.sent_at < due:
                continue
            if waiting or entry.retransmits < params.max_retransmits:
                entry.retransmits += 1
                entry.sent_at = now
                self.stats["retransmissions"] += 1
                actions.append(Send(entry.peer, message))
            elif isinstance(message, UpdateProposal):
                assert entry.channel is not None
                entry.channel.withdraw()
                queued, entry.in_flight = entry.in_flight, None
                self.stats["proposals given up"] += 1
                actions.append(Send(entry.peer, UpdateCancel(message.channel_id, message.sequence)))
                actions += self._operation_failed(entry, queued, ChannelError("the peer did not answer"),
                                                  offline=True)
                actions += self._pump(entry)
        return actions

    def _unanswered(self, entry: _Entry) -> ChannelMessage | None:
        if entry.status is LocalStatus.PROPOSED:
            return self._open_proposal(entry.terms)
        if entry.status is LocalStatus.CLOSING and entry.close_state is not None \
                and 1 - entry.party not in entry.close_signatures:
            return CloseProposal(entry.terms.channel_id, entry.close_state, entry.close_signatures[entry.party])
        if entry.channel is None or entry.status is not LocalStatus.OPEN:
            return None
        return entry.channel.pending_message()

    # The chain ----------------------------------------------------------------------------------------------------

    def on_block(self, height: int, transactions: Iterable[Transaction] = ()) -> list[Action]:
        """A block at `height` was finalized (its effects are in `reader`): react to what concerns this node."""
        self.height = height
        actions: list[Action] = []
        awaited: set[bytes] | None = None
        for transaction in transactions:
            body = transaction.body
            if isinstance(body, HtlcClaim):
                if awaited is None:
                    awaited = self._awaited_hashes()
                # Every claim on chain is shown to every node: keep only the preimages this node can use.
                if body.channel_id in self.entries or payment_hash_of(body.preimage) in awaited:
                    actions += self._learn_preimage(body.preimage)
            elif isinstance(body, (UnilateralClose, CooperativeClose)) and \
                    body.signed.state.channel_id not in self.entries:
                self.graph.remove_channel(body.signed.state.channel_id)
        for _, entry in sorted(self.entries.items()):
            actions += self._watch(entry)
        actions += self._expire_outgoing()
        actions += self._recheck_announcements()
        return actions

    def _awaited_hashes(self) -> set[bytes]:
        """The payment hashes of the HTLCs in this node's channels that are not closed, and of its payments."""
        hashes = set(self.payments)
        for entry in self.entries.values():
            channel = entry.channel
            if channel is None or entry.status is LocalStatus.CLOSED:
                continue
            states = [channel.state, *(pending.state for pending in (channel.outgoing, channel.incoming)
                                       if pending is not None)]
            hashes.update(htlc.payment_hash for state in states for htlc in state.htlcs)
        return hashes

    def _watch(self, entry: _Entry) -> list[Action]:
        status = entry.status
        if status in (LocalStatus.CLOSED, LocalStatus.FAILED):
            return []
        channel_id = entry.terms.channel_id
        record = channel_record(self.reader, channel_id)
        if status in (LocalStatus.PROPOSED, LocalStatus.FUNDING) and record is None:
            if self.height >= entry.terms.funding_deadline:
                # The chain takes no ChannelOpen above the deadline: the channel can never open.
                self._forget(entry)
                self.stats["channels never funded"] += 1
                return [ChannelOpenFailed(channel_id, "the funding deadline passed")]
            return []
        if record is None:
            return []
        actions: list[Action] = []
        if status is LocalStatus.FUNDING:
            entry.status = LocalStatus.OPEN
            self._remove_unfunded(entry)
            self._persist(entry)
            actions += self._opened(entry, record)
        if record.status is not ChannelStatus.OPEN:
            actions += self._stop_updates(entry)
            self.graph.remove_channel(channel_id)
        if record.status is ChannelStatus.OPEN:
            actions += self._enforce(entry)
        elif record.status in (ChannelStatus.CLOSING, ChannelStatus.SETTLING):
            actions += self._react_to_close(entry, record)
        else:
            entry.status = LocalStatus.CLOSED
            self._persist(entry)
            self.stats[f"channels closed: {record.outcome.name.lower()}"] += 1
            actions.append(ChannelClosed(channel_id, record.outcome))
        return actions

    def _opened(self, entry: _Entry, record: ChannelRecord) -> list[Action]:
        terms = entry.terms
        self._add_own_channel(entry)
        self.stats["channels opened"] += 1
        if not self.params.gossip:
            return [ChannelOpened(terms.channel_id), *self._pump(entry)]
        signature = ChannelAnnouncement.of_record(record).sign(self.key)
        entry.announcement[entry.party] = signature
        return [ChannelOpened(terms.channel_id), Send(entry.peer, AnnouncementSignature(terms.channel_id, signature)),
                *self._announce(entry, record), *self._pump(entry)]

    def _add_own_channel(self, entry: _Entry) -> None:
        terms = entry.terms
        self.graph.add_channel(terms.channel_id, terms.party_a, terms.party_b, terms.capacity)
        edge = self.graph.edge(terms.channel_id, self.account)
        assert edge is not None
        edge.set_policy(self.params.policy)

    def _enforce(self, entry: _Entry) -> list[Action]:
        """Close on chain when an HTLC can no longer wait for the peer."""
        channel = entry.channel
        if channel is None or entry.status not in (LocalStatus.OPEN, LocalStatus.CLOSING):
            return []
        for htlc in channel.state.htlcs:
            if htlc.offerer == entry.party and self.height >= htlc.expiry:
                return self._force_close(entry)
            if htlc.receiver == entry.party and self.preimage(htlc.payment_hash) is not None \
                    and self.height >= htlc.expiry - self.params.claim_margin:
                return self._force_close(entry)
        return []

    def _react_to_close(self, entry: _Entry, record: ChannelRecord) -> list[Action]:
        channel = entry.channel
        published = record.published
        if channel is None or published is None:
            return []
        actions: list[Action] = []
        next_height = self.height + 1
        if record.status is ChannelStatus.CLOSING:
            latest = channel.latest
            if record.publisher != entry.party and latest.state.sequence > published.sequence \
                    and ("challenge", latest.state.sequence) not in entry.onchain:
                entry.onchain.add(("challenge", latest.state.sequence))
                self.stats["challenges"] += 1
                actions.append(Submit(Challenge(latest)))
            elif next_height > record.deadline and ("settle",) not in entry.onchain:
                entry.onchain.add(("settle",))
                actions.append(Submit(Settle(record.channel_id)))
        pending = published.htlcs if record.status is ChannelStatus.CLOSING else \
            [published.htlc(htlc_id) for htlc_id in record.pending_htlcs]
        for htlc in pending:
            registered = preimage_height(self.reader, htlc.payment_hash)
            key = (record.status, htlc.htlc_id)
            preimage = self.preimage(htlc.payment_hash)
            if htlc.receiver == entry.party and preimage is not None:
                claimable = (next_height < htlc.expiry and registered is None) or \
                    (record.status is ChannelStatus.SETTLING and registered is not None and registered < htlc.expiry)
                if claimable and ("claim", *key) not in entry.onchain:
                    entry.onchain.add(("claim", *key))
                    actions.append(Submit(HtlcClaim(record.channel_id, htlc.htlc_id, preimage)))
            elif htlc.offerer == entry.party and record.status is ChannelStatus.SETTLING \
                    and htlc_outcome(htlc, next_height, registered) is HtlcOutcome.OFFERER \
                    and ("refund", *key) not in entry.onchain:
                entry.onchain.add(("refund", *key))
                actions.append(Submit(HtlcRefund(record.channel_id, htlc.htlc_id)))
        return actions

    def _expire_outgoing(self) -> list[Action]:
        """Outgoing HTLCs past their expiry whose preimage was not revealed in time will never be claimed: fail the
        HTLCs they forward, and the payments they carry (timeout)."""
        actions: list[Action] = []
        for key, upstream in sorted(self.forwards.items()):
            htlc = self._pending_outgoing(key)
            if htlc is not None and self._expired_unclaimed(htlc):
                self._drop_forward(key)
                entry = self.entries[key[0]]
                actions += self._fail_incoming(*upstream, FailureReport(FailureCause.TIMEOUT, entry.peer, key[0]))
        for payment in sorted(self.payments.values(), key=lambda payment: payment.payment_hash):
            if payment.htlc is None:
                continue
            htlc = self._pending_outgoing(payment.htlc)
            if htlc is not None and self._expired_unclaimed(htlc):
                entry = self.entries[payment.htlc[0]]
                actions += self._attempt_failed(payment, FailureReport(FailureCause.TIMEOUT, entry.peer,
                                                                       payment.htlc[0]))
        return actions

    def _pending_outgoing(self, key: tuple[bytes, int]) -> Htlc | None:
        entry = self.entries.get(key[0])
        if entry is None or entry.channel is None:
            return None
        for htlc in entry.channel.state.htlcs:
            if htlc.htlc_id == key[1]:
                return htlc
        return None

    def _expired_unclaimed(self, htlc: Htlc) -> bool:
        if self.height < htlc.expiry or self.preimage(htlc.payment_hash) is not None:
            return False
        registered = preimage_height(self.reader, htlc.payment_hash)
        return registered is None or registered >= htlc.expiry

    # Gossip -------------------------------------------------------------------------------------------------------

    def _on_announcement_signature(self, sender: bytes, message: AnnouncementSignature) -> list[Action]:
        entry = self._peer_entry(sender, message.channel_id)
        record = channel_record(self.reader, message.channel_id)
        if record is None:
            # This node's chain is behind the peer's: keep the signature until the funding block arrives.
            entry.announcement[1 - entry.party] = message.signature
            return []
        if not verify_signature(sender, ChannelAnnouncement.of_record(record).signing_bytes(), message.signature):
            raise InvalidAnnouncement("the peer's announcement signature does not verify")
        entry.announcement[1 - entry.party] = message.signature
        return self._announce(entry, record)

    def _announce(self, entry: _Entry, record: ChannelRecord) -> list[Action]:
        if entry.announced or len(entry.announcement) < 2 or record.status is not ChannelStatus.OPEN:
            return []
        unsigned = ChannelAnnouncement.of_record(record)
        announcement = attrs.evolve(unsigned, signature_a=entry.announcement[0], signature_b=entry.announcement[1])
        try:
            announcement.verify()
        except InvalidAnnouncement:
            entry.announcement.pop(1 - entry.party)
            return []
        entry.announced = True
        self._policy_serial = max(self._policy_serial + 1, self.height)
        update = ChannelUpdate.create(self.key, record.channel_id, self._policy_serial, self.params.policy)
        self.graph.apply_update(update)
        return [Broadcast(announcement), Broadcast(update)]

    def _on_announcement(self, sender: bytes, announcement: ChannelAnnouncement) -> list[Action]:
        if announcement.channel_id in self.graph or announcement.channel_id in self._pending_announcements:
            self.stats["announcements already known"] += 1
            return []
        announcement.verify()
        record = channel_record(self.reader, announcement.channel_id)
        if record is None:
            if len(self._pending_announcements) >= self.params.max_pending_announcements:
                raise InvalidAnnouncement("too many announcements wait for their funding block")
            self._pending_announcements[announcement.channel_id] = (announcement, sender, self.height)
            return []
        announcement.check_against(record)
        self.graph.add_announcement(announcement)
        self.stats["announcements learnt"] += 1
        return [Broadcast(announcement, exclude=sender)] if self.params.gossip else []

    def _recheck_announcements(self) -> list[Action]:
        actions: list[Action] = []
        for channel_id, (announcement, sender, arrived) in list(self._pending_announcements.items()):
            record = channel_record(self.reader, channel_id)
            if record is None:
                if self.height - arrived >= self.params.announcement_wait:
                    del self._pending_announcements[channel_id]
                    self.stats["announcements expired"] += 1
                continue
            del self._pending_announcements[channel_id]
            try:
                announcement.check_against(record)
            except InvalidAnnouncement:
                self.stats["announcements refused"] += 1
                continue
            self.graph.add_announcement(announcement)
            self.stats["announcements learnt"] += 1
            if self.params.gossip:
                actions.append(Broadcast(announcement, exclude=sender))
        return actions

    def _on_channel_update(self, sender: bytes, update: ChannelUpdate) -> list[Action]:
        edge = self.graph.edge(update.channel_id, update.node)
        if edge is None:
            raise UnknownChannel("a policy of a channel this node does not know")
        if update.serial <= edge.serial:
            self.stats["policies already known"] += 1
            return []
        update.verify()
        self.graph.apply_update(update)
        return [Broadcast(update, exclude=sender)] if self.params.gossip else []

    # Persistence ------------------------------------------------------------------------------------------------

    def _persist(self, entry: _Entry) -> None:
        channel = entry.channel
        self.store.put_channel(StoredChannel(
            entry.terms, entry.status, None if channel is None else channel.latest,
            0 if channel is None else channel.highest_signed, None if channel is None else channel.incoming))
