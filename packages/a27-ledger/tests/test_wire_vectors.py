"""
Golden vectors for the ledger community's packets (PROTOCOL.md), checked in both directions.

Rewrite the file with ``python packages/a27-ledger/scripts/write_vectors.py``
only when the protocol version changes on purpose; the file is the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from a27_ledger import (
    LEDGER_MESSAGES,
    BalanceQuery,
    BalanceReply,
    DroppedMessage,
    KeyPair,
    LedgerCommunity,
    LogEntryMessage,
    LogHead,
    SubmitTransaction,
    SyncRequest,
    TransactionResult,
    community_id_for,
    decode_signed,
    encode_signed,
    read_vector_file,
    sign_transfer,
)

VECTORS = Path(__file__).parent / "vectors" / "ledger_messages_v1.json"
NODE = KeyPair.from_seed(bytes([0x11]) * 32)
SENDER = KeyPair.from_seed(bytes([0x01]) * 32)
RECIPIENT = KeyPair.from_seed(bytes([0x02]) * 32)
PREFIX = b"\x00\x02" + community_id_for("a27/ledger/v1")


def samples() -> dict[str, Any]:
    """One sample of every message, with fixed keys (Ed25519 signatures are deterministic)."""
    transfer = sign_transfer(SENDER, RECIPIENT.public_key, 1234, nonce=7, fee=3).encode()
    return {
        "SubmitTransaction": SubmitTransaction(transfer),
        "TransactionResult": TransactionResult(bytes(range(32)), 5, 0, "insufficient balance: 5 < 12"),
        "LogEntryMessage": LogEntryMessage(42, transfer),
        "LogHead": LogHead(42),
        "SyncRequest": SyncRequest(40, 64),
        "BalanceQuery": BalanceQuery(9, SENDER.public_key),
        "BalanceReply": BalanceReply(9, SENDER.public_key, 2**64 - 1, 8, 42),
    }


def fields(payload: Any) -> dict[str, Any]:
    return {name: getattr(payload, name) for name in payload.names}


def test_every_message_has_a_vector() -> None:
    assert {cls.__name__ for cls in LEDGER_MESSAGES} == set(samples())


def test_community_id_is_derived_from_its_name() -> None:
    assert LedgerCommunity.community_id == bytes.fromhex("705558bacf1e43c543f7d814c2c8383de289f601")


def vectors() -> dict[str, str]:
    """The golden vectors, built from the samples (``scripts/write_vectors.py`` writes them to ``VECTORS``)."""
    return {name: encode_signed(PREFIX, NODE, payload).hex() for name, payload in samples().items()}


@pytest.mark.parametrize("name", sorted(samples()))
def test_encoding_the_sample_gives_the_bytes(name: str) -> None:
    vectors = read_vector_file(VECTORS)
    assert encode_signed(PREFIX, NODE, samples()[name]).hex() == vectors[name]


@pytest.mark.parametrize("name", sorted(samples()))
def test_decoding_the_bytes_gives_the_sample(name: str) -> None:
    vectors = read_vector_file(VECTORS)
    sample = samples()[name]
    key_bin, payload = decode_signed(bytes.fromhex(vectors[name]), type(sample))
    assert key_bin == NODE.ipv8_key().pub().key_to_bin()
    assert fields(payload) == fields(sample)
    assert bytes.fromhex(vectors[name])[22] == sample.msg_id


def test_a_flipped_bit_anywhere_is_refused() -> None:
    packet = bytes.fromhex(read_vector_file(VECTORS)["SubmitTransaction"])
    for index in range(23, len(packet), 7):
        damaged = bytearray(packet)
        damaged[index] ^= 0x04
        with pytest.raises(DroppedMessage):
            decode_signed(bytes(damaged), SubmitTransaction)
