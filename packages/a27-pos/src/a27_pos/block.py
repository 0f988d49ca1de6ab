"""Blocks and proposals: one canonical encoding each, strict decoding, signatures by the proposer.

Header encoding::

    version u8 (=1) | chain_id (u8 length, UTF-8) | height u64 | round u32 | timestamp u64 (ms) | parent_id 32 |
    proposer 32 | tx_root 32 | tx_count u32 | evidence_root 32 | last_commit_hash 32

Block encoding: ``header | signature 64 | (u32 length | transaction) * tx_count | evidence_count u16 |
evidence * evidence_count | u32 length | last commit certificate``; an evidence entry's first byte tells its kind
and length (`a27_pos.evidence`). The block id is
``sha256(header)``; the signature is the proposer's over ``b"a27/pos/block/v1" + header``.

Proposal encoding: ``height u64 | round u32 | pol_round u32 (0xFFFFFFFF: none) | proposer 32 | signature 64 |
block``, signed by the round's proposer over ``b"a27/pos/proposal/v1" | chain_id field | height | round |
pol_round | block_id``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from a27_ledger import KeyPair, LedgerError, Transaction, TransactionRegistry, decode_shared, verify_signature
from a27_pos.encoding import MAX_UINT32, MAX_UINT64, Reader, chain_id_field
from a27_pos.errors import BadMerkleRoot, InvalidSignature, MalformedBlock, MalformedVote
from a27_pos.evidence import NO_ROUND, NO_ROUND_WIRE, AnyEvidence, proposal_signing_bytes, read_evidence
from a27_pos.merkle import merkle_root
from a27_pos.votes import CommitCertificate

BLOCK_VERSION = 1
BLOCK_DOMAIN = b"a27/pos/block/v1"
_HEADER_TAIL = struct.Struct(">QIQ32s32s32sI32s32s")
_PROPOSAL_HEAD = struct.Struct(">QII32s64s")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def _bounded(limit: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not 0 <= value <= limit:
            raise MalformedBlock(f"{attribute.name} {value!r} is not an integer in 0..{limit}")

    return check


def _hash_field(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) != 32:
        raise MalformedBlock(f"{attribute.name} must be 32 bytes")


def _chain_id(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    try:
        chain_id_field(value)
    except (ValueError, AttributeError) as error:
        raise MalformedBlock(str(error)) from error


def _signature(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not bytes or len(value) not in (0, 64):
        raise MalformedBlock(f"{attribute.name} must be empty or 64 bytes")


@attrs.frozen
class BlockHeader:
    """What a block id and a proposer's signature cover: position, parent, proposer and commitments to the body."""

    chain_id: str = attrs.field(validator=_chain_id)
    height: int = attrs.field(validator=_bounded(MAX_UINT64))
    round: int = attrs.field(validator=_bounded(MAX_UINT32))
    timestamp: int = attrs.field(validator=_bounded(MAX_UINT64))
    """Milliseconds, from the proposer's clock."""
    parent_id: bytes = attrs.field(validator=_hash_field)
    proposer: bytes = attrs.field(validator=_hash_field)
    tx_root: bytes = attrs.field(validator=_hash_field)
    tx_count: int = attrs.field(validator=_bounded(MAX_UINT32))
    evidence_root: bytes = attrs.field(validator=_hash_field)
    last_commit_hash: bytes = attrs.field(validator=_hash_field)
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def encode(self) -> bytes:
        """The canonical header encoding (computed once)."""
        encoded = self._encoded
        if encoded is None:
            encoded = bytes([BLOCK_VERSION]) + chain_id_field(self.chain_id) + _HEADER_TAIL.pack(
                self.height, self.round, self.timestamp, self.parent_id, self.proposer, self.tx_root, self.tx_count,
                self.evidence_root, self.last_commit_hash)
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @property
    def block_id(self) -> bytes:
        """sha256 of the header encoding."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def read(cls, reader: Reader) -> BlockHeader:
        """Read a header off `reader` (MalformedBlock on anything wrong)."""
        version = reader.u8()
        if version != BLOCK_VERSION:
            raise MalformedBlock(f"block version {version} is not {BLOCK_VERSION}")
        chain_id = reader.chain_id()
        return cls(chain_id, *_HEADER_TAIL.unpack(reader.take(_HEADER_TAIL.size)))


def _transaction_tuple(transactions: Iterable[Transaction]) -> tuple[Transaction, ...]:
    return tuple(transactions)


def _evidence_tuple(evidence: Iterable[AnyEvidence]) -> tuple[AnyEvidence, ...]:
    return tuple(evidence)


def _no_commit_hash(last_commit: CommitCertificate | None) -> bytes:
    return bytes(32) if last_commit is None else last_commit.hash()


@attrs.frozen
class Block:
    """A header, the proposer's signature, and the body it commits to.

    Construction refuses only what the encoding cannot represent (a tx_count that differs from the transactions),
    so blocks with wrong roots or signatures can be built for experiments; `check_body` and `verify_signature`
    find them.
    """

    header: BlockHeader
    signature: bytes = attrs.field(validator=_signature)
    transactions: tuple[Transaction, ...] = attrs.field(converter=_transaction_tuple)
    evidence: tuple[AnyEvidence, ...] = attrs.field(converter=_evidence_tuple)
    last_commit: CommitCertificate | None = None
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)
    _block_id: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Refuse a body the header cannot describe."""
        if self.header.tx_count != len(self.transactions):
            raise MalformedBlock(f"header counts {self.header.tx_count} transactions, body has "
                                 f"{len(self.transactions)}")
        if len(self.evidence) > 0xFFFF:
            raise MalformedBlock("a block holds at most 65535 evidence entries")

    @classmethod
    def build(
        cls,
        key: KeyPair,
        *,
        chain_id: str,
        height: int,
        round: int,
        timestamp: int,
        parent_id: bytes,
        transactions: Sequence[Transaction] = (),
        evidence: Sequence[AnyEvidence] = (),
        last_commit: CommitCertificate | None = None,
    ) -> Block:
        """Assemble a block with correct roots and sign it with `key` (the proposer)."""
        header = BlockHeader(
            chain_id, height, round, timestamp, parent_id, key.public_key,
            merkle_root([tx.encode() for tx in transactions]), len(transactions),
            merkle_root([item.encode() for item in evidence]), _no_commit_hash(last_commit))
        return cls(header, key.sign(BLOCK_DOMAIN + header.encode()), tuple(transactions), tuple(evidence),
                   last_commit)

    @property
    def block_id(self) -> bytes:
        """The header's id (computed once)."""
        block_id = self._block_id
        if block_id is None:
            block_id = self.header.block_id
            object.__setattr__(self, "_block_id", block_id)
        return block_id

    @property
    def height(self) -> int:
        """The header's height."""
        return self.header.height

    @property
    def proposer(self) -> bytes:
        """The account that built and signed the block."""
        return self.header.proposer

    def verify_signature(self) -> None:
        """Raise InvalidSignature unless the proposer signed the header."""
        if not verify_signature(self.header.proposer, BLOCK_DOMAIN + self.header.encode(), self.signature):
            raise InvalidSignature(f"block {self.block_id.hex()[:8]} is not signed by its proposer")

    def check_body(self) -> None:
        """Raise BadMerkleRoot unless the header's roots and commit hash match the body."""
        header = self.header
        if merkle_root([tx.encode() for tx in self.transactions]) != header.tx_root:
            raise BadMerkleRoot("transaction root does not match the transactions")
        if merkle_root([item.encode() for item in self.evidence]) != header.evidence_root:
            raise BadMerkleRoot("evidence root does not match the evidence")
        if _no_commit_hash(self.last_commit) != header.last_commit_hash:
            raise BadMerkleRoot("last commit hash does not match the parent certificate")

    def encode(self) -> bytes:
        """The canonical block encoding (computed once); MalformedBlock if unsigned."""
        encoded = self._encoded
        if encoded is None:
            if not self.signature:
                raise MalformedBlock("block is not signed")
            parts = [self.header.encode(), self.signature]
            for tx in self.transactions:
                data = tx.encode()
                parts += [_U32.pack(len(data)), data]
            parts.append(_U16.pack(len(self.evidence)))
            parts.extend(item.encode() for item in self.evidence)
            commit = b"" if self.last_commit is None else self.last_commit.encode()
            parts += [_U32.pack(len(commit)), commit]
            encoded = b"".join(parts)
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def read(cls, reader: Reader, registry: TransactionRegistry) -> Block:
        """Read a block off `reader` (MalformedBlock on anything wrong)."""
        start = reader.offset
        header = BlockHeader.read(reader)
        signature = reader.take(64)
        transactions = []
        for _ in range(header.tx_count):
            data = reader.take(reader.u32())
            try:
                transactions.append(Transaction.decode(data, registry))
            except LedgerError as error:
                raise MalformedBlock(f"transaction {len(transactions)}: {error}") from error
        evidence = []
        for _ in range(reader.u16()):
            try:
                evidence.append(read_evidence(reader))
            except MalformedVote as error:
                raise MalformedBlock(f"evidence {len(evidence)}: {error}") from error
        commit_bytes = reader.take(reader.u32())
        try:
            last_commit = CommitCertificate.decode(commit_bytes) if commit_bytes else None
        except MalformedVote as error:
            raise MalformedBlock(f"last commit: {error}") from error
        block = cls(header, signature, tuple(transactions), tuple(evidence), last_commit)
        object.__setattr__(block, "_encoded", reader.slice_from(start))
        return block

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, registry: TransactionRegistry) -> Block:
        """Parse the canonical encoding strictly; raises only MalformedBlock.

        The same bytes decoded again with the same registry give the same (immutable, shared) object.
        """
        return decode_shared(cls._decode, data, registry)

    @classmethod
    def _decode(cls, data: bytes, registry: TransactionRegistry) -> Block:
        reader = Reader(data, MalformedBlock)
        block = cls.read(reader, registry)
        reader.finish()
        return block

    def __repr__(self) -> str:
        """Height, round, short id and size."""
        return (f"Block(h={self.height} r={self.header.round} {self.block_id.hex()[:8]} "
                f"txs={len(self.transactions)} by {self.proposer.hex()[:8]})")


def _pol_round(instance: Proposal, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is not int or not (value == NO_ROUND or 0 <= value < instance.round):
        raise MalformedBlock(f"pol_round {value!r} is neither -1 nor a round before {instance.round}")


@attrs.frozen
class Proposal:
    """A proposer's offer of `block` for its height in `round`, with the round of its proof of lock (or -1)."""

    round: int = attrs.field(validator=_bounded(MAX_UINT32 - 1))
    pol_round: int = attrs.field(validator=_pol_round)
    block: Block
    proposer: bytes = attrs.field(validator=_hash_field)
    signature: bytes = attrs.field(default=b"", validator=_signature)
    _encoded: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def height(self) -> int:
        """The block's height."""
        return self.block.height

    def signing_bytes(self, chain_id: str) -> bytes:
        """The bytes the proposer signs."""
        return proposal_signing_bytes(chain_id, self.height, self.round, self.pol_round, self.block.block_id)

    @classmethod
    def create(cls, key: KeyPair, chain_id: str, round: int, pol_round: int, block: Block) -> Proposal:
        """A proposal of `block` signed by `key`."""
        unsigned = cls(round, pol_round, block, key.public_key)
        return attrs.evolve(unsigned, signature=key.sign(unsigned.signing_bytes(chain_id)))

    def verify(self, chain_id: str) -> None:
        """Raise InvalidSignature unless `proposer` signed this proposal on `chain_id`."""
        if not verify_signature(self.proposer, self.signing_bytes(chain_id), self.signature):
            raise InvalidSignature(
                f"proposal h={self.height} r={self.round} is not signed by {self.proposer.hex()[:8]}")

    def encode(self) -> bytes:
        """The canonical encoding; MalformedBlock if unsigned."""
        encoded = self._encoded
        if encoded is None:
            if not self.signature:
                raise MalformedBlock("proposal is not signed")
            wire_pol = NO_ROUND_WIRE if self.pol_round == NO_ROUND else self.pol_round
            encoded = _PROPOSAL_HEAD.pack(self.height, self.round, wire_pol, self.proposer,
                                          self.signature) + self.block.encode()
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview, registry: TransactionRegistry) -> Proposal:
        """Parse the canonical encoding strictly; raises only MalformedBlock.

        The same bytes decoded again with the same registry give the same (immutable, shared) object, and its
        block is the object `Block.decode` gives for the block's bytes.
        """
        return decode_shared(cls._decode, data, registry)

    @classmethod
    def _decode(cls, data: bytes, registry: TransactionRegistry) -> Proposal:
        reader = Reader(data, MalformedBlock)
        height, round_number, wire_pol, proposer, signature = _PROPOSAL_HEAD.unpack(reader.take(_PROPOSAL_HEAD.size))
        block = Block.decode(reader.take(reader.remaining), registry)
        if block.height != height:
            raise MalformedBlock(f"proposal height {height} differs from its block's {block.height}")
        if round_number == NO_ROUND_WIRE:
            raise MalformedBlock("round 2**32-1 is reserved")
        pol_round = NO_ROUND if wire_pol == NO_ROUND_WIRE else wire_pol
        proposal = cls(round_number, pol_round, block, proposer, signature)
        object.__setattr__(proposal, "_encoded", data)
        return proposal

    def __repr__(self) -> str:
        """Round, proof-of-lock round and block."""
        return f"Proposal(r={self.round} pol={self.pol_round} {self.block!r})"
