"""
Golden vectors for every encoding of this layer (blocks, proposals, votes, certificates, evidence of both kinds,
validator sets, parameters, staking transactions), checked in both directions. The proposal evidence and the block
carrying both evidence kinds are revision 3 (PROTOCOL.md); every revision-1 vector is unchanged.

Rewrite the file with ``python packages/a27-pos/scripts/write_vectors.py``
only when the protocol version changes on purpose; the file is the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samples import samples

from a27_ledger import EncodingVectors, Transaction
from a27_pos import (
    Block,
    CommitCertificate,
    Evidence,
    MalformedBlock,
    PosParams,
    Proposal,
    ProposalEvidence,
    ValidatorSet,
    Vote,
    pos_registry,
)

VECTORS = Path(__file__).parent / "vectors" / "pos_encodings_v1.json"
REGISTRY = pos_registry()

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "prevote": Vote.decode,
    "precommit_nil": Vote.decode,
    "certificate": CommitCertificate.decode,
    "evidence": Evidence.decode,
    "block": lambda data: Block.decode(data, REGISTRY),
    "first_block": lambda data: Block.decode(data, REGISTRY),
    "proposal": lambda data: Proposal.decode(data, REGISTRY),
    "proposal_without_pol": lambda data: Proposal.decode(data, REGISTRY),
    "validator_set": ValidatorSet.decode,
    "params": PosParams.decode,
    "bond": lambda data: Transaction.decode(data, REGISTRY),
    "unbond": lambda data: Transaction.decode(data, REGISTRY),
    "proposal_evidence": ProposalEvidence.decode,
    "block_with_both_evidence_kinds": lambda data: Block.decode(data, REGISTRY),
}


def derived() -> dict[str, str]:
    """Hashes the vectors pin besides the encodings."""
    sample = samples()
    return {
        "block.block_id": sample["block"].block_id.hex(),
        "block.tx_root": sample["block"].header.tx_root.hex(),
        "block.evidence_root": sample["block"].header.evidence_root.hex(),
        "first_block.block_id": sample["first_block"].block_id.hex(),
        "certificate.hash": sample["certificate"].hash().hex(),
        "evidence.evidence_id": sample["evidence"].evidence_id.hex(),
        "proposal_evidence.evidence_id": sample["proposal_evidence"].evidence_id.hex(),
        "block_with_both_evidence_kinds.evidence_root":
            sample["block_with_both_evidence_kinds"].header.evidence_root.hex(),
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


def test_derived_hashes() -> None:
    vectors = load()
    for name, value in derived().items():
        assert vectors[name] == value, name


def test_a_flipped_bit_in_a_block_never_decodes_to_the_same_block() -> None:
    encoded = bytes.fromhex(load()["block"])
    original = samples()["block"]
    for index in range(0, len(encoded), 5):
        damaged = bytearray(encoded)
        damaged[index] ^= 0x10
        try:
            block = Block.decode(bytes(damaged), REGISTRY)
        except MalformedBlock:
            continue
        assert block != original
