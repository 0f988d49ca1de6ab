"""The channel layer's defences against Lab 4's attacks, one switch each (README, "Defences").

Every defence is on by default; `ChannelDefences.none()` switches them all off so that an attack's effect can be
shown. A defence's full name is ``channels.<field>``. Bounds that keep a node's memory finite (unfunded channels per
peer and in all, HTLC slots, pending announcements) are not switches: they are always on.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ChannelDefences:
    """Which of the channel layer's defences a node runs (all on by default)."""

    penalty: bool = True
    """Stops a peer profiting from an old state: when the peer publishes a state older than this node's latest
    complete one, the node sends a `Challenge` within the challenge period (the chain gives it the whole channel if
    the peer proposed the newer state). Off: the node lets any published state settle, so a peer gains the difference
    between an old state and the latest one."""
    watchtower: bool = True
    """Stops the same theft while this node is offline for a whole challenge period: the node hands its tower an
    appointment (a `Challenge` transaction of its latest complete state, signed by this node) for each open channel
    (`ChannelNode.watchtower_appointments`). Off: it hands none, and an old state published while it is away
    settles."""
    avoid_failed_hops: bool = True
    """Stops a node that holds HTLCs from stopping payments: a payment whose HTLC timed out (a hop held it until its
    expiry) is tried again, and every retry of a payment avoids the nodes blamed for a timeout or for not answering,
    not only their channel. Off: a timeout ends the payment, and a retry avoids only the failing channel."""
    slot_quota: bool = True
    """Stops one upstream peer jamming a channel this node forwards onto: the HTLCs this node forwards for one
    incoming peer may take at most `NodeParams.max_forwarded_htlcs_per_peer` of its slots on an outgoing channel.
    Off: one peer can take all `MAX_HTLCS_PER_PARTY` slots and every other payment through that channel fails."""
    proposer_funds: bool = True
    """Stops a flood of channel proposals from keys that could never fund them filling the 256 places for unfunded
    channels: a proposal is refused unless the proposer's balance on this node's chain covers its deposit plus those
    of its other unfunded proposals here. Off: any key can take a place until its funding deadline passes, and
    honest opens are refused while the places are full."""

    @classmethod
    def none(cls) -> ChannelDefences:
        """Every defence switched off (to show what an attack does without them)."""
        return cls(**{field.name: False for field in attrs.fields(cls)})


DEFAULT_DEFENCES = ChannelDefences()
"""Every defence on: what a node runs unless configured otherwise."""
