"""Off-chain updates: the per-channel queue of operations, their three-message exchange, and what completes or fails.

A channel carries one update at a time: operations (payments, HTLC adds, fulfils, fails) wait in the channel's queue,
the head is proposed, and when it completes or fails the origin that queued it is told (a direct payment, a payment
this node sends, an HTLC it forwards).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from a27_channels.actions import (
    Action,
    DirectPaymentDone,
    DirectPaymentFailed,
    InputRefused,
    PaymentReceived,
    Send,
)
from a27_channels.book import ChannelBook, ChannelEntry, ForDirect, ForForward, ForPayment, QueuedOperation
from a27_channels.channel import Channel
from a27_channels.errors import ChannelBusy, ChannelError, MalformedChannelData, StaleState, WrongChannelStatus
from a27_channels.messages import ChannelReject, UpdateCancel, UpdateComplete, UpdateProposal, UpdateSignature
from a27_channels.params import MAX_STALE_REFUSALS
from a27_channels.payment import FailureCause, FailureReport, cause_of
from a27_channels.state import AddHtlc, ChannelState, FailHtlc, FulfillHtlc, Htlc, Pay, payment_hash_of
from a27_channels.store import LocalStatus
from a27_ledger import LedgerError

if TYPE_CHECKING:
    from a27_channels.forwarding import Forwarding
    from a27_channels.payments import Payments


class UpdateQueue:
    """The off-chain updates of a node's channels, on its `book`.

    `payments` and `forwarding` are told when an update they queued completes or fails; they queue through this
    object, so they are connected after construction (`connect`).
    """

    payments: Payments
    forwarding: Forwarding

    def __init__(self, book: ChannelBook) -> None:
        """Updates of the channels in `book`; call `connect` before use."""
        self.book = book

    def connect(self, payments: Payments, forwarding: Forwarding) -> None:
        """Tell `payments` and `forwarding` about the updates they queued."""
        self.payments = payments
        self.forwarding = forwarding

    # The queue --------------------------------------------------------------------------------------------------

    def enqueue(self, entry: ChannelEntry, queued: QueuedOperation) -> list[Action]:
        """Queue an operation on the channel and propose it if the channel is idle."""
        entry.queue.append(queued)
        return self.pump(entry)

    def pump(self, entry: ChannelEntry) -> list[Action]:
        """Propose the next queued operation if the channel is open and idle."""
        book = self.book
        channel = entry.channel
        actions: list[Action] = []
        while entry.status is LocalStatus.OPEN and channel is not None and not channel.busy and entry.queue:
            queued = entry.queue.popleft()
            try:
                proposal = channel.propose(queued.operation, book.height, queued.route_data)
            except LedgerError as error:
                actions += self.operation_failed(entry, queued, error, offline=False)
                continue
            entry.in_flight = queued
            entry.sent_at, entry.retransmits = book.now, 0
            actions.append(Send(entry.peer, proposal))
        return actions

    def stop_updates(self, entry: ChannelEntry) -> list[Action]:
        """The channel closes: withdraw the proposal in flight and fail it and what is queued; the chain settles
        what the latest complete state holds."""
        if entry.status is LocalStatus.OPEN:
            entry.status = LocalStatus.CLOSING
            self.book.persist(entry)
        actions: list[Action] = []
        closing = WrongChannelStatus("the channel is closing")
        channel = entry.channel
        if channel is not None and channel.outgoing is not None:
            proposal = channel.withdraw()
            actions.append(Send(entry.peer, UpdateCancel(proposal.channel_id, proposal.sequence)))
            queued, entry.in_flight = entry.in_flight, None
            actions += self.operation_failed(entry, queued, closing, offline=False)
        while entry.queue:
            actions += self.operation_failed(entry, entry.queue.popleft(), closing, offline=False)
        return actions

    def give_up(self, entry: ChannelEntry, proposal: UpdateProposal) -> list[Action]:
        """The peer never answered `proposal`: withdraw it and fail its operation (hop offline)."""
        assert entry.channel is not None
        entry.channel.withdraw()
        queued, entry.in_flight = entry.in_flight, None
        self.book.stats["proposals given up"] += 1
        actions: list[Action] = [Send(entry.peer, UpdateCancel(proposal.channel_id, proposal.sequence))]
        actions += self.operation_failed(entry, queued, ChannelError("the peer did not answer"), offline=True)
        return actions + self.pump(entry)

    # Messages ---------------------------------------------------------------------------------------------------

    def on_update_proposal(self, sender: bytes, message: UpdateProposal) -> list[Action]:
        """The peer proposes an update: sign it (or refuse it with a ChannelReject)."""
        book = self.book
        entry = book.peer_entry(sender, message.channel_id)
        channel = entry.channel
        assert channel is not None
        if entry.status is LocalStatus.FUNDING:
            # The peer's chain is ahead of this node's: its retransmission will find the channel open.
            raise WrongChannelStatus("the channel's funding block has not arrived here yet")
        try:
            if entry.status is not LocalStatus.OPEN:
                raise WrongChannelStatus(f"the channel is {entry.status.name.lower()}")
            signature, displaced = channel.receive_proposal(message, book.height)
        except LedgerError as error:
            refusal = ChannelReject(message.channel_id, message.sequence, error.code, str(error))
            answer: list[Action] = [Send(sender, refusal)]
            if isinstance(error, ChannelBusy) and channel.incoming is not None:
                # The proposer may have missed this party's signature of the update in flight: send it again.
                pending = channel.pending_message()
                assert pending is not None
                answer.append(Send(sender, pending))
            if isinstance(message.operation, FulfillHtlc) and _offered(channel, message.operation.preimage):
                # Refused or not, a preimage of an HTLC this node offered is worth knowing: it pays upstream.
                answer += self.forwarding.learn_preimage(message.operation.preimage)
            raise InputRefused(error, answer) from error
        book.persist(entry)
        entry.sent_at, entry.retransmits = book.now, 0
        actions: list[Action] = [Send(sender, signature)]
        if displaced is not None and entry.in_flight is not None:
            entry.queue.appendleft(entry.in_flight)
            entry.in_flight = None
            book.stats["conflicts lost"] += 1
        operation = message.operation
        if isinstance(operation, FulfillHtlc):
            actions += self.forwarding.learn_preimage(operation.preimage)
        return actions

    def on_update_signature(self, sender: bytes, message: UpdateSignature) -> list[Action]:
        """The peer signed this node's proposal: complete it."""
        entry = self.book.peer_entry(sender, message.channel_id)
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
                    *self.operation_failed(entry, queued, closing, offline=False)]
        answer = channel.receive_signature(message)
        if isinstance(answer, UpdateCancel) or outgoing is None or answer.sequence != outgoing.proposal.sequence:
            # A repeat about an earlier update: answered again, nothing new is complete.
            return [Send(sender, answer)]
        self.book.persist(entry)
        queued, entry.in_flight = entry.in_flight, None
        actions: list[Action] = [Send(sender, answer)]
        actions += self._outgoing_completed(entry, outgoing.proposal, queued, previous)
        return actions + self.pump(entry)

    def on_update_complete(self, sender: bytes, message: UpdateComplete) -> list[Action]:
        """The peer completed an update it proposed: act on it."""
        entry = self.book.peer_entry(sender, message.channel_id)
        channel = entry.channel
        assert channel is not None
        incoming = channel.incoming
        state = channel.receive_completion(message)
        if state is None or incoming is None:
            return []
        self.book.persist(entry)
        actions = self._incoming_completed(entry, incoming.proposal)
        return actions + self.pump(entry)

    def on_update_cancel(self, sender: bytes, message: UpdateCancel) -> list[Action]:
        """The peer withdrew a proposal this node signed."""
        entry = self.book.peer_entry(sender, message.channel_id)
        assert entry.channel is not None
        if entry.channel.receive_cancel(message):
            self.book.persist(entry)
            return self.pump(entry)
        return []

    def on_update_rejected(self, entry: ChannelEntry, message: ChannelReject, error: ChannelError) -> list[Action]:
        """The peer refused this node's proposal at `message.sequence` with `error`."""
        book = self.book
        channel = entry.channel
        if channel is None or channel.outgoing is None or channel.outgoing.proposal.sequence != message.sequence:
            # About a proposal withdrawn meanwhile (a conflict this node lost, a give-up): nothing to undo.
            book.stats["rejections of withdrawn proposals"] += 1
            return []
        channel.withdraw()
        queued, entry.in_flight = entry.in_flight, None
        book.stats[f"proposals rejected: {error.reason}"] += 1
        if isinstance(error, ChannelBusy):
            # The peer has an update of its own in flight: retry at the next tick, once it is through.
            if queued is not None:
                entry.queue.appendleft(queued)
            return []
        if isinstance(error, StaleState) and queued is not None and queued.stale_refusals < MAX_STALE_REFUSALS:
            # The peer signed this sequence for a proposal withdrawn here (its signature was lost): the next one.
            channel.peer_refused_as_stale(message.sequence)
            entry.queue.appendleft(attrs.evolve(queued, stale_refusals=queued.stale_refusals + 1))
            return self.pump(entry)
        actions = self.operation_failed(entry, queued, error, offline=False)
        return actions + self.pump(entry)

    # Outcomes ---------------------------------------------------------------------------------------------------

    def _outgoing_completed(self, entry: ChannelEntry, proposal: UpdateProposal, queued: QueuedOperation | None,
                            previous: ChannelState) -> list[Action]:
        """An update this node proposed on `previous` is complete."""
        book = self.book
        operation = proposal.operation
        origin = None if queued is None else queued.origin
        if isinstance(operation, Pay):
            book.stats["direct payments sent"] += 1
            return [DirectPaymentDone(entry.terms.channel_id, operation.amount, proposal.sequence)]
        if isinstance(operation, AddHtlc):
            if isinstance(origin, ForForward):
                book.forwards[(entry.terms.channel_id, proposal.sequence)] = (origin.channel_id, origin.htlc_id)
                book.store.put_forward(entry.terms.channel_id, proposal.sequence, origin.channel_id, origin.htlc_id)
                book.stats["htlcs forwarded"] += 1
            elif isinstance(origin, ForPayment) and origin.payment_hash in book.payments:
                book.payments[origin.payment_hash].htlc = (entry.terms.channel_id, proposal.sequence)
            return []
        entry.settling.discard(operation.htlc_id)
        if isinstance(operation, FulfillHtlc):
            book.stats["htlcs fulfilled"] += 1
            invoice = book.invoices.get(payment_hash_of(operation.preimage))
            if invoice is not None and invoice.payee == book.account:
                book.stats["payments received"] += 1
                amount = previous.htlc(operation.htlc_id).amount
                return [PaymentReceived(entry.terms.channel_id, amount, invoice.payment_hash)]
        return []

    def _incoming_completed(self, entry: ChannelEntry, proposal: UpdateProposal) -> list[Action]:
        """An update the peer proposed is complete here."""
        book = self.book
        operation = proposal.operation
        channel_id = entry.terms.channel_id
        if isinstance(operation, Pay):
            book.stats["direct payments received"] += 1
            return [PaymentReceived(channel_id, operation.amount, None)]
        if isinstance(operation, AddHtlc):
            htlc = Htlc(proposal.sequence, 1 - entry.party, operation.amount, operation.payment_hash,
                        operation.expiry)
            return self.forwarding.route_incoming(entry, htlc, proposal.route_data)
        key = (channel_id, operation.htlc_id)
        if isinstance(operation, FulfillHtlc):
            book.drop_forward(key)
            payment = book.payment_of(key)
            if payment is not None:
                return self.payments.succeeded(payment, operation.preimage)
            return []
        try:
            failure = FailureReport.decode(proposal.route_data)
        except MalformedChannelData:
            failure = FailureReport(FailureCause.CHANNEL_FAILURE, entry.peer, channel_id)
        upstream = book.forwards.get(key)
        if upstream is not None:
            book.drop_forward(key)
            return self.forwarding.fail_incoming(*upstream, failure)
        payment = book.payment_of(key)
        if payment is not None:
            return self.payments.attempt_failed(payment, failure)
        return []

    def operation_failed(self, entry: ChannelEntry, queued: QueuedOperation | None, error: LedgerError, *,
                         offline: bool) -> list[Action]:
        """A queued or proposed operation will not happen: report or pass the failure on."""
        if queued is None:
            return []
        book = self.book
        operation, origin = queued.operation, queued.origin
        channel_id = entry.terms.channel_id
        cause = FailureCause.HOP_OFFLINE if offline else cause_of(error)
        if isinstance(origin, ForDirect):
            return [DirectPaymentFailed(channel_id, origin.amount, error.code, str(error))]
        if isinstance(origin, ForPayment):
            payment = book.payments.get(origin.payment_hash)
            if payment is None:
                return []
            blamed = entry.peer if offline else book.account
            return self.payments.attempt_failed(payment, FailureReport(cause, blamed, channel_id))
        if isinstance(origin, ForForward):
            blamed = entry.peer if offline else book.account
            return self.forwarding.fail_incoming(origin.channel_id, origin.htlc_id,
                                                 FailureReport(cause, blamed, channel_id))
        if isinstance(operation, (FulfillHtlc, FailHtlc)) and offline and entry.status is LocalStatus.OPEN:
            # Settling an HTLC offered to this node: keep trying; the chain enforces it if the peer never answers.
            entry.queue.append(queued)
            return []
        if isinstance(operation, (FulfillHtlc, FailHtlc)):
            entry.settling.discard(operation.htlc_id)
        return []


def _offered(channel: Channel, preimage: bytes) -> bool:
    """Whether `preimage` opens an HTLC this node offered on `channel`."""
    payment_hash = payment_hash_of(preimage)
    return any(htlc.payment_hash == payment_hash and htlc.offerer == channel.party for htlc in channel.state.htlcs)
