"""Votes, commit certificates and evidence: signing, strict decoding, quorum checks."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import BLOCK_ID, CHAIN_ID, OTHER_ID, PROPOSER, VOTER, vote

from a27_ledger import KeyPair
from a27_pos import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    VOTE_DOMAIN,
    CommitCertificate,
    CommitSignature,
    Evidence,
    InvalidCertificate,
    InvalidEvidence,
    InvalidSignature,
    MalformedVote,
    Validator,
    ValidatorSet,
    Vote,
)

STRANGER = KeyPair.from_seed(bytes([0x13]) * 32)
THIRD = KeyPair.from_seed(bytes([0x14]) * 32)
VALIDATORS = ValidatorSet((Validator(PROPOSER.public_key, 10), Validator(VOTER.public_key, 10),
                           Validator(THIRD.public_key, 10)))


def precommits(*keys: KeyPair, block_id: bytes = BLOCK_ID) -> CommitCertificate:
    return CommitCertificate.from_votes([vote(key, PRECOMMIT, block_id) for key in keys])


def test_vote_layout_and_signing_bytes() -> None:
    prevote = vote(VOTER, PREVOTE, BLOCK_ID)
    encoded = prevote.encode()
    assert len(encoded) == 141
    assert encoded[0] == PREVOTE
    assert int.from_bytes(encoded[1:9], "big") == 7
    assert int.from_bytes(encoded[9:13], "big") == 2
    assert encoded[13:45] == BLOCK_ID
    assert encoded[45:77] == VOTER.public_key
    assert prevote.signing_bytes(CHAIN_ID) == VOTE_DOMAIN + bytes([11]) + CHAIN_ID.encode() + encoded[:45]


def test_a_vote_verifies_only_on_its_chain_and_unchanged() -> None:
    prevote = vote(VOTER, PREVOTE, BLOCK_ID)
    prevote.verify(CHAIN_ID)
    with pytest.raises(InvalidSignature):
        prevote.verify("another-chain")
    for changed in (attrs.evolve(prevote, round=3), attrs.evolve(prevote, type=PRECOMMIT),
                    attrs.evolve(prevote, block_id=NIL), attrs.evolve(prevote, validator=PROPOSER.public_key)):
        with pytest.raises(InvalidSignature):
            changed.verify(CHAIN_ID)


def test_signing_needs_the_validators_key_and_unsigned_votes_do_not_encode() -> None:
    unsigned = Vote(PREVOTE, 1, 0, NIL, VOTER.public_key)
    with pytest.raises(ValueError, match="validator"):
        unsigned.signed(PROPOSER, CHAIN_ID)
    with pytest.raises(MalformedVote, match="not signed"):
        unsigned.encode()
    assert unsigned.is_nil
    assert "nil" in repr(unsigned)


@pytest.mark.parametrize(("field", "value"), [("type", 3), ("height", -1), ("round", 2**32), ("block_id", b"x"),
                                               ("validator", bytes(31)), ("signature", bytes(10))])
def test_unrepresentable_votes_are_refused(field: str, value: object) -> None:
    with pytest.raises(MalformedVote):
        attrs.evolve(vote(VOTER, PREVOTE, BLOCK_ID), **{field: value})


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_malformed_vote(data: bytes) -> None:
    for decoder in (Vote.decode, CommitCertificate.decode, Evidence.decode):
        try:
            decoded = decoder(data)
        except MalformedVote:
            continue
        assert decoded.encode() == data


def test_certificate_verifies_with_two_thirds() -> None:
    precommits(PROPOSER, VOTER, THIRD).verify(VALIDATORS, CHAIN_ID)
    with pytest.raises(InvalidCertificate, match="not more than 2/3"):
        precommits(PROPOSER, VOTER).verify(VALIDATORS, CHAIN_ID)
    heavier = ValidatorSet((Validator(PROPOSER.public_key, 21), Validator(VOTER.public_key, 5),
                            Validator(THIRD.public_key, 5)))
    precommits(PROPOSER).verify(heavier, CHAIN_ID)


def test_certificate_refuses_strangers_forgeries_and_other_chains() -> None:
    with pytest.raises(InvalidCertificate, match="not a validator"):
        precommits(PROPOSER, VOTER, THIRD, STRANGER).verify(VALIDATORS, CHAIN_ID)
    certificate = precommits(PROPOSER, VOTER, THIRD)
    forged = attrs.evolve(certificate, block_id=OTHER_ID)
    with pytest.raises(InvalidCertificate, match="does not verify"):
        forged.verify(VALIDATORS, CHAIN_ID)
    with pytest.raises(InvalidCertificate, match="does not verify"):
        certificate.verify(VALIDATORS, "another-chain")


def test_certificate_construction_sorts_and_refuses_duplicates_and_nil() -> None:
    certificate = precommits(THIRD, VOTER, PROPOSER)
    assert list(certificate.signers) == sorted(certificate.signers)
    assert [vote.validator for vote in certificate.votes()] == list(certificate.signers)
    twice = certificate.signatures[0]
    with pytest.raises(MalformedVote, match="twice"):
        CommitCertificate(7, 2, BLOCK_ID, (twice, twice))
    with pytest.raises(MalformedVote, match="nil"):
        CommitCertificate(7, 2, NIL, (CommitSignature(VOTER.public_key, bytes(64)),))
    with pytest.raises(ValueError, match="precommits for one block"):
        CommitCertificate.from_votes([vote(VOTER, PRECOMMIT, BLOCK_ID), vote(PROPOSER, PREVOTE, BLOCK_ID)])
    with pytest.raises(ValueError, match="at least one"):
        CommitCertificate.from_votes([])


def test_certificate_decoding_refuses_unsorted_signers_and_trailing_bytes() -> None:
    certificate = precommits(PROPOSER, VOTER)
    encoded = certificate.encode()
    first, second = encoded[46:142], encoded[142:238]
    with pytest.raises(MalformedVote, match="strictly increasing"):
        CommitCertificate.decode(encoded[:46] + second + first)
    with pytest.raises(MalformedVote, match="trailing"):
        CommitCertificate.decode(encoded + b"\x00")
    assert CommitCertificate.decode(encoded) == certificate


def test_evidence_orders_its_votes_and_verifies() -> None:
    one, other = vote(VOTER, PREVOTE, BLOCK_ID), vote(VOTER, PREVOTE, NIL)
    evidence = Evidence.from_votes(one, other)
    assert evidence == Evidence.from_votes(other, one)
    assert (evidence.first, evidence.second) == (other, one)
    assert evidence.offender == VOTER.public_key
    assert evidence.height == 7
    evidence.verify(CHAIN_ID)
    evidence.check_offender(VALIDATORS)
    with pytest.raises(InvalidEvidence, match="does not verify"):
        evidence.verify("another-chain")
    with pytest.raises(InvalidEvidence, match="not a validator"):
        evidence.check_offender(ValidatorSet((Validator(PROPOSER.public_key, 1),)))


@pytest.mark.parametrize("other", [
    vote(VOTER, PREVOTE, BLOCK_ID),
    vote(PROPOSER, PREVOTE, NIL),
    vote(VOTER, PRECOMMIT, NIL),
    vote(VOTER, PREVOTE, NIL, height=8),
    vote(VOTER, PREVOTE, NIL, round_number=3),
])
def test_votes_that_do_not_conflict_are_not_evidence(other: Vote) -> None:
    with pytest.raises(InvalidEvidence):
        Evidence.from_votes(vote(VOTER, PREVOTE, BLOCK_ID), other)


def test_evidence_decoding_refuses_non_conflicting_pairs() -> None:
    one = vote(VOTER, PREVOTE, BLOCK_ID).encode()
    with pytest.raises(MalformedVote, match="not evidence"):
        Evidence.decode(one + one)
