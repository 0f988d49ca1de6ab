"""One sample of every encoding of this layer, from fixed keys (Ed25519 signatures are deterministic)."""

from __future__ import annotations

from typing import Any

from a27_ledger import KeyPair, sign_transfer
from a27_pos import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    Block,
    CommitCertificate,
    Evidence,
    PosParams,
    Proposal,
    ProposalEvidence,
    Validator,
    ValidatorSet,
    Vote,
    sign_bond,
    sign_unbond,
)

CHAIN_ID = "a27-vectors"
PROPOSER = KeyPair.from_seed(bytes([0x11]) * 32)
VOTER = KeyPair.from_seed(bytes([0x12]) * 32)
SENDER = KeyPair.from_seed(bytes([0x01]) * 32)
RECIPIENT = KeyPair.from_seed(bytes([0x02]) * 32)
BLOCK_ID = bytes(range(32))
OTHER_ID = bytes(range(32, 64))


def vote(key: KeyPair, vote_type: int, block_id: bytes, height: int = 7, round_number: int = 2) -> Vote:
    return Vote(vote_type, height, round_number, block_id, key.public_key).signed(key, CHAIN_ID)


def certificate() -> CommitCertificate:
    return CommitCertificate.from_votes([vote(key, PRECOMMIT, OTHER_ID, height=6, round_number=0)
                                         for key in (PROPOSER, VOTER)])


def evidence() -> Evidence:
    return Evidence.from_votes(vote(VOTER, PREVOTE, BLOCK_ID, height=5), vote(VOTER, PREVOTE, NIL, height=5))


def block() -> Block:
    return Block.build(PROPOSER, chain_id=CHAIN_ID, height=7, round=2, timestamp=1_700_000_000_123,
                       parent_id=OTHER_ID, transactions=[sign_transfer(SENDER, RECIPIENT.public_key, 1234, 7, 3)],
                       evidence=[evidence()], last_commit=certificate())


def proposal_evidence() -> ProposalEvidence:
    """Revision 3: the proposer of height 7, round 3 signed two proposals (another block, and another pol_round)."""
    twin = Block.build(PROPOSER, chain_id=CHAIN_ID, height=7, round=3, timestamp=1_700_000_000_124,
                       parent_id=OTHER_ID, last_commit=certificate())
    return ProposalEvidence.from_proposals(Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block()),
                                           Proposal.create(PROPOSER, CHAIN_ID, 3, -1, twin))


def block_with_both_evidence_kinds() -> Block:
    """Revision 3: a block carrying vote evidence and proposal evidence."""
    return Block.build(PROPOSER, chain_id=CHAIN_ID, height=9, round=0, timestamp=1_700_000_000_456,
                       parent_id=BLOCK_ID, evidence=[evidence(), proposal_evidence()], last_commit=certificate())


def first_block() -> Block:
    return Block.build(PROPOSER, chain_id=CHAIN_ID, height=1, round=0, timestamp=1_000, parent_id=BLOCK_ID)


def samples() -> dict[str, Any]:
    """Every encoded object by name."""
    return {
        "prevote": vote(VOTER, PREVOTE, BLOCK_ID),
        "precommit_nil": vote(VOTER, PRECOMMIT, NIL),
        "certificate": certificate(),
        "evidence": evidence(),
        "block": block(),
        "first_block": first_block(),
        "proposal": Proposal.create(PROPOSER, CHAIN_ID, 3, 2, block()),
        "proposal_without_pol": Proposal.create(PROPOSER, CHAIN_ID, 0, -1, first_block()),
        "validator_set": ValidatorSet((Validator(PROPOSER.public_key, 10, -5), Validator(VOTER.public_key, 2**40, 7))),
        "params": PosParams(),
        "bond": sign_bond(SENDER, 5_000, 8, fee=1),
        "unbond": sign_unbond(SENDER, 2_000, 9),
        "proposal_evidence": proposal_evidence(),
        "block_with_both_evidence_kinds": block_with_both_evidence_kinds(),
    }
