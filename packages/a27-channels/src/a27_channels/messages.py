"""Messages between the two parties of a channel (sans-IO: the community turns them into IPv8 payloads).

Each carries the channel id; the IPv8 packet signature authenticates the sender. The signatures inside (funding,
state, close, announcement) are over the canonical encodings of `state.py` and `gossip.py`.
"""

from __future__ import annotations

from typing import Any

import attrs

from a27_channels.errors import MalformedChannelData
from a27_channels.gossip import ChannelAnnouncement, ChannelUpdate
from a27_channels.state import SIGNATURE_LENGTH, ChannelState, ChannelTerms, Operation
from a27_ledger import Transaction


def _bytes(length: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not bytes or len(value) != length:
            raise MalformedChannelData(f"{attribute.name} must be {length} bytes")

    return check


def _u64(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value < 2**64:
        raise MalformedChannelData(f"{attribute.name} must be a u64")


_ID = _bytes(32)
_SIGNATURE = _bytes(SIGNATURE_LENGTH)


@attrs.frozen
class OpenProposal:
    """Opener -> counterparty: the terms, and the opener's signature of state 0."""

    terms: ChannelTerms
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class OpenAccept:
    """Counterparty -> opener: its funding signature over the terms and its signature of state 0."""

    channel_id: bytes = attrs.field(validator=_ID)
    funding_signature: bytes = attrs.field(validator=_SIGNATURE)
    state_signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class UpdateProposal:
    """Proposer -> receiver: apply `operation` as state `sequence` (unsigned). `route_data` carries the rest of a
    route (with an HTLC add) or a failure report (with an HTLC fail); the state machine does not read it."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)
    operation: Operation = attrs.field()
    route_data: bytes = attrs.field(default=b"", validator=attrs.validators.instance_of(bytes))


@attrs.frozen
class UpdateSignature:
    """Receiver -> proposer: the receiver's signature of the proposed state."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class UpdateComplete:
    """Proposer -> receiver: the proposer's signature; the state is complete."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class UpdateCancel:
    """Proposer -> receiver: the proposer withdraws proposal `sequence` and will never sign it."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)


@attrs.frozen
class ChannelReject:
    """Either way: the sender refuses the message about `sequence` (0 for an open or a close) with an error code."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)
    code: int = attrs.field(validator=attrs.validators.and_(attrs.validators.instance_of(int),
                                                            attrs.validators.in_(range(256))))
    reason: str = attrs.field(validator=attrs.validators.instance_of(str))


@attrs.frozen
class CloseProposal:
    """Party -> party: close cooperatively on this final state (no HTLCs), with the sender's close signature."""

    channel_id: bytes = attrs.field(validator=_ID)
    state: ChannelState = attrs.field()
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class CloseAccept:
    """Party -> party: the receiver's close signature of the proposed final state."""

    channel_id: bytes = attrs.field(validator=_ID)
    sequence: int = attrs.field(validator=_u64)
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class AnnouncementSignature:
    """Party -> party, once the channel is open on chain: the sender's signature of the channel announcement."""

    channel_id: bytes = attrs.field(validator=_ID)
    signature: bytes = attrs.field(validator=_SIGNATURE)


@attrs.frozen
class Appointment:
    """Client -> its watchtower: a `Challenge` transaction of the client's latest complete state of one channel,
    signed by the client (`ChannelNode.watchtower_appointments`); the tower checks and keeps it (`Watchtower.watch`)."""

    transaction: Transaction = attrs.field(validator=attrs.validators.instance_of(Transaction))


ChannelMessage = (OpenProposal | OpenAccept | UpdateProposal | UpdateSignature | UpdateComplete | UpdateCancel
                  | ChannelReject | CloseProposal | CloseAccept | AnnouncementSignature | ChannelAnnouncement
                  | ChannelUpdate | Appointment)
"""Every message a channel node sends or receives."""
