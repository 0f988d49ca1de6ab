"""
Messages of the channel community (``a27/channels/v1``). PROTOCOL.md at the repository root is their contract.

Every message is signed with IPv8's standard layout (see ``a27_ledger.overlay``). Field formats are IPv8 serializer
formats, big-endian: ``B`` u8, ``Q`` u64, ``32s``/``64s`` raw bytes, ``varlenH`` a u16 length then the bytes,
``varlenHutf8`` the same holding UTF-8 text, ``raw`` the rest of the message. Terms, states, operations, route data,
announcements and policy updates travel in their canonical encodings (``state.py``, ``gossip.py``, ``payment.py``).
"""

from __future__ import annotations

from ipv8.messaging.lazy_payload import VariablePayload, vp_compile

from a27_channels.errors import MalformedChannelData
from a27_channels.gossip import ChannelAnnouncement, ChannelUpdate
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
from a27_channels.onchain import channels_registry
from a27_channels.state import ChannelState, ChannelTerms, decode_operation
from a27_ledger import LedgerError, Transaction


@vp_compile
class OpenProposalMessage(VariablePayload):
    """Opener -> counterparty: the terms (100 bytes) and the opener's signature of state 0."""

    msg_id = 1
    format_list = ["varlenH", "64s"]
    names = ["terms", "signature"]
    terms: bytes
    signature: bytes


@vp_compile
class OpenAcceptMessage(VariablePayload):
    """Counterparty -> opener: its funding signature and its signature of state 0."""

    msg_id = 2
    format_list = ["32s", "64s", "64s"]
    names = ["channel_id", "funding_signature", "state_signature"]
    channel_id: bytes
    funding_signature: bytes
    state_signature: bytes


@vp_compile
class UpdateProposalMessage(VariablePayload):
    """Proposer -> receiver: an operation to apply as state ``sequence``, and route data."""

    msg_id = 3
    format_list = ["32s", "Q", "varlenH", "varlenH"]
    names = ["channel_id", "sequence", "operation", "route_data"]
    channel_id: bytes
    sequence: int
    operation: bytes
    route_data: bytes


@vp_compile
class UpdateSignatureMessage(VariablePayload):
    """Receiver -> proposer: its signature of the proposed state."""

    msg_id = 4
    format_list = ["32s", "Q", "64s"]
    names = ["channel_id", "sequence", "signature"]
    channel_id: bytes
    sequence: int
    signature: bytes


@vp_compile
class UpdateCompleteMessage(VariablePayload):
    """Proposer -> receiver: its signature; the state is complete."""

    msg_id = 5
    format_list = ["32s", "Q", "64s"]
    names = ["channel_id", "sequence", "signature"]
    channel_id: bytes
    sequence: int
    signature: bytes


@vp_compile
class UpdateCancelMessage(VariablePayload):
    """Proposer -> receiver: proposal ``sequence`` is withdrawn and will never be signed by the proposer."""

    msg_id = 6
    format_list = ["32s", "Q"]
    names = ["channel_id", "sequence"]
    channel_id: bytes
    sequence: int


@vp_compile
class RejectMessage(VariablePayload):
    """Either way: the message about ``sequence`` (0 for an open or a close) is refused, with an error code."""

    msg_id = 7
    format_list = ["32s", "Q", "B", "varlenHutf8"]
    names = ["channel_id", "sequence", "code", "reason"]
    channel_id: bytes
    sequence: int
    code: int
    reason: str


@vp_compile
class CloseProposalMessage(VariablePayload):
    """Party -> party: the final state (no HTLCs) and the sender's close signature."""

    msg_id = 8
    format_list = ["32s", "varlenH", "64s"]
    names = ["channel_id", "state", "signature"]
    channel_id: bytes
    state: bytes
    signature: bytes


@vp_compile
class CloseAcceptMessage(VariablePayload):
    """Party -> party: the receiver's close signature of the final state ``sequence``."""

    msg_id = 9
    format_list = ["32s", "Q", "64s"]
    names = ["channel_id", "sequence", "signature"]
    channel_id: bytes
    sequence: int
    signature: bytes


@vp_compile
class AnnouncementSignatureMessage(VariablePayload):
    """Party -> party, once the channel is open on chain: the sender's signature of the announcement."""

    msg_id = 10
    format_list = ["32s", "64s"]
    names = ["channel_id", "signature"]
    channel_id: bytes
    signature: bytes


@vp_compile
class ChannelAnnouncementMessage(VariablePayload):
    """Gossip: a channel announcement (264 bytes)."""

    msg_id = 11
    format_list = ["raw"]
    names = ["announcement"]
    announcement: bytes


@vp_compile
class ChannelUpdateMessage(VariablePayload):
    """Gossip: a node's forwarding policy for one of its channels (143 bytes)."""

    msg_id = 12
    format_list = ["raw"]
    names = ["update"]
    update: bytes


@vp_compile
class AppointmentMessage(VariablePayload):
    """Client -> its watchtower: one appointment, a `Challenge` transaction the client signed (PROTOCOL.md)."""

    msg_id = 13
    format_list = ["varlenH"]
    names = ["transaction"]
    transaction: bytes


CHANNEL_MESSAGES = (OpenProposalMessage, OpenAcceptMessage, UpdateProposalMessage, UpdateSignatureMessage,
                    UpdateCompleteMessage, UpdateCancelMessage, RejectMessage, CloseProposalMessage,
                    CloseAcceptMessage, AnnouncementSignatureMessage, ChannelAnnouncementMessage,
                    ChannelUpdateMessage, AppointmentMessage)
"""Every message class of the channel community, in message id order."""

ChannelPayload = (OpenProposalMessage | OpenAcceptMessage | UpdateProposalMessage | UpdateSignatureMessage
                  | UpdateCompleteMessage | UpdateCancelMessage | RejectMessage | CloseProposalMessage
                  | CloseAcceptMessage | AnnouncementSignatureMessage | ChannelAnnouncementMessage
                  | ChannelUpdateMessage | AppointmentMessage)
_REGISTRY = channels_registry()
"""The transaction kinds an appointment may carry (a tower keeps only a `Challenge`)."""


def to_payload(message: ChannelMessage) -> ChannelPayload:
    """The payload that carries `message`."""
    if isinstance(message, OpenProposal):
        return OpenProposalMessage(message.terms.encode(), message.signature)
    if isinstance(message, OpenAccept):
        return OpenAcceptMessage(message.channel_id, message.funding_signature, message.state_signature)
    if isinstance(message, UpdateProposal):
        return UpdateProposalMessage(message.channel_id, message.sequence, message.operation.encode(),
                                     message.route_data)
    if isinstance(message, UpdateSignature):
        return UpdateSignatureMessage(message.channel_id, message.sequence, message.signature)
    if isinstance(message, UpdateComplete):
        return UpdateCompleteMessage(message.channel_id, message.sequence, message.signature)
    if isinstance(message, UpdateCancel):
        return UpdateCancelMessage(message.channel_id, message.sequence)
    if isinstance(message, ChannelReject):
        return RejectMessage(message.channel_id, message.sequence, message.code, message.reason)
    if isinstance(message, CloseProposal):
        return CloseProposalMessage(message.channel_id, message.state.encode(), message.signature)
    if isinstance(message, CloseAccept):
        return CloseAcceptMessage(message.channel_id, message.sequence, message.signature)
    if isinstance(message, AnnouncementSignature):
        return AnnouncementSignatureMessage(message.channel_id, message.signature)
    if isinstance(message, ChannelAnnouncement):
        return ChannelAnnouncementMessage(message.encode())
    if isinstance(message, Appointment):
        return AppointmentMessage(message.transaction.encode())
    return ChannelUpdateMessage(message.encode())


def from_payload(payload: object) -> ChannelMessage:
    """The message a payload carries; MalformedChannelData if a field does not decode."""
    if isinstance(payload, OpenProposalMessage):
        return OpenProposal(ChannelTerms.decode(payload.terms), payload.signature)
    if isinstance(payload, OpenAcceptMessage):
        return OpenAccept(payload.channel_id, payload.funding_signature, payload.state_signature)
    if isinstance(payload, UpdateProposalMessage):
        return UpdateProposal(payload.channel_id, payload.sequence, decode_operation(payload.operation),
                              payload.route_data)
    if isinstance(payload, UpdateSignatureMessage):
        return UpdateSignature(payload.channel_id, payload.sequence, payload.signature)
    if isinstance(payload, UpdateCompleteMessage):
        return UpdateComplete(payload.channel_id, payload.sequence, payload.signature)
    if isinstance(payload, UpdateCancelMessage):
        return UpdateCancel(payload.channel_id, payload.sequence)
    if isinstance(payload, RejectMessage):
        return ChannelReject(payload.channel_id, payload.sequence, payload.code, payload.reason)
    if isinstance(payload, CloseProposalMessage):
        return CloseProposal(payload.channel_id, ChannelState.decode(payload.state), payload.signature)
    if isinstance(payload, CloseAcceptMessage):
        return CloseAccept(payload.channel_id, payload.sequence, payload.signature)
    if isinstance(payload, AnnouncementSignatureMessage):
        return AnnouncementSignature(payload.channel_id, payload.signature)
    if isinstance(payload, ChannelAnnouncementMessage):
        return ChannelAnnouncement.decode(payload.announcement)
    if isinstance(payload, ChannelUpdateMessage):
        return ChannelUpdate.decode(payload.update)
    if isinstance(payload, AppointmentMessage):
        try:
            return Appointment(Transaction.decode(payload.transaction, _REGISTRY))
        except LedgerError as error:
            raise MalformedChannelData(f"appointment: {error}") from error
    raise MalformedChannelData(f"{type(payload).__name__} is not a channel message")
