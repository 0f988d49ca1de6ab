"""Payments this node makes: direct payments on a channel, invoices, and routed payments with their retries."""

from __future__ import annotations

import os

from a27_channels.actions import Action, PaymentFailed, PaymentSucceeded
from a27_channels.book import ChannelBook, ForDirect, ForPayment, OutgoingPayment, QueuedOperation
from a27_channels.errors import ChannelBusy, NoRoute
from a27_channels.payment import NO_CHANNEL, FailureCause, FailureReport, encode_instructions
from a27_channels.router import RouteParams, find_route
from a27_channels.state import AddHtlc, Pay, payment_hash_of
from a27_channels.store import Invoice, LocalStatus
from a27_channels.updates import UpdateQueue
from a27_ledger import InvalidAmount


class Payments:
    """The payments a node sends and the invoices it issues, on its `book`; updates go through `updates`."""

    def __init__(self, book: ChannelBook, updates: UpdateQueue) -> None:
        """Payments of the node whose state is `book`."""
        self.book = book
        self.updates = updates

    def pay(self, channel_id: bytes, amount: int) -> list[Action]:
        """Pay `amount` to the other party of an open channel (queued behind updates in flight)."""
        entry = self.book.open_entry(channel_id)
        return self.updates.enqueue(entry, QueuedOperation(Pay(amount), origin=ForDirect(amount)))

    def create_invoice(self, amount: int) -> Invoice:
        """A fresh invoice for `amount`: give its payee, hash and amount to the payer."""
        book = self.book
        if amount <= 0:
            raise InvalidAmount("an invoice is for a positive amount")
        preimage = os.urandom(32) if book.rng is None else book.rng.randbytes(32)
        invoice = Invoice(book.account, payment_hash_of(preimage), preimage, amount)
        book.invoices[invoice.payment_hash] = invoice
        book.store.put_invoice(invoice)
        return invoice

    def send_payment(self, destination: bytes, amount: int, payment_hash: bytes, *,
                     params: RouteParams | None = None) -> list[Action]:
        """Pay `amount` to `destination` for `payment_hash` over a route; ends in PaymentSucceeded or PaymentFailed."""
        book = self.book
        if payment_hash in book.payments:
            raise ChannelBusy("a payment with this hash is in progress")
        payment = OutgoingPayment(payment_hash, destination, amount, book.params.route if params is None else params)
        book.payments[payment_hash] = payment
        return self._attempt(payment)

    def _attempt(self, payment: OutgoingPayment) -> list[Action]:
        book = self.book
        try:
            route = find_route(book.graph, book.account, payment.destination, payment.amount, book.height,
                               params=payment.params, exclude_channels=payment.excluded_channels,
                               exclude_nodes=payment.excluded_nodes,
                               local_balances=book.local_balances())
        except NoRoute:
            failure = payment.failures[-1] if payment.failures else FailureReport(FailureCause.NO_PATH, book.account)
            return self._finish_failed(payment, failure)
        first = route.hops[0]
        entry = book.entries.get(first.channel_id)
        if entry is None or entry.status is not LocalStatus.OPEN:
            payment.excluded_channels.add(first.channel_id)
            return self._attempt(payment)
        payment.attempts += 1
        payment.route = route
        payment.htlc = None
        book.stats["payment attempts"] += 1
        queued = QueuedOperation(AddHtlc(payment.payment_hash, first.amount, first.expiry),
                                 encode_instructions(route.hops[1:]), ForPayment(payment.payment_hash))
        return self.updates.enqueue(entry, queued)

    def attempt_failed(self, payment: OutgoingPayment, failure: FailureReport) -> list[Action]:
        """The current attempt failed with `failure`: try another route, or give the payment up."""
        payment.failures.append(failure)
        payment.htlc = None
        avoid_hops = self.book.params.defences.avoid_failed_hops
        # A timed-out HTLC can no longer be claimed (`Forwarding.expire_outgoing`), so trying again cannot pay twice.
        final = failure.cause is FailureCause.UNKNOWN_PAYMENT or (failure.cause is FailureCause.TIMEOUT and
                                                                 not avoid_hops)
        if final or payment.attempts >= self.book.params.max_attempts or failure.channel_id == NO_CHANNEL:
            return self._finish_failed(payment, failure)
        if avoid_hops and failure.cause in (FailureCause.TIMEOUT, FailureCause.HOP_OFFLINE):
            if failure.node == payment.destination:
                return self._finish_failed(payment, failure)
            payment.excluded_nodes.add(failure.node)
        payment.excluded_channels.add(failure.channel_id)
        return self._attempt(payment)

    def _finish_failed(self, payment: OutgoingPayment, failure: FailureReport) -> list[Action]:
        book = self.book
        del book.payments[payment.payment_hash]
        book.stats[f"payment failed: {failure.cause.label}"] += 1
        return [PaymentFailed(payment.payment_hash, failure, payment.attempts, tuple(payment.failures))]

    def succeeded(self, payment: OutgoingPayment, preimage: bytes) -> list[Action]:
        """The payee revealed `preimage`: the payment is done (once)."""
        book = self.book
        if book.payments.pop(payment.payment_hash, None) is None:
            return []
        book.stats["payments succeeded"] += 1
        return [PaymentSucceeded(payment.payment_hash, preimage, payment.route, payment.attempts)]
