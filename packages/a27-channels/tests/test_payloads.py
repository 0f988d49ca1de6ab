"""
Golden vectors for the channel community's packets (PROTOCOL.md), checked in both directions, and the mapping
between payloads and the node's messages.

Rewrite the file with ``python packages/a27-channels/scripts/write_vectors.py``
only when the protocol version changes on purpose; the file is the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samples import ALICE, CHANNEL_ID, PREIMAGE, TERMS, final_state, instructions, samples

from a27_channels import (
    CHANNEL_MESSAGES,
    AddHtlc,
    AnnouncementSignature,
    Appointment,
    AppointmentMessage,
    ChannelCommunity,
    ChannelReject,
    CloseAccept,
    CloseProposal,
    FulfillHtlc,
    MalformedChannelData,
    OpenAccept,
    OpenProposal,
    UpdateCancel,
    UpdateComplete,
    UpdateProposal,
    UpdateProposalMessage,
    UpdateSignature,
    from_payload,
    to_payload,
)
from a27_ledger import DroppedMessage, community_id_for, decode_signed, encode_signed, read_vector_file

VECTORS = Path(__file__).parent / "vectors" / "channel_messages_v1.json"
PREFIX = b"\x00\x02" + community_id_for("a27/channels/v1")
SIGNATURE = bytes(range(64))


def messages() -> dict[str, Any]:
    """One sample of every message, as the node sees it."""
    sample = samples()
    state = final_state()
    return {
        "OpenProposalMessage": OpenProposal(TERMS, TERMS.initial_state().sign(ALICE)),
        "OpenAcceptMessage": OpenAccept(CHANNEL_ID, TERMS.funding_signature(ALICE), SIGNATURE),
        "UpdateProposalMessage": UpdateProposal(CHANNEL_ID, 10, AddHtlc(sample["add_htlc"].payment_hash, 1_200, 140),
                                                instructions()),
        "UpdateSignatureMessage": UpdateSignature(CHANNEL_ID, 10, SIGNATURE),
        "UpdateCompleteMessage": UpdateComplete(CHANNEL_ID, 10, SIGNATURE),
        "UpdateCancelMessage": UpdateCancel(CHANNEL_ID, 11),
        "RejectMessage": ChannelReject(CHANNEL_ID, 11, 108, "insufficient channel balance: balance 5 < HTLC 9"),
        "CloseProposalMessage": CloseProposal(CHANNEL_ID, state, state.sign_close(ALICE)),
        "CloseAcceptMessage": CloseAccept(CHANNEL_ID, state.sequence, SIGNATURE),
        "AnnouncementSignatureMessage": AnnouncementSignature(CHANNEL_ID, SIGNATURE),
        "ChannelAnnouncementMessage": sample["announcement"],
        "ChannelUpdateMessage": sample["policy_update"],
        "AppointmentMessage": Appointment(sample["challenge"]),
    }


def fields(payload: Any) -> dict[str, Any]:
    return {name: getattr(payload, name) for name in payload.names}


def load() -> dict[str, str]:
    return read_vector_file(VECTORS)


def test_every_message_has_a_vector_and_ids_are_1_to_13() -> None:
    assert [cls.__name__ for cls in CHANNEL_MESSAGES] == list(messages())
    assert [cls.msg_id for cls in CHANNEL_MESSAGES] == list(range(1, 14))
    assert set(load()) == set(messages())


def test_community_id_is_derived_from_its_name() -> None:
    assert ChannelCommunity.community_id == community_id_for("a27/channels/v1")
    assert ChannelCommunity.community_id.hex() == load()["UpdateCancelMessage"][4:44]


def vectors() -> dict[str, str]:
    """The golden vectors, built from the samples (``scripts/write_vectors.py`` writes them to ``VECTORS``)."""
    return {name: encode_signed(PREFIX, ALICE, to_payload(message)).hex() for name, message in messages().items()}


@pytest.mark.parametrize("name", list(messages()))
def test_encoding_the_sample_gives_the_bytes(name: str) -> None:
    payload = to_payload(messages()[name])
    assert type(payload).__name__ == name
    assert encode_signed(PREFIX, ALICE, payload).hex() == load()[name]


@pytest.mark.parametrize("name", list(messages()))
def test_decoding_the_bytes_gives_the_sample(name: str) -> None:
    payload_class = next(cls for cls in CHANNEL_MESSAGES if cls.__name__ == name)
    key_bin, payload = decode_signed(bytes.fromhex(load()[name]), payload_class)
    assert key_bin == ALICE.ipv8_key().pub().key_to_bin()
    assert fields(payload) == fields(to_payload(messages()[name]))
    assert from_payload(payload) == messages()[name]
    assert bytes.fromhex(load()[name])[22] == payload_class.msg_id


def test_a_flipped_bit_anywhere_is_refused() -> None:
    packet = bytes.fromhex(load()["UpdateSignatureMessage"])
    for index in range(23, len(packet), 5):
        damaged = bytearray(packet)
        damaged[index] ^= 0x02
        with pytest.raises(DroppedMessage):
            decode_signed(bytes(damaged), CHANNEL_MESSAGES[3])


def test_fields_that_do_not_decode_are_malformed() -> None:
    for payload in (UpdateProposalMessage(CHANNEL_ID, 1, b"\x07", b""),
                    UpdateProposalMessage(CHANNEL_ID, 1, FulfillHtlc(1, PREIMAGE).encode()[:-1], b"")):
        with pytest.raises(MalformedChannelData):
            from_payload(payload)
    with pytest.raises(MalformedChannelData):
        from_payload(AppointmentMessage(b"\x01\x00\x63" + bytes(60)))
    with pytest.raises(MalformedChannelData):
        from_payload(object())
