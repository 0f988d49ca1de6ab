"""Proposal evidence (revision 3), evidence of either kind in blocks and stores, and the PoS defence switches."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import evidence as vote_evidence
from samples import proposal_evidence

from a27_ledger import KeyPair, sign_transfer
from a27_pos import (
    NIL,
    NO_ROUND,
    PREVOTE,
    Chain,
    ConflictingProposal,
    ConsensusEngine,
    Evidence,
    EvidenceFound,
    InvalidBlock,
    InvalidEvidence,
    InvalidSignature,
    MalformedBlock,
    MalformedVote,
    PosDefences,
    Proposal,
    ProposalEvidence,
    RefusedInput,
    SendToValidators,
    SQLiteChainStore,
    Timeouts,
    Vote,
    bonded_stake,
    decode_evidence,
    pos_registry,
    tombstone_height,
)
from a27_pos.block import Block
from a27_pos.consensus import Action
from a27_pos.testing import certify, extend, make_validators

KEYS, GENESIS = make_validators(4, seed=61)
CHAIN_ID = GENESIS.chain_id
NOW = 10.0


def key_of(account: bytes) -> KeyPair:
    return next(key for key in KEYS if key.public_key == account)


def proposer_key(chain: Chain, round_number: int = 0) -> KeyPair:
    """The key of the proposer of (next height, round)."""
    return next(key for key in KEYS if key.public_key == chain.proposer(chain.height + 1, round_number))


def twin_proposals(chain: Chain, round_number: int = 0) -> tuple[Proposal, Proposal]:
    """Two different proposals the proposer of (next height, round) signs."""
    key = proposer_key(chain, round_number)
    blocks = [chain.build_block(key, round_number, int(NOW * 1000) + offset) for offset in (0, 1)]
    one, other = (Proposal.create(key, CHAIN_ID, round_number, NO_ROUND, block) for block in blocks)
    return one, other


def engine_of(index: int, defences: PosDefences | None = None) -> ConsensusEngine:
    return ConsensusEngine(KEYS[index], Chain.start(GENESIS), timeouts=Timeouts(commit=0.0), defences=defences)


def a_follower(defences: PosDefences | None = None) -> ConsensusEngine:
    proposer = Chain.start(GENESIS).proposer(1, 0)
    return engine_of(next(index for index, key in enumerate(KEYS) if key.public_key != proposer), defences)


def found(actions: list[Action]) -> list[object]:
    return [action.evidence for action in actions if isinstance(action, EvidenceFound)]


# The evidence itself -------------------------------------------------------------------------------------------


def test_proposal_evidence_has_one_encoding_whatever_the_order() -> None:
    one, other = twin_proposals(Chain.start(GENESIS))
    evidence = ProposalEvidence.from_proposals(one, other)
    assert evidence == ProposalEvidence.from_proposals(other, one)
    assert evidence.offender == one.proposer and evidence.height == 1 and evidence.round == 0
    assert len(evidence.encode()) == 245 and evidence.encode()[0] == 3
    assert ProposalEvidence.decode(evidence.encode()) == evidence == decode_evidence(evidence.encode())
    evidence.verify(CHAIN_ID)


def test_a_different_pol_round_for_the_same_block_is_equivocation_too() -> None:
    one, _ = twin_proposals(Chain.start(GENESIS), round_number=1)
    key = key_of(one.proposer)
    relocked = Proposal.create(key, CHAIN_ID, 1, 0, one.block)
    ProposalEvidence.from_proposals(one, relocked).verify(CHAIN_ID)


def test_proposals_that_do_not_conflict_are_no_evidence() -> None:
    chain = Chain.start(GENESIS)
    one, _ = twin_proposals(chain)
    with pytest.raises(InvalidEvidence, match="differ"):
        ProposalEvidence.from_proposals(one, one)
    later, _ = twin_proposals(chain, round_number=1)
    with pytest.raises(InvalidEvidence, match="height, round or proposer"):
        ProposalEvidence.from_proposals(one, later)


def test_evidence_of_another_chain_or_forged_does_not_verify() -> None:
    evidence = ProposalEvidence.from_proposals(*twin_proposals(Chain.start(GENESIS)))
    with pytest.raises(InvalidEvidence, match="does not verify"):
        evidence.verify("another-chain")
    forged = attrs.evolve(evidence, second=attrs.evolve(evidence.second, signature=bytes(64)))
    with pytest.raises(InvalidEvidence, match="does not verify"):
        forged.verify(CHAIN_ID)


@pytest.mark.parametrize(("name", "damage"), [
    ("empty", lambda data: b""),
    ("unknown kind 0", lambda data: b"\x00" + data[1:]),
    ("unknown kind 4", lambda data: b"\x04" + data[1:]),
    ("short", lambda data: data[:-1]),
    ("trailing byte", lambda data: data + b"\x00"),
    ("parts swapped", lambda data: data[:45] + data[145:] + data[45:145]),
    ("parts equal", lambda data: data[:145] + data[45:145]),
    ("pol_round not before the round", lambda data: data[:45] + b"\x00\x00\x00\x07" + data[49:]),
])
def test_malformed_evidence_is_refused(name: str, damage: object) -> None:
    data = damage(proposal_evidence().encode())  # type: ignore[operator]
    with pytest.raises(MalformedVote):
        decode_evidence(data)


@given(st.one_of(st.binary(max_size=600), st.sampled_from([3, 1, 2]).flatmap(
    lambda kind: st.binary(min_size=244, max_size=281).map(lambda rest: bytes([kind]) + rest))))
def test_decoding_any_bytes_gives_evidence_or_malformed_vote(data: bytes) -> None:
    try:
        decoded = decode_evidence(data)
    except MalformedVote:
        return
    assert decoded.encode() == data


@pytest.mark.parametrize("sample", [vote_evidence, proposal_evidence])
def test_either_kind_decodes_from_a_memoryview(sample: object) -> None:
    encoded = sample().encode()  # type: ignore[operator]
    assert decode_evidence(memoryview(encoded)) == sample()  # type: ignore[operator]


def test_a_block_with_an_unknown_evidence_kind_does_not_decode() -> None:
    chain = Chain.start(GENESIS)
    evidence = ProposalEvidence.from_proposals(*twin_proposals(chain))
    built = chain.build_block(KEYS[0], 0, 1_000, evidence=[evidence])
    encoded = bytearray(built.encode())
    encoded[encoded.index(evidence.encode())] = 9
    with pytest.raises(MalformedBlock, match="evidence 0"):
        Block.decode(bytes(encoded), pos_registry())


# Slashing ------------------------------------------------------------------------------------------------------


def test_proposal_evidence_in_a_block_slashes_and_tombstones_the_proposer(tmp_path: object) -> None:
    store = SQLiteChainStore(f"{tmp_path}/chain.db", pos_registry())
    chain = Chain.start(GENESIS, chain_store=store)
    evidence = ProposalEvidence.from_proposals(*twin_proposals(chain))
    extend(chain, KEYS)
    chain.check_evidence(evidence, 2)
    block = extend(chain, KEYS, evidence=[evidence])
    assert block.evidence == (evidence,)
    offender = evidence.offender
    assert tombstone_height(chain.state, offender) == 1
    assert bonded_stake(chain.state, offender) == 10_000 - 10_000 * chain.params.slash_percent // 100
    assert offender not in chain.validator_set(chain.height + 1)
    assert store.evidence(offender) == [(2, evidence)]
    with pytest.raises(InvalidEvidence, match="already punished"):
        chain.check_evidence(evidence, 3)
    chain.check_invariants()


def test_one_offender_is_punished_once_whatever_the_kind() -> None:
    chain = Chain.start(GENESIS)
    evidence = ProposalEvidence.from_proposals(*twin_proposals(chain))
    key = key_of(evidence.offender)
    votes = [Vote(PREVOTE, 1, 0, block_id, evidence.offender).signed(key, CHAIN_ID)
             for block_id in (NIL, bytes([1]) * 32)]
    extend(chain, KEYS)
    with pytest.raises(InvalidEvidence, match="two evidence entries"):
        chain.check_block(chain.build_block(proposer_key(chain), 0, 5_000,
                                            evidence=[evidence, Evidence.from_votes(*votes)]))


# The engine and its switches -----------------------------------------------------------------------------------


def test_an_engine_that_sees_two_proposals_of_a_round_reports_and_gossips_evidence() -> None:
    engine = a_follower()
    engine.start(NOW)
    one, other = twin_proposals(engine.chain)
    engine.on_proposal(one, NOW)
    actions = engine.on_proposal(other, NOW)
    evidence = ProposalEvidence.from_proposals(one, other)
    assert [type(action.error) for action in actions if isinstance(action, RefusedInput)] == [ConflictingProposal]
    assert found(actions) == [evidence] and SendToValidators(evidence) in actions
    assert list(engine.pending_evidence.values()) == [evidence]
    assert found(engine.on_proposal(other, NOW)) == []


def test_a_forged_second_proposal_is_no_evidence() -> None:
    engine = a_follower()
    engine.start(NOW)
    one, other = twin_proposals(engine.chain)
    engine.on_proposal(one, NOW)
    actions = engine.on_proposal(attrs.evolve(other, signature=bytes(64)), NOW)
    assert found(actions) == [] and engine.pending_evidence == {}
    assert InvalidSignature in [type(action.error) for action in actions if isinstance(action, RefusedInput)]


def test_with_proposal_evidence_off_a_node_neither_builds_nor_keeps_it() -> None:
    engine = a_follower(PosDefences(proposal_evidence=False))
    engine.start(NOW)
    one, other = twin_proposals(engine.chain)
    engine.on_proposal(one, NOW)
    assert found(engine.on_proposal(other, NOW)) == []
    assert engine.on_evidence(ProposalEvidence.from_proposals(one, other), NOW) == []
    assert engine.pending_evidence == {}


def test_with_vote_evidence_off_a_node_neither_builds_nor_keeps_it() -> None:
    engine = a_follower(PosDefences(vote_evidence=False))
    engine.start(NOW)
    offender = next(key for key in KEYS if key is not engine.key)
    votes = [Vote(PREVOTE, 1, 0, block_id, offender.public_key).signed(offender, CHAIN_ID)
             for block_id in (NIL, bytes([1]) * 32)]
    engine.on_vote(votes[0], NOW)
    assert found(engine.on_vote(votes[1], NOW)) == []
    assert engine.on_evidence(Evidence.from_votes(*votes), NOW) == []
    assert engine.pending_evidence == {}


def test_defences_default_on_and_none_switches_every_one_off() -> None:
    assert all(attrs.asdict(PosDefences()).values())
    assert not any(attrs.asdict(PosDefences.none()).values())


def test_without_the_transaction_check_a_block_that_does_not_apply_passes_the_check_but_is_never_applied() -> None:
    chain = Chain.start(GENESIS)
    spender, payee, other_payee = KEYS[0], KEYS[1], KEYS[2]
    double_spend = [sign_transfer(spender, payee.public_key, 500_000, 0),
                    sign_transfer(spender, other_payee.public_key, 500_000, 0)]
    block = chain.build_block(proposer_key(chain), 0, 1_000, transactions=double_spend)
    with pytest.raises(InvalidBlock, match="does not apply"):
        chain.check_block(block)
    chain.check_block(block, check_transactions=False)
    before = chain.state.snapshot().digest()
    with pytest.raises(InvalidBlock):
        extend(chain, KEYS, transactions=double_spend)
    assert chain.state.snapshot().digest() == before and chain.height == 0


# Two certificates at one height --------------------------------------------------------------------------------


def test_two_certificates_for_one_height_and_round_name_every_double_signer() -> None:
    chain = Chain.start(GENESIS)
    one, other = twin_proposals(chain)
    first = certify(one.block, KEYS[:3])
    second = certify(other.block, KEYS[1:])
    evidence = Evidence.conflicting_certificates(first, second)
    assert {item.offender for item in evidence} == {KEYS[1].public_key, KEYS[2].public_key}
    for item in evidence:
        item.verify(CHAIN_ID)
    assert Evidence.conflicting_certificates(first, certify(other.block, KEYS[1:], round_number=1)) == []
    with pytest.raises(ValueError, match="different blocks"):
        Evidence.conflicting_certificates(first, first)
