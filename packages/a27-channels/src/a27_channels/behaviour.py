"""The behaviour seam: the decisions an honest node makes that an attacker may replace.

`NodeParams.behaviour` (and `ChannelSettings.behaviour` on IPv8) holds a `ChannelBehaviour`; the node consults it at
each decision point below, in memory, on the simulator and on UDP alike. `HonestChannelBehaviour` is the default and
what every honest node runs. Another implementation (a27-attacks supplies them; this layer never imports it) usually
subclasses it and overrides one hook. Whatever a behaviour decides, the node still speaks only what PROTOCOL.md
documents, and the honest nodes' defences (challenges, penalties, timeouts, refunds) still apply to it.
"""

from __future__ import annotations

import enum
from typing import Protocol

from a27_channels.channel import Channel
from a27_channels.errors import ChannelRefused
from a27_channels.payment import HopInstruction
from a27_channels.state import ChannelTerms, Htlc, SignedState


class ForwardDecision(enum.Enum):
    """What a node does with an HTLC it was asked to forward."""

    FORWARD = "forward"
    """Forward it if the honest checks (fee, expiry, balance) allow, else fail it back with their cause."""
    HOLD = "hold"
    """Neither forward nor fail it: the HTLC stays locked until its expiry (the payer times out and is refunded)."""
    FAIL = "fail"
    """Fail it back at once (cause: channel failure)."""


class ChannelBehaviour(Protocol):
    """The decisions of a channel node that a behaviour can replace (see the README, "Behaviour seam")."""

    def accept_open(self, sender: bytes, terms: ChannelTerms, refusal: ChannelRefused | None) -> ChannelRefused | None:
        """Whether to accept a channel `sender` proposes: None to accept, a ChannelRefused to refuse.

        Called for a proposal whose terms name the sender and this node and are well formed; `refusal` is what this
        node's own limits say (deposit, challenge period, funding deadline, unfunded channels), None if they allow it.
        """

    def state_to_publish(self, channel: Channel) -> SignedState:
        """The state this node publishes when it closes `channel` on chain (a `UnilateralClose`)."""

    def forward_htlc(self, channel_id: bytes, htlc: Htlc, hop: HopInstruction) -> ForwardDecision:
        """What to do with `htlc`, offered on `channel_id`, that the payer asks this node to forward as `hop`."""

    def release_preimage(self, channel_id: bytes, htlc: Htlc, preimage: bytes) -> bool:
        """Whether to fulfil `htlc`, offered to this node on `channel_id`, off chain now that `preimage` is known."""


class HonestChannelBehaviour:
    """What an honest node does: follow its limits, publish its latest state, forward, settle at once."""

    def accept_open(self, sender: bytes, terms: ChannelTerms, refusal: ChannelRefused | None) -> ChannelRefused | None:
        """Refuse exactly what this node's limits refuse."""
        return refusal

    def state_to_publish(self, channel: Channel) -> SignedState:
        """The latest state both parties signed."""
        return channel.latest

    def forward_htlc(self, channel_id: bytes, htlc: Htlc, hop: HopInstruction) -> ForwardDecision:
        """Forward (subject to the honest checks)."""
        return ForwardDecision.FORWARD

    def release_preimage(self, channel_id: bytes, htlc: Htlc, preimage: bytes) -> bool:
        """Settle at once."""
        return True


HONEST = HonestChannelBehaviour()
"""The behaviour of every node unless it is given another."""
