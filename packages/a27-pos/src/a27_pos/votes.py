"""Votes, commit certificates and equivocation evidence: signed, self-authenticating, one encoding each.

Vote encoding (141 bytes)::

    type u8 (1 prevote, 2 precommit) | height u64 | round u32 | block_id 32 (zeros: nil) | validator 32 | signature 64

The signature is Ed25519 by `validator` over ``b"a27/pos/vote/v1" | chain id (u8 length, UTF-8) | type | height |
round | block_id``: the chain id is signed but not sent, so a vote of one chain never counts on another.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from a27_ledger import KeyPair, decode_shared, verify_signature
from a27_pos.encoding import MAX_UINT32, MAX_UINT64, Reader, chain_id_field
from a27_pos.errors import InvalidCertificate, InvalidEvidence, InvalidSignature, MalformedVote

if TYPE_CHECKING:
    from a27_pos.validators import ValidatorSet

PREVOTE = 1
PRECOMMIT = 2
NIL = bytes(32)
"""The block id of a vote for nothing."""
VOTE_DOMAIN = b"a27/pos/vote/v1"
VOTE_LENGTH = 141
_VOTE_BODY = struct.Struct(">BQI32s")
_VOTE = struct.Struct(">BQI32s32s64s")
_CERTIFICATE_HEAD = struct.Struct(">QI32sH")
_COMMIT_SIGNATURE = struct.Struct(">32s64s")
_VOTE_NAMES = {PREVOTE: "prevote", PRECOMMIT: "precommit"}


def _vote_type(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in _VOTE_NAMES or type(value) is not int:
        raise MalformedVote(f"vote type {value!r} is not 1 (prevote) or 2 (precommit)")


def _bounded(limit: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not 0 <= value <= limit:
            raise MalformedVote(f"{attribute.name} {value!r} is not an integer in 0..{limit}")

    return check


def _exact_bytes(length: int, allow_empty: bool = False) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not bytes or not (len(value) == length or (allow_empty and not value)):
            raise MalformedVote(f"{attribute.name} must be {length} bytes")

    return check


def vote_signing_bytes(chain_id: str, vote_type: int, height: int, round_number: int, block_id: bytes) -> bytes:
    """What a validator signs for a vote (see the module docstring)."""
    return VOTE_DOMAIN + chain_id_field(chain_id) + _VOTE_BODY.pack(vote_type, height, round_number, block_id)


@attrs.frozen
class Vote:
    """A validator's prevote or precommit for a block id (or nil) at one height and round."""

    type: int = attrs.field(validator=_vote_type)
    height: int = attrs.field(validator=_bounded(MAX_UINT64))
    round: int = attrs.field(validator=_bounded(MAX_UINT32))
    block_id: bytes = attrs.field(validator=_exact_bytes(32))
    validator: bytes = attrs.field(validator=_exact_bytes(32))
    signature: bytes = attrs.field(default=b"", validator=_exact_bytes(64, allow_empty=True))

    @property
    def is_nil(self) -> bool:
        """Whether this is a vote for nothing."""
        return self.block_id == NIL

    @property
    def type_name(self) -> str:
        """``prevote`` or ``precommit``."""
        return _VOTE_NAMES[self.type]

    def signing_bytes(self, chain_id: str) -> bytes:
        """The bytes the validator signs."""
        return vote_signing_bytes(chain_id, self.type, self.height, self.round, self.block_id)

    def signed(self, key: KeyPair, chain_id: str) -> Vote:
        """This vote signed by `key`, which must be the validator's; ValueError otherwise."""
        if key.public_key != self.validator:
            raise ValueError("key does not belong to the validator")
        return attrs.evolve(self, signature=key.sign(self.signing_bytes(chain_id)))

    def verify(self, chain_id: str) -> None:
        """Raise InvalidSignature unless the signature is the validator's over this vote on `chain_id`."""
        if not verify_signature(self.validator, self.signing_bytes(chain_id), self.signature):
            raise InvalidSignature(f"{self.type_name} of {self.validator.hex()[:8]} does not verify")

    def encode(self) -> bytes:
        """The 141-byte canonical encoding; MalformedVote if unsigned."""
        if not self.signature:
            raise MalformedVote("vote is not signed")
        return _VOTE.pack(self.type, self.height, self.round, self.block_id, self.validator, self.signature)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Vote:
        """Parse the canonical encoding; raises only MalformedVote. The same bytes give the same (shared) object."""
        return decode_shared(cls._decode, data)

    @classmethod
    def _decode(cls, data: bytes) -> Vote:
        if not isinstance(data, bytes) or len(data) != VOTE_LENGTH:
            raise MalformedVote(f"a vote is {VOTE_LENGTH} bytes")
        return cls(*_VOTE.unpack(data))

    def __repr__(self) -> str:
        """Type, position, short block id and short validator."""
        target = "nil" if self.is_nil else self.block_id.hex()[:8]
        return f"Vote({self.type_name} h={self.height} r={self.round} {target} by {self.validator.hex()[:8]})"


def _sorted_signatures(signatures: Iterable[CommitSignature]) -> tuple[CommitSignature, ...]:
    return tuple(sorted(signatures, key=lambda signature: signature.validator))


@attrs.frozen
class CommitSignature:
    """One validator's precommit signature inside a certificate."""

    validator: bytes = attrs.field(validator=_exact_bytes(32))
    signature: bytes = attrs.field(validator=_exact_bytes(64))


@attrs.frozen
class CommitCertificate:
    """Precommits for one block at one height and round from distinct validators holding > 2/3 of the stake.

    Encoding: ``height u64 | round u32 | block_id 32 | count u16 | (validator 32 | signature 64) * count``, signers
    strictly increasing. Construction sorts the signatures and refuses duplicate signers (MalformedVote).
    """

    height: int = attrs.field(validator=_bounded(MAX_UINT64))
    round: int = attrs.field(validator=_bounded(MAX_UINT32))
    block_id: bytes = attrs.field(validator=_exact_bytes(32))
    signatures: tuple[CommitSignature, ...] = attrs.field(converter=_sorted_signatures)

    def __attrs_post_init__(self) -> None:
        """Refuse a nil block, duplicate signers and more signers than the encoding holds."""
        if self.block_id == NIL:
            raise MalformedVote("a certificate is for a block, not nil")
        signers = [signature.validator for signature in self.signatures]
        if len(set(signers)) != len(signers):
            raise MalformedVote("a certificate lists a validator twice")
        if len(signers) > 0xFFFF:
            raise MalformedVote("a certificate holds at most 65535 signatures")

    @classmethod
    def from_votes(cls, votes: Iterable[Vote]) -> CommitCertificate:
        """Build a certificate from signed precommits for one block, height and round; ValueError if they differ."""
        votes = list(votes)
        if not votes:
            raise ValueError("a certificate needs at least one precommit")
        first = votes[0]
        for vote in votes:
            if (vote.type, vote.height, vote.round, vote.block_id) != (PRECOMMIT, first.height, first.round,
                                                                        first.block_id):
                raise ValueError("a certificate's votes are precommits for one block, height and round")
        return cls(first.height, first.round, first.block_id,
                   tuple(CommitSignature(vote.validator, vote.signature) for vote in votes))

    @property
    def signers(self) -> tuple[bytes, ...]:
        """The accounts that signed, in order."""
        return tuple(signature.validator for signature in self.signatures)

    def votes(self) -> list[Vote]:
        """The precommits this certificate is made of."""
        return [Vote(PRECOMMIT, self.height, self.round, self.block_id, signature.validator, signature.signature)
                for signature in self.signatures]

    def verify(self, validator_set: ValidatorSet, chain_id: str) -> None:
        """Raise InvalidCertificate unless every signer is in `validator_set`, every signature verifies on
        `chain_id`, and the signers hold more than 2/3 of the set's power."""
        signing_bytes = vote_signing_bytes(chain_id, PRECOMMIT, self.height, self.round, self.block_id)
        power = 0
        for signature in self.signatures:
            signer_power = validator_set.power(signature.validator)
            if not signer_power:
                raise InvalidCertificate(f"signer {signature.validator.hex()[:8]} is not a validator of this height")
            if not verify_signature(signature.validator, signing_bytes, signature.signature):
                raise InvalidCertificate(f"precommit of {signature.validator.hex()[:8]} does not verify")
            power += signer_power
        if not validator_set.has_quorum(power):
            raise InvalidCertificate(f"signers hold {power} of {validator_set.total_power}, not more than 2/3")

    def encode(self) -> bytes:
        """The canonical encoding."""
        parts = [_CERTIFICATE_HEAD.pack(self.height, self.round, self.block_id, len(self.signatures))]
        parts.extend(_COMMIT_SIGNATURE.pack(item.validator, item.signature) for item in self.signatures)
        return b"".join(parts)

    def hash(self) -> bytes:
        """sha256 of the encoding: what a block header's last_commit_hash holds."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> CommitCertificate:
        """Parse the canonical encoding (signers strictly increasing); raises only MalformedVote.

        The same bytes decoded again give the same (immutable, shared) object.
        """
        return decode_shared(cls._decode, data)

    @classmethod
    def _decode(cls, data: bytes) -> CommitCertificate:
        reader = Reader(data, MalformedVote)
        height, round_number, block_id, count = _CERTIFICATE_HEAD.unpack(reader.take(_CERTIFICATE_HEAD.size))
        signatures = []
        previous = b""
        for _ in range(count):
            validator, signature = _COMMIT_SIGNATURE.unpack(reader.take(_COMMIT_SIGNATURE.size))
            if validator <= previous:
                raise MalformedVote("certificate signers are not strictly increasing")
            previous = validator
            signatures.append(CommitSignature(validator, signature))
        reader.finish()
        return cls(height, round_number, block_id, tuple(signatures))


def _conflicting(_instance: Evidence, _attribute: attrs.Attribute[Any], second: Vote) -> None:
    first = _instance.first
    if (first.type, first.height, first.round, first.validator) != (second.type, second.height, second.round,
                                                                      second.validator):
        raise InvalidEvidence("evidence votes differ in type, height, round or validator")
    if not first.block_id < second.block_id:
        raise InvalidEvidence("evidence votes must name different block ids, the smaller one first")
    if not first.signature or not second.signature:
        raise InvalidEvidence("evidence votes must be signed")


@attrs.frozen
class Evidence:
    """Proof that a validator equivocated: two signed votes of one type, height and round for different blocks.

    The votes are ordered by block id, so one offence has one encoding: ``first vote (141) | second vote (141)``.
    Construction checks the structure (InvalidEvidence); `verify` checks the signatures.
    """

    first: Vote
    second: Vote = attrs.field(validator=_conflicting)

    @classmethod
    def from_votes(cls, one: Vote, other: Vote) -> Evidence:
        """Evidence from two conflicting votes in either order; InvalidEvidence if they do not conflict."""
        if other.block_id < one.block_id:
            one, other = other, one
        return cls(one, other)

    @classmethod
    def conflicting_certificates(cls, one: CommitCertificate, other: CommitCertificate) -> list[Evidence]:
        """Evidence against every validator that signed both of two certificates for different blocks at one height
        and round (the accountability of a safety break: more than a third of the stake signed both).

        Certificates of different rounds give none: a validator that precommits two blocks in two rounds broke its
        lock, which its two precommits alone do not prove. ValueError unless the blocks differ at one height."""
        if one.height != other.height or one.block_id == other.block_id:
            raise ValueError("conflicting certificates are for different blocks at one height")
        if one.round != other.round:
            return []
        theirs = {vote.validator: vote for vote in other.votes()}
        return [cls.from_votes(vote, theirs[vote.validator]) for vote in one.votes() if vote.validator in theirs]

    @property
    def offender(self) -> bytes:
        """The validator that signed both votes."""
        return self.first.validator

    @property
    def height(self) -> int:
        """The height of the offence."""
        return self.first.height

    def verify(self, chain_id: str) -> None:
        """Raise InvalidEvidence unless both votes verify on `chain_id`."""
        try:
            self.first.verify(chain_id)
            self.second.verify(chain_id)
        except InvalidSignature as error:
            raise InvalidEvidence(f"evidence vote does not verify: {error}") from error

    def check_offender(self, validator_set: ValidatorSet) -> None:
        """Raise InvalidEvidence unless the offender is in `validator_set` (the set of the offence's height)."""
        if self.offender not in validator_set:
            raise InvalidEvidence(f"{self.offender.hex()[:8]} was not a validator at height {self.height}")

    def encode(self) -> bytes:
        """The 282-byte canonical encoding."""
        return self.first.encode() + self.second.encode()

    @property
    def evidence_id(self) -> bytes:
        """sha256 of the encoding."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Evidence:
        """Parse the canonical encoding; raises only MalformedVote."""
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) != 2 * VOTE_LENGTH:
            raise MalformedVote(f"evidence is {2 * VOTE_LENGTH} bytes")
        first, second = Vote.decode(data[:VOTE_LENGTH]), Vote.decode(data[VOTE_LENGTH:])
        try:
            return cls(first, second)
        except InvalidEvidence as error:
            raise MalformedVote(f"not evidence: {error}") from error

