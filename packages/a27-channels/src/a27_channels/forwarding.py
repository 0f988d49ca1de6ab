"""HTLCs offered to this node: paying its invoices, forwarding along a route, failing back, settling by preimage,
and timing out outgoing HTLCs whose preimage never came."""

from __future__ import annotations

import attrs

from a27_channels.actions import Action
from a27_channels.behaviour import ForwardDecision
from a27_channels.book import ChannelBook, ChannelEntry, ForForward, QueuedOperation
from a27_channels.errors import MalformedChannelData
from a27_channels.onchain import preimage_height
from a27_channels.payment import FailureCause, FailureReport, HopInstruction, decode_instructions, encode_instructions
from a27_channels.payments import Payments
from a27_channels.state import AddHtlc, FailHtlc, FulfillHtlc, Htlc, payment_hash_of
from a27_channels.store import LocalStatus
from a27_channels.updates import UpdateQueue


class Forwarding:
    """The HTLCs a node receives and forwards, on its `book`; updates go through `updates`."""

    def __init__(self, book: ChannelBook, updates: UpdateQueue, payments: Payments) -> None:
        """Forwarding for the node whose state is `book`; `payments` learns of preimages of its payments."""
        self.book = book
        self.updates = updates
        self.payments = payments

    def route_incoming(self, entry: ChannelEntry, htlc: Htlc, route_data: bytes) -> list[Action]:
        """An HTLC offered to this node is complete: be paid (payee) or forward it."""
        channel_id = entry.terms.channel_id
        try:
            instructions = decode_instructions(route_data)
        except MalformedChannelData:
            return self.fail_incoming(channel_id, htlc.htlc_id,
                                      FailureReport(FailureCause.CHANNEL_FAILURE, self.book.account, channel_id))
        if not instructions:
            return self._receive_payment(entry, htlc)
        return self._forward(entry, htlc, instructions[0], instructions[1:])

    def _receive_payment(self, entry: ChannelEntry, htlc: Htlc) -> list[Action]:
        book = self.book
        channel_id = entry.terms.channel_id
        invoice = book.invoices.get(htlc.payment_hash)
        if invoice is None or invoice.paid or htlc.amount < invoice.amount:
            return self.fail_incoming(channel_id, htlc.htlc_id,
                                      FailureReport(FailureCause.UNKNOWN_PAYMENT, book.account, channel_id))
        if htlc.expiry < book.height + book.params.min_final_expiry:
            return self.fail_incoming(channel_id, htlc.htlc_id,
                                      FailureReport(FailureCause.EXPIRY_TOO_SOON, book.account, channel_id))
        if not book.params.behaviour.release_preimage(channel_id, htlc, invoice.preimage):
            book.stats["preimages withheld"] += 1
            return []
        invoice = attrs.evolve(invoice, paid=True)
        book.invoices[htlc.payment_hash] = invoice
        book.store.put_invoice(invoice)
        entry.settling.add(htlc.htlc_id)
        return self.updates.enqueue(entry, QueuedOperation(FulfillHtlc(htlc.htlc_id, invoice.preimage)))

    def _forward(self, entry: ChannelEntry, htlc: Htlc, hop: HopInstruction,
                 rest: list[HopInstruction]) -> list[Action]:
        book = self.book
        channel_id = entry.terms.channel_id
        decision = book.params.behaviour.forward_htlc(channel_id, htlc, hop)
        if decision is ForwardDecision.HOLD:
            book.stats["htlcs held"] += 1
            return []
        out = book.entries.get(hop.channel_id)
        policy = book.params.policy
        cause = None
        if decision is ForwardDecision.FAIL:
            cause = FailureCause.CHANNEL_FAILURE
        elif out is None or out.status is not LocalStatus.OPEN or out.channel is None:
            cause = FailureCause.UNKNOWN_CHANNEL
        elif policy.disabled:
            cause = FailureCause.CHANNEL_FAILURE
        elif htlc.amount < hop.amount or htlc.amount - hop.amount < policy.fee(hop.amount):
            cause = FailureCause.FEE_INSUFFICIENT
        elif htlc.expiry < hop.expiry + policy.expiry_delta or \
                hop.expiry <= book.height + book.params.limits.min_expiry_margin:
            cause = FailureCause.EXPIRY_TOO_SOON
        elif out.channel.spendable() < hop.amount:
            cause = FailureCause.INSUFFICIENT_BALANCE
        elif book.params.defences.slot_quota and \
                self._slots_taken_for(out, entry.peer) >= book.params.max_forwarded_htlcs_per_peer:
            book.stats["htlcs refused: slot quota"] += 1
            cause = FailureCause.CHANNEL_FAILURE
        if cause is not None:
            return self.fail_incoming(channel_id, htlc.htlc_id, FailureReport(cause, book.account, hop.channel_id))
        assert out is not None
        queued = QueuedOperation(AddHtlc(htlc.payment_hash, hop.amount, hop.expiry), encode_instructions(rest),
                                 ForForward(channel_id, htlc.htlc_id))
        return self.updates.enqueue(out, queued)

    def _slots_taken_for(self, out: ChannelEntry, upstream_peer: bytes) -> int:
        """How many HTLCs this node offers on `out` (pending, in flight or queued) forwarding HTLCs of
        `upstream_peer`."""
        book = self.book
        assert out.channel is not None
        channel_id = out.terms.channel_id
        upstream = [book.forwards.get((channel_id, htlc.htlc_id)) for htlc in out.channel.state.htlcs
                    if htlc.offerer == out.party]
        upstream += [(queued.origin.channel_id, queued.origin.htlc_id)
                     for queued in (out.in_flight, *out.queue)
                     if queued is not None and isinstance(queued.origin, ForForward)]
        return sum(1 for key in upstream
                   if key is not None and (incoming := book.entries.get(key[0])) is not None
                   and incoming.peer == upstream_peer)

    def fail_incoming(self, channel_id: bytes, htlc_id: int, failure: FailureReport) -> list[Action]:
        """Give up an HTLC offered to this node, passing `failure` upstream."""
        book = self.book
        entry = book.entries.get(channel_id)
        if entry is None or htlc_id in entry.settling or entry.status is not LocalStatus.OPEN:
            return []
        entry.settling.add(htlc_id)
        book.stats[f"htlcs failed: {failure.cause.label}"] += 1
        return self.updates.enqueue(entry, QueuedOperation(FailHtlc(htlc_id), failure.encode()))

    def learn_preimage(self, preimage: bytes) -> list[Action]:
        """A preimage became known (from a peer's fulfil or from the chain): settle everything that waits for it."""
        book = self.book
        payment_hash = payment_hash_of(preimage)
        actions: list[Action] = []
        if payment_hash not in book.preimages:
            book.preimages[payment_hash] = preimage
            book.store.put_preimage(preimage)
        for _, entry in sorted(book.entries.items()):
            if entry.channel is None or entry.status is not LocalStatus.OPEN:
                continue
            for htlc in entry.channel.state.htlcs:
                if htlc.payment_hash == payment_hash and htlc.receiver == entry.party \
                        and htlc.htlc_id not in entry.settling \
                        and book.params.behaviour.release_preimage(entry.terms.channel_id, htlc, preimage):
                    entry.settling.add(htlc.htlc_id)
                    actions += self.updates.enqueue(entry, QueuedOperation(FulfillHtlc(htlc.htlc_id, preimage)))
        payment = book.payments.get(payment_hash)
        if payment is not None and payment.htlc is not None:
            actions += self.payments.succeeded(payment, preimage)
        return actions

    def expire_outgoing(self) -> list[Action]:
        """Outgoing HTLCs past their expiry whose preimage was not revealed in time will never be claimed: fail the
        HTLCs they forward, and the payments they carry (timeout)."""
        book = self.book
        actions: list[Action] = []
        for key, upstream in sorted(book.forwards.items()):
            htlc = self._pending_outgoing(key)
            if htlc is not None and self._expired_unclaimed(htlc):
                book.drop_forward(key)
                entry = book.entries[key[0]]
                actions += self.fail_incoming(*upstream, FailureReport(FailureCause.TIMEOUT, entry.peer, key[0]))
        for payment in sorted(book.payments.values(), key=lambda payment: payment.payment_hash):
            if payment.htlc is None:
                continue
            htlc = self._pending_outgoing(payment.htlc)
            if htlc is not None and self._expired_unclaimed(htlc):
                entry = book.entries[payment.htlc[0]]
                actions += self.payments.attempt_failed(payment, FailureReport(FailureCause.TIMEOUT, entry.peer,
                                                                               payment.htlc[0]))
        return actions

    def _pending_outgoing(self, key: tuple[bytes, int]) -> Htlc | None:
        entry = self.book.entries.get(key[0])
        if entry is None or entry.channel is None:
            return None
        for htlc in entry.channel.state.htlcs:
            if htlc.htlc_id == key[1]:
                return htlc
        return None

    def _expired_unclaimed(self, htlc: Htlc) -> bool:
        book = self.book
        if book.height < htlc.expiry or book.preimage(htlc.payment_hash) is not None:
            return False
        registered = preimage_height(book.reader, htlc.payment_hash)
        return registered is None or registered >= htlc.expiry
