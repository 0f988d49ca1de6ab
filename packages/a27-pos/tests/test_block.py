"""Blocks and proposals: roots, signatures, strict decoding."""

from __future__ import annotations

import hashlib

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import CHAIN_ID, OTHER_ID, PROPOSER, RECIPIENT, SENDER, VOTER, block, certificate, evidence, first_block

from a27_ledger import default_registry, sign_transfer
from a27_pos import (
    BLOCK_DOMAIN,
    NO_ROUND,
    PROPOSAL_DOMAIN,
    BadMerkleRoot,
    Block,
    InvalidSignature,
    MalformedBlock,
    Proposal,
    merkle_root,
    pos_registry,
    sign_bond,
)

REGISTRY = pos_registry()


def test_build_fills_in_roots_and_signs_the_header() -> None:
    sample = block()
    header = sample.header
    assert header.tx_root == merkle_root([tx.encode() for tx in sample.transactions])
    assert header.evidence_root == merkle_root([evidence().encode()])
    assert header.last_commit_hash == certificate().hash() == hashlib.sha256(certificate().encode()).digest()
    assert header.tx_count == 1
    assert sample.block_id == hashlib.sha256(header.encode()).digest()
    assert sample.signature == PROPOSER.sign(BLOCK_DOMAIN + header.encode())
    assert sample.proposer == PROPOSER.public_key
    sample.verify_signature()
    sample.check_body()
    assert first_block().header.last_commit_hash == bytes(32)
    assert "h=7" in repr(sample)


def test_header_layout() -> None:
    encoded = block().header.encode()
    assert encoded[0] == 1
    assert encoded[1] == len(CHAIN_ID)
    offset = 2 + len(CHAIN_ID)
    assert int.from_bytes(encoded[offset : offset + 8], "big") == 7
    assert int.from_bytes(encoded[offset + 8 : offset + 12], "big") == 2
    assert int.from_bytes(encoded[offset + 12 : offset + 20], "big") == 1_700_000_000_123
    assert encoded[offset + 20 : offset + 52] == OTHER_ID
    assert len(encoded) == offset + 8 + 4 + 8 + 32 * 3 + 4 + 32 * 2


def test_a_changed_header_no_longer_verifies() -> None:
    sample = block()
    forged = attrs.evolve(sample, header=attrs.evolve(sample.header, timestamp=sample.header.timestamp + 1))
    with pytest.raises(InvalidSignature):
        forged.verify_signature()
    with pytest.raises(InvalidSignature):
        attrs.evolve(sample, signature=VOTER.sign(BLOCK_DOMAIN + sample.header.encode())).verify_signature()


@pytest.mark.parametrize("part", ["transactions", "evidence", "last_commit"])
def test_a_body_that_does_not_match_its_header_is_caught(part: str) -> None:
    sample = block()
    replacement: object = {
        "transactions": (sign_transfer(SENDER, RECIPIENT.public_key, 1, 0),),
        "evidence": (),
        "last_commit": None,
    }[part]
    with pytest.raises(BadMerkleRoot):
        attrs.evolve(sample, **{part: replacement}).check_body()


def test_construction_refuses_what_the_encoding_cannot_hold() -> None:
    sample = block()
    with pytest.raises(MalformedBlock, match="counts 1 transactions"):
        attrs.evolve(sample, transactions=())
    with pytest.raises(MalformedBlock):
        attrs.evolve(sample.header, chain_id="")
    with pytest.raises(MalformedBlock):
        attrs.evolve(sample.header, parent_id=b"short")
    with pytest.raises(MalformedBlock, match="not signed"):
        attrs.evolve(sample, signature=b"").encode()


def test_decoding_refuses_trailing_bytes_truncation_and_unknown_kinds() -> None:
    encoded = block().encode()
    with pytest.raises(MalformedBlock, match="trailing"):
        Block.decode(encoded + b"\x00", REGISTRY)
    for cut in (0, 10, 100, len(encoded) - 1):
        with pytest.raises(MalformedBlock):
            Block.decode(encoded[:cut], REGISTRY)
    bonding = Block.build(PROPOSER, chain_id=CHAIN_ID, height=1, round=0, timestamp=1, parent_id=OTHER_ID,
                          transactions=[sign_bond(SENDER, 1_000, 0)])
    assert Block.decode(bonding.encode(), REGISTRY) == bonding
    with pytest.raises(MalformedBlock, match="transaction 0"):
        Block.decode(bonding.encode(), default_registry)
    with pytest.raises(MalformedBlock, match="version"):
        Block.decode(b"\x02" + encoded[1:], REGISTRY)


@given(st.binary(max_size=400))
def test_decoding_arbitrary_bytes_raises_only_malformed_block(data: bytes) -> None:
    for decode in (Block.decode, Proposal.decode):
        try:
            decoded = decode(data, REGISTRY)
        except MalformedBlock:
            continue
        assert decoded.encode() == data


def test_proposal_signature_covers_round_pol_round_and_block() -> None:
    proposal = Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block())
    proposal.verify(CHAIN_ID)
    assert proposal.signing_bytes(CHAIN_ID).startswith(PROPOSAL_DOMAIN)
    assert proposal.height == 7
    for changed in (attrs.evolve(proposal, round=4), attrs.evolve(proposal, pol_round=1),
                    attrs.evolve(proposal, block=first_block()), attrs.evolve(proposal, proposer=VOTER.public_key)):
        with pytest.raises(InvalidSignature):
            changed.verify(CHAIN_ID)
    with pytest.raises(InvalidSignature):
        proposal.verify("another-chain")


def test_proposal_pol_round_is_none_or_earlier() -> None:
    assert Proposal.create(PROPOSER, CHAIN_ID, 0, NO_ROUND, first_block()).pol_round == -1
    for bad in (3, 4, -2):
        with pytest.raises(MalformedBlock, match="pol_round"):
            Proposal(3, bad, first_block(), PROPOSER.public_key)


def test_proposal_decoding_checks_its_height_against_the_block() -> None:
    encoded = bytearray(Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block()).encode())
    encoded[7] ^= 1
    with pytest.raises(MalformedBlock, match="height"):
        Proposal.decode(bytes(encoded), REGISTRY)
