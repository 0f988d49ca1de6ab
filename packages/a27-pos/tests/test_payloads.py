"""
Golden vectors for the PoS community's packets (PROTOCOL.md), checked in both directions.

Rewrite the file with ``python packages/a27-pos/scripts/write_vectors.py``
only when the protocol version changes on purpose; the file is the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samples import RECIPIENT, SENDER, samples

from a27_ledger import (
    DroppedMessage,
    KeyPair,
    community_id_for,
    decode_signed,
    encode_signed,
    read_vector_file,
    sign_transfer,
)
from a27_pos import PosCommunity
from a27_pos.payloads import (
    POS_MESSAGES,
    BlockRequest,
    BlockResponse,
    EvidenceMessage,
    ProposalMessage,
    Status,
    SubmitTransaction,
    TransactionFinal,
    TransactionGossip,
    TransactionStatus,
    VoteMessage,
)

VECTORS = Path(__file__).parent / "vectors" / "pos_messages_v1.json"
NODE = KeyPair.from_seed(bytes([0x11]) * 32)
PREFIX = b"\x00\x02" + community_id_for("a27/pos/v1")


def messages() -> dict[str, Any]:
    """One sample of every message, with fixed keys (``Class.variant`` names a second sample of a message: revision
    3's proposal evidence travels in the Evidence message)."""
    sample = samples()
    transfer = sign_transfer(SENDER, RECIPIENT.public_key, 1234, nonce=7, fee=3).encode()
    block = sample["block"]
    return {
        "SubmitTransaction": SubmitTransaction(transfer),
        "TransactionStatus": TransactionStatus(bytes(range(32)), 78, "mempool full: fee 1 does not outbid"),
        "TransactionGossip": TransactionGossip(transfer),
        "ProposalMessage": ProposalMessage(sample["proposal"].encode()),
        "VoteMessage": VoteMessage(sample["prevote"].encode()),
        "EvidenceMessage": EvidenceMessage(sample["evidence"].encode()),
        "EvidenceMessage.proposal_evidence": EvidenceMessage(sample["proposal_evidence"].encode()),
        "Status": Status(42, block.block_id),
        "BlockRequest": BlockRequest(40, 16),
        "BlockResponse": BlockResponse(block.encode(), sample["certificate"].encode()),
        "TransactionFinal": TransactionFinal(bytes(range(32)), 7, block.block_id),
    }


def fields(payload: Any) -> dict[str, Any]:
    return {name: getattr(payload, name) for name in payload.names}


def test_every_message_has_a_vector_and_ids_are_1_to_10() -> None:
    assert {cls.__name__ for cls in POS_MESSAGES} == {name.split(".")[0] for name in messages()}
    assert [cls.msg_id for cls in POS_MESSAGES] == list(range(1, 11))
    assert set(read_vector_file(VECTORS)) == set(messages())


def test_community_id_is_derived_from_its_name() -> None:
    assert PosCommunity.community_id == community_id_for("a27/pos/v1")
    assert PosCommunity.community_id.hex() == read_vector_file(VECTORS)[
        "Status"][4:44]


def vectors() -> dict[str, str]:
    """The golden vectors, built from the samples (``scripts/write_vectors.py`` writes them to ``VECTORS``)."""
    return {name: encode_signed(PREFIX, NODE, payload).hex() for name, payload in messages().items()}


@pytest.mark.parametrize("name", sorted(messages()))
def test_encoding_the_sample_gives_the_bytes(name: str) -> None:
    vectors = read_vector_file(VECTORS)
    assert encode_signed(PREFIX, NODE, messages()[name]).hex() == vectors[name]


@pytest.mark.parametrize("name", sorted(messages()))
def test_decoding_the_bytes_gives_the_sample(name: str) -> None:
    vectors = read_vector_file(VECTORS)
    sample = messages()[name]
    key_bin, payload = decode_signed(bytes.fromhex(vectors[name]), type(sample))
    assert key_bin == NODE.ipv8_key().pub().key_to_bin()
    assert fields(payload) == fields(sample)
    assert bytes.fromhex(vectors[name])[22] == sample.msg_id


def test_a_flipped_bit_anywhere_is_refused() -> None:
    packet = bytes.fromhex(read_vector_file(VECTORS)["VoteMessage"])
    for index in range(23, len(packet), 7):
        damaged = bytearray(packet)
        damaged[index] ^= 0x04
        with pytest.raises(DroppedMessage):
            decode_signed(bytes(damaged), VoteMessage)

