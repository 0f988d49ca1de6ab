"""
Golden vectors for every encoding of this layer (terms, states, operations, channel transactions, records,
announcements, policy updates, route data, failure reports), checked in both directions.

Rewrite the file with ``python packages/a27-channels/scripts/write_vectors.py``
only when the protocol version changes on purpose; the file is the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samples import HASH, instructions, samples

from a27_channels import (
    ChannelAnnouncement,
    ChannelRecord,
    ChannelState,
    ChannelTerms,
    ChannelUpdate,
    FailureReport,
    MalformedChannelData,
    SignedState,
    channels_registry,
    decode_instructions,
    decode_operation,
)
from a27_ledger import EncodingVectors, Transaction

VECTORS = Path(__file__).parent / "vectors" / "channel_encodings_v1.json"
REGISTRY = channels_registry()


def transaction(data: bytes) -> Transaction:
    return Transaction.decode(data, REGISTRY)


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "terms": ChannelTerms.decode,
    "initial_state": ChannelState.decode,
    "state_with_htlcs": ChannelState.decode,
    "signed_state": SignedState.decode,
    "pay": decode_operation,
    "add_htlc": decode_operation,
    "fulfill_htlc": decode_operation,
    "fail_htlc": decode_operation,
    "channel_open": transaction,
    "cooperative_close": transaction,
    "unilateral_close": transaction,
    "challenge": transaction,
    "settle": transaction,
    "htlc_claim": transaction,
    "htlc_refund": transaction,
    "record_open": ChannelRecord.decode,
    "record_settling": ChannelRecord.decode,
    "announcement": ChannelAnnouncement.decode,
    "policy_update": ChannelUpdate.decode,
    "failure_report": FailureReport.decode,
}


def derived() -> dict[str, str]:
    """Values the vectors pin besides the encodings."""
    sample = samples()
    return {
        "terms.channel_id": sample["terms"].channel_id.hex(),
        "payment_hash": HASH.hex(),
        "route_data": instructions().hex(),
        "channel_open.tx_id": sample["channel_open"].tx_id.hex(),
    }


GOLDEN = EncodingVectors(VECTORS, samples, DECODERS, derived)
load = GOLDEN.load


def vectors() -> dict[str, str]:
    """The golden vectors, built from the samples (``scripts/write_vectors.py`` writes them to ``VECTORS``)."""
    return GOLDEN.build()


def test_every_sample_has_a_decoder_and_a_vector() -> None:
    assert GOLDEN.unmatched_names() == set()


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_encoding_the_sample_gives_the_bytes(name: str) -> None:
    assert samples()[name].encode().hex() == load()[name]


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoding_the_bytes_gives_the_sample(name: str) -> None:
    decoded = GOLDEN.decoded(name)
    assert decoded == samples()[name]
    assert decoded.encode().hex() == load()[name]


def test_derived_values() -> None:
    vectors = load()
    for name, value in derived().items():
        assert vectors[name] == value, name
    assert [hop.amount for hop in decode_instructions(bytes.fromhex(vectors["route_data"]))] == [1_100, 1_000]


def test_a_flipped_bit_in_a_signed_state_never_verifies_as_the_same_state() -> None:
    encoded = bytes.fromhex(load()["signed_state"])
    original = samples()["signed_state"]
    for index in range(0, len(encoded), 3):
        damaged = bytearray(encoded)
        damaged[index] ^= 0x08
        try:
            decoded = SignedState.decode(bytes(damaged))
        except MalformedChannelData:
            continue
        assert decoded != original
