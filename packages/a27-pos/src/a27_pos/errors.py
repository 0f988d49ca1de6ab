"""Consensus-layer errors, each with a stable numeric code.

Codes share one uint8 space with the ledger's: the ledger uses 0..63, this layer 64..127, so a reject message can
carry either kind of error without ambiguity.
"""

from __future__ import annotations

from typing import ClassVar


class PosError(Exception):
    """Base of every error this layer raises; `code` is stable and fits in a uint8."""

    code: ClassVar[int] = 64
    reason: ClassVar[str] = "consensus error"

    def __init__(self, message: str = "") -> None:
        """Create the error; `message` carries the specifics and defaults to the class's `reason`."""
        super().__init__(message or self.reason)


class MalformedBlock(PosError):
    """Bytes that do not decode to a block or proposal: wrong length, bad version, bad field, trailing bytes."""

    code = 65
    reason = "malformed block"


class MalformedVote(PosError):
    """Bytes that do not decode to a vote, a commit certificate or evidence."""

    code = 66
    reason = "malformed vote"


class InvalidSignature(PosError):
    """A block, proposal or vote signature that does not verify against its signer."""

    code = 67
    reason = "invalid signature"


class WrongChain(PosError):
    """A block or vote of another chain, or a block whose parent is not this node's last block."""

    code = 68
    reason = "wrong chain"


class WrongProposer(PosError):
    """A proposal or block signed by someone other than the proposer of its height and round."""

    code = 69
    reason = "wrong proposer"


class BadMerkleRoot(PosError):
    """A header root or hash that does not match the block's body."""

    code = 70
    reason = "bad merkle root"


class BadTimestamp(PosError):
    """A block timestamp not after its parent's, or too far ahead of the receiver's clock."""

    code = 71
    reason = "bad timestamp"


class InvalidCertificate(PosError):
    """A commit certificate that names another block, has unknown or duplicate signers, or lacks 2/3 of the stake."""

    code = 72
    reason = "invalid certificate"


class NotAValidator(PosError):
    """A vote or proposal from an account outside the validator set of its height."""

    code = 73
    reason = "not a validator"


class InvalidBlock(PosError):
    """A block over its size limits, or whose transactions or system effects do not apply to the parent state."""

    code = 74
    reason = "invalid block"


class InvalidEvidence(PosError):
    """Evidence whose votes do not conflict, do not verify, are too old, or name an offender already punished."""

    code = 75
    reason = "invalid evidence"


class FutureMessage(PosError):
    """A message too far ahead (height or round) to buffer, or arriving while the buffer is full."""

    code = 76
    reason = "future message"


class StaleMessage(PosError):
    """A message for a height this node has already finalized."""

    code = 77
    reason = "stale message"


class MempoolFull(PosError):
    """The mempool is full and the transaction does not pay more than the cheapest one it could evict."""

    code = 78
    reason = "mempool full"


class NonceTooFarAhead(PosError):
    """A transaction whose nonce is further ahead of its sender's next nonce than the mempool holds."""

    code = 79
    reason = "nonce too far ahead"


class TransactionTooLarge(PosError):
    """A transaction larger than the mempool accepts."""

    code = 80
    reason = "transaction too large"


class ChainStoreError(PosError):
    """The chain store failed, holds another chain, or disagrees with the ledger; a failed write writes nothing."""

    code = 81
    reason = "chain store failure"


class PosGenesisError(PosError):
    """A PoS genesis or parameter set that is malformed or inconsistent."""

    code = 82
    reason = "bad pos genesis"


class ConflictingCommit(PosError):
    """A valid certificate for a block other than the one this node finalized at that height."""

    code = 83
    reason = "conflicting commit"


class ConflictingProposal(PosError):
    """A second, different proposal from the proposer of a height and round; the first one stands."""

    code = 84
    reason = "conflicting proposal"


class CheckpointMismatch(WrongChain):
    """A block at a checkpoint's height that is not the checkpoint's block, or a chain already past that height on
    another block: the chain offered is another history (a long-range fork), refused.

    A local refinement of WrongChain that shares its wire code (68): it is never sent, and a peer that decodes 68
    learns all it needs ("wrong chain")."""

    reason = "not the checkpointed chain"


_ERRORS_BY_CODE: dict[int, type[PosError]] = {
    error.code: error
    for error in (
        PosError,
        MalformedBlock,
        MalformedVote,
        InvalidSignature,
        WrongChain,
        WrongProposer,
        BadMerkleRoot,
        BadTimestamp,
        InvalidCertificate,
        NotAValidator,
        InvalidBlock,
        InvalidEvidence,
        FutureMessage,
        StaleMessage,
        MempoolFull,
        NonceTooFarAhead,
        TransactionTooLarge,
        ChainStoreError,
        PosGenesisError,
        ConflictingCommit,
        ConflictingProposal,
    )
}


def pos_error_for_code(code: int) -> type[PosError]:
    """Return the error class for a wire code of this layer; an unknown code maps to `PosError`."""
    return _ERRORS_BY_CODE.get(code, PosError)
