"""A channel node's local choices (DESIGN.md, "Parameters")."""

from __future__ import annotations

import attrs

from a27_channels.behaviour import HONEST, ChannelBehaviour
from a27_channels.defences import DEFAULT_DEFENCES, ChannelDefences
from a27_channels.gossip import ChannelPolicy
from a27_channels.graph import DEFAULT_POLICY
from a27_channels.router import DEFAULT_ROUTE_PARAMS, RouteParams
from a27_channels.state import DEFAULT_LIMITS, HtlcLimits


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
    behaviour: ChannelBehaviour = HONEST
    """The decisions an attacker may replace (README, "Behaviour seam"); honest by default."""
    defences: ChannelDefences = DEFAULT_DEFENCES
    """Which defences the node runs (README, "Defences"); all on by default."""
    max_forwarded_htlcs_per_peer: int = 8
    """With the `slot_quota` defence: how many of this node's HTLC slots on one outgoing channel the HTLCs it
    forwards for one incoming peer may take (of `MAX_HTLCS_PER_PARTY`, 32)."""


MAX_STALE_REFUSALS = 2
"""How often an operation is proposed again at the next sequence after the peer refused it as stale."""
