"""Decoded blocks, proposals, votes and certificates are shared: the same bytes give the same immutable object."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from samples import CHAIN_ID, PROPOSER, VOTER, block, certificate, vote

from a27_ledger import Transaction, decoded_objects, signature_cache
from a27_ledger.cache import DECODED_CACHE_ENTRIES
from a27_pos import (
    PREVOTE,
    Block,
    CommitCertificate,
    MalformedBlock,
    MalformedVote,
    Proposal,
    Vote,
    pos_registry,
)

REGISTRY = pos_registry()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts and ends with empty caches."""
    decoded_objects.clear()
    signature_cache.clear()
    yield
    decoded_objects.clear()
    signature_cache.clear()


def test_a_block_decoded_twice_is_the_identical_object_made_of_shared_parts() -> None:
    encoded = block().encode()
    first = Block.decode(encoded, REGISTRY)
    assert Block.decode(bytes(bytearray(encoded)), REGISTRY) is first
    assert Block.decode(memoryview(encoded), REGISTRY) is first
    transaction = first.transactions[0]
    assert Transaction.decode(transaction.encode(), REGISTRY) is transaction
    assert first.last_commit is not None
    assert CommitCertificate.decode(first.last_commit.encode()) is first.last_commit
    assert Vote.decode(first.evidence[0].first.encode()) is first.evidence[0].first


def test_every_node_s_own_registry_with_the_same_kinds_shares_blocks() -> None:
    # Each chain builds its own registry (pos_registry()); nodes must still share one decoded block.
    encoded = block().encode()
    assert Block.decode(encoded, pos_registry()) is Block.decode(encoded, pos_registry()) is Block.decode(
        encoded, REGISTRY)


class _ExtraKind:
    """A kind only some registries hold (register reads nothing but KIND)."""

    KIND = 200
    NAME = "extra"


def test_registries_with_different_kinds_do_not_share_blocks_or_their_transactions() -> None:
    encoded = block().encode()
    other = REGISTRY.copy()
    other.register(_ExtraKind)  # type: ignore[type-var]
    mine, theirs = Block.decode(encoded, REGISTRY), Block.decode(encoded, other)
    assert mine == theirs and mine is not theirs
    assert mine.transactions[0] is not theirs.transactions[0]
    assert Block.decode(encoded, other) is theirs


def test_a_proposal_decoded_twice_is_identical_and_shares_its_block() -> None:
    proposal = Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block())
    first = Proposal.decode(proposal.encode(), REGISTRY)
    assert first == proposal
    assert Proposal.decode(bytes(bytearray(proposal.encode())), REGISTRY) is first
    assert Block.decode(proposal.block.encode(), REGISTRY) is first.block
    first.verify(CHAIN_ID)


def test_votes_and_certificates_decoded_twice_are_identical() -> None:
    encoded_vote = vote(VOTER, PREVOTE, bytes(range(32))).encode()
    assert Vote.decode(encoded_vote) is Vote.decode(bytearray(encoded_vote))
    encoded_certificate = certificate().encode()
    assert CommitCertificate.decode(encoded_certificate) is CommitCertificate.decode(encoded_certificate)


def test_bad_bytes_are_refused_every_time_and_never_cached() -> None:
    bad_block = block().encode() + b"\x00"
    bad_proposal = Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block()).encode()[:-1]
    bad_vote = b"\x03" + vote(VOTER, PREVOTE, bytes(range(32))).encode()[1:]
    bad_certificate = certificate().encode()[:-1]

    def refuse_all() -> None:
        with pytest.raises(MalformedBlock):
            Block.decode(bad_block, REGISTRY)
        with pytest.raises(MalformedBlock):
            Proposal.decode(bad_proposal, REGISTRY)
        with pytest.raises(MalformedVote):
            Vote.decode(bad_vote)
        with pytest.raises(MalformedVote):
            Vote.decode("not bytes")  # type: ignore[arg-type]
        with pytest.raises(MalformedVote):
            CommitCertificate.decode(bad_certificate)

    refuse_all()
    # Decoding the bad block and proposal decoded their good parts, which are shared; the bad wholes are not.
    before = decoded_objects.stats()
    refuse_all()
    after = decoded_objects.stats()
    assert after.entries == before.entries
    assert after.misses - before.misses == 5  # block, proposal, its block, vote, certificate: each decoded again


def test_shared_objects_are_immutable() -> None:
    shared = Block.decode(block().encode(), REGISTRY)
    for instance in (shared, shared.header, shared.last_commit, shared.evidence[0], shared.evidence[0].first,
                     shared.transactions[0]):
        assert attrs.has(type(instance))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            object.__getattribute__(type(instance), "__setattr__")(instance, "signature", b"")
        assert not hasattr(instance, "__dict__")
    assert type(shared.transactions) is tuple and type(shared.evidence) is tuple
    assert shared.last_commit is not None and type(shared.last_commit.signatures) is tuple


def test_shared_votes_stay_bounded() -> None:
    signature = bytes(64)
    count = DECODED_CACHE_ENTRIES + 1_000
    for height in range(count):
        Vote.decode(Vote(PREVOTE, height, 0, bytes(32), VOTER.public_key, signature).encode())
    assert decoded_objects.stats().entries == DECODED_CACHE_ENTRIES
    assert decoded_objects.stats().evictions == 1_000
