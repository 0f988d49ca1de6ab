"""Proposal equivocation evidence, and reading either kind of evidence by its first byte (PROTOCOL.md, revision 3).

An evidence entry starts with its kind: ``1`` or ``2`` (the vote type of its first vote) is vote evidence
(`a27_pos.votes.Evidence`, 282 bytes), ``3`` is proposal evidence (`ProposalEvidence`, 245 bytes)::

    kind u8 (=3) | height u64 | round u32 | proposer 32 | (pol_round u32 | block_id 32 | signature 64) * 2

The two signed parts are ordered by ``block_id | pol_round`` (strictly increasing), so one offence has one
encoding. A proposal's signature covers only ``height | round | pol_round | block_id`` (and the chain id), not the
block, so the evidence does not carry the blocks. This module also holds what a proposer signs, which the evidence
and `a27_pos.block.Proposal` share.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING, Any

import attrs

from a27_ledger import decode_shared, verify_signature
from a27_pos.encoding import MAX_UINT32, MAX_UINT64, Reader, chain_id_field
from a27_pos.errors import InvalidEvidence, MalformedVote
from a27_pos.votes import PRECOMMIT, PREVOTE, VOTE_LENGTH, Evidence

if TYPE_CHECKING:
    from a27_pos.block import Proposal
    from a27_pos.validators import ValidatorSet

PROPOSAL_DOMAIN = b"a27/pos/proposal/v1"
NO_ROUND = -1
"""The pol_round of a proposal without a proof of lock."""
NO_ROUND_WIRE = MAX_UINT32
"""How `NO_ROUND` travels."""
PROPOSAL_EVIDENCE_KIND = 3
"""The first byte of a proposal evidence entry (vote evidence starts with its vote type, 1 or 2)."""
VOTE_EVIDENCE_LENGTH = 2 * VOTE_LENGTH
_HEAD = struct.Struct(">BQI32s")
_SIGNED = struct.Struct(">I32s64s")
PROPOSAL_EVIDENCE_LENGTH = _HEAD.size + 2 * _SIGNED.size


def proposal_signing_bytes(chain_id: str, height: int, round_number: int, pol_round: int, block_id: bytes) -> bytes:
    """What a proposer signs for a proposal: the domain, the chain id field, height, round, pol_round, block id."""
    wire_pol = NO_ROUND_WIRE if pol_round == NO_ROUND else pol_round
    return PROPOSAL_DOMAIN + chain_id_field(chain_id) + struct.pack(">QII", height, round_number, wire_pol) + block_id


def _signed_part(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, SignedProposal):
        raise InvalidEvidence(f"{attribute.name} must be a SignedProposal")


@attrs.frozen
class SignedProposal:
    """What a proposer signed for one proposal, without its block: proof-of-lock round, block id and signature."""

    pol_round: int
    block_id: bytes
    signature: bytes

    def __attrs_post_init__(self) -> None:
        """Refuse what the encoding cannot hold."""
        if type(self.pol_round) is not int or not NO_ROUND <= self.pol_round < MAX_UINT32:
            raise InvalidEvidence(f"pol_round {self.pol_round!r} is neither -1 nor a round number")
        if type(self.block_id) is not bytes or len(self.block_id) != 32:
            raise InvalidEvidence("block_id must be 32 bytes")
        if type(self.signature) is not bytes or len(self.signature) != 64:
            raise InvalidEvidence("a proposal signature is 64 bytes")

    @property
    def sort_key(self) -> bytes:
        """``block_id | pol_round`` (u32, 0xFFFFFFFF for none): the order of the two parts in the evidence."""
        return self.block_id + struct.pack(">I", NO_ROUND_WIRE if self.pol_round == NO_ROUND else self.pol_round)

    def encode(self) -> bytes:
        """``pol_round u32 | block_id 32 | signature 64``."""
        return _SIGNED.pack(NO_ROUND_WIRE if self.pol_round == NO_ROUND else self.pol_round, self.block_id,
                            self.signature)


def _ordered(instance: ProposalEvidence, _attribute: attrs.Attribute[Any], second: SignedProposal) -> None:
    _signed_part(instance, _attribute, second)
    if not instance.first.sort_key < second.sort_key:
        raise InvalidEvidence("evidence proposals must differ in block id or pol_round, the smaller one first")
    for part in (instance.first, second):
        if part.pol_round != NO_ROUND and part.pol_round >= instance.round:
            raise InvalidEvidence(f"pol_round {part.pol_round} is not before round {instance.round}")


def _height(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value <= MAX_UINT64:
        raise InvalidEvidence(f"height {value!r} is not a u64")


def _round(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not 0 <= value < MAX_UINT32:
        raise InvalidEvidence(f"round {value!r} is not a round number")


def _account(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise InvalidEvidence("proposer must be 32 bytes")


@attrs.frozen
class ProposalEvidence:
    """Proof that a validator signed two different proposals for one height and round (proposal equivocation).

    Construction checks the structure (InvalidEvidence); `verify` checks the signatures. It has the interface of
    vote evidence (`offender`, `height`, `verify`, `check_offender`, `encode`, `evidence_id`), so blocks, the chain
    and the engine handle both kinds alike.
    """

    height: int = attrs.field(validator=_height)
    round: int = attrs.field(validator=_round)
    proposer: bytes = attrs.field(validator=_account)
    first: SignedProposal = attrs.field(validator=_signed_part)
    second: SignedProposal = attrs.field(validator=_ordered)

    @classmethod
    def from_proposals(cls, one: Proposal, other: Proposal) -> ProposalEvidence:
        """Evidence from two signed `Proposal`s in either order; InvalidEvidence if they do not conflict."""
        if (one.height, one.round, one.proposer) != (other.height, other.round, other.proposer):
            raise InvalidEvidence("evidence proposals differ in height, round or proposer")
        parts = sorted((SignedProposal(proposal.pol_round, proposal.block.block_id, proposal.signature)
                        for proposal in (one, other)), key=lambda part: part.sort_key)
        return cls(one.height, one.round, one.proposer, parts[0], parts[1])

    @property
    def offender(self) -> bytes:
        """The validator that signed both proposals."""
        return self.proposer

    def verify(self, chain_id: str) -> None:
        """Raise InvalidEvidence unless both proposal signatures are the proposer's on `chain_id`."""
        for part in (self.first, self.second):
            signed = proposal_signing_bytes(chain_id, self.height, self.round, part.pol_round, part.block_id)
            if not verify_signature(self.proposer, signed, part.signature):
                raise InvalidEvidence(f"evidence proposal of {self.proposer.hex()[:8]} does not verify")

    def check_offender(self, validator_set: ValidatorSet) -> None:
        """Raise InvalidEvidence unless the offender is in `validator_set` (the set of the offence's height)."""
        if self.proposer not in validator_set:
            raise InvalidEvidence(f"{self.proposer.hex()[:8]} was not a validator at height {self.height}")

    def encode(self) -> bytes:
        """The 245-byte canonical encoding."""
        return (_HEAD.pack(PROPOSAL_EVIDENCE_KIND, self.height, self.round, self.proposer) + self.first.encode()
                + self.second.encode())

    @property
    def evidence_id(self) -> bytes:
        """sha256 of the encoding."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> ProposalEvidence:
        """Parse the canonical encoding; raises only MalformedVote."""
        return decode_shared(cls._decode, data)

    @classmethod
    def _decode(cls, data: bytes) -> ProposalEvidence:
        if not isinstance(data, bytes) or len(data) != PROPOSAL_EVIDENCE_LENGTH:
            raise MalformedVote(f"proposal evidence is {PROPOSAL_EVIDENCE_LENGTH} bytes")
        kind, height, round_number, proposer = _HEAD.unpack_from(data)
        if kind != PROPOSAL_EVIDENCE_KIND:
            raise MalformedVote(f"proposal evidence starts with {PROPOSAL_EVIDENCE_KIND}, not {kind}")
        parts = []
        for offset in (_HEAD.size, _HEAD.size + _SIGNED.size):
            wire_pol, block_id, signature = _SIGNED.unpack_from(data, offset)
            parts.append((NO_ROUND if wire_pol == NO_ROUND_WIRE else wire_pol, block_id, signature))
        try:
            return cls(height, round_number, proposer, SignedProposal(*parts[0]), SignedProposal(*parts[1]))
        except InvalidEvidence as error:
            raise MalformedVote(f"not proposal evidence: {error}") from error

    def __repr__(self) -> str:
        """Position, offender and the two block ids."""
        return (f"ProposalEvidence(h={self.height} r={self.round} by {self.proposer.hex()[:8]}: "
                f"{self.first.block_id.hex()[:8]} / {self.second.block_id.hex()[:8]})")


AnyEvidence = Evidence | ProposalEvidence
"""Either kind of equivocation evidence."""


def read_evidence(reader: Reader) -> AnyEvidence:
    """Read one evidence entry of either kind off `reader` (its first byte tells the kind); MalformedVote or the
    reader's error on anything wrong."""
    start = reader.offset
    kind = reader.u8()
    length = PROPOSAL_EVIDENCE_LENGTH if kind == PROPOSAL_EVIDENCE_KIND else VOTE_EVIDENCE_LENGTH
    if kind not in (PREVOTE, PRECOMMIT, PROPOSAL_EVIDENCE_KIND):
        raise MalformedVote(f"unknown evidence kind {kind}")
    reader.take(length - 1)
    data = reader.slice_from(start)
    return ProposalEvidence.decode(data) if kind == PROPOSAL_EVIDENCE_KIND else Evidence.decode(data)


def decode_evidence(data: bytes | bytearray | memoryview) -> AnyEvidence:
    """Parse one evidence entry of either kind, exactly (no trailing bytes); raises only MalformedVote."""
    reader = Reader(data, MalformedVote)
    evidence = read_evidence(reader)
    reader.finish()
    return evidence
