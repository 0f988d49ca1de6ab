"""What a channel node asks its performer to do: messages to send, gossip, transactions to submit, events.

Every input of the core (`ChannelNode`) returns a list of these. `ChannelCommunity` performs them over IPv8 and the
PoS community; `inprocess.ChannelNetwork` performs them in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from a27_channels.gossip import ChannelAnnouncement, ChannelUpdate
from a27_channels.messages import ChannelMessage
from a27_channels.onchain import CloseOutcome
from a27_channels.payment import FailureReport
from a27_channels.router import Route
from a27_ledger import LedgerError, TransactionBody


@attrs.frozen
class Send:
    """Send `message` to the peer whose account is `peer`."""

    peer: bytes
    message: ChannelMessage


@attrs.frozen
class Gossip:
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
Action = Send | Gossip | Submit | Event
"""What the node asks its performer to do."""


class InputRefused(Exception):
    """Bad input from a peer: `error` says why; `actions` (a ChannelReject) are to be performed all the same."""

    def __init__(self, error: LedgerError, actions: Sequence[Action]) -> None:
        """Wrap the error and the answer."""
        super().__init__(str(error))
        self.error = error
        self.actions = list(actions)
