"""Ledger errors, each with a stable numeric code that reject messages carry on the wire."""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """Base of every error the ledger raises; `code` is stable and fits in a uint8."""

    code: ClassVar[int] = 0
    reason: ClassVar[str] = "ledger error"

    def __init__(self, message: str = "") -> None:
        """Create the error; `message` carries the specifics and defaults to the class's `reason`."""
        super().__init__(message or self.reason)


class MalformedTransaction(LedgerError):
    """Bytes that do not decode to a transaction: wrong length, bad version, bad field, trailing bytes."""

    code = 1
    reason = "malformed transaction"


class UnknownTransactionKind(LedgerError):
    """A transaction kind that no body class is registered for."""

    code = 2
    reason = "unknown transaction kind"


class BadSignature(LedgerError):
    """A missing signature, or one that does not verify against the sender's key."""

    code = 3
    reason = "bad signature"


class InvalidAmount(LedgerError):
    """An amount that is not positive, an amount or fee outside uint64, or amount+fee above uint64."""

    code = 4
    reason = "invalid amount"


class InsufficientBalance(LedgerError):
    """The account (or escrow) holds less than the transaction takes from it."""

    code = 5
    reason = "insufficient balance"


class NonceReplay(LedgerError):
    """A nonce below the sender's next expected nonce: already used."""

    code = 6
    reason = "nonce already used"


class NonceGap(LedgerError):
    """A nonce above the sender's next expected nonce: earlier transactions are missing."""

    code = 7
    reason = "nonce gap"


class SelfTransfer(LedgerError):
    """A transfer whose recipient is its sender."""

    code = 8
    reason = "self transfer"


class GenesisError(LedgerError):
    """A genesis that is malformed, or that differs from the one a store was created with."""

    code = 9
    reason = "bad genesis"


class SupplyInvariantViolated(LedgerError):
    """Balances plus escrows differ from the total supply, or a value is negative."""

    code = 10
    reason = "supply invariant violated"


class StoreError(LedgerError):
    """The store failed to read or commit; a failed commit leaves the stored state as it was."""

    code = 11
    reason = "store failure"


class QueueFull(LedgerError):
    """The future-nonce queue holds as many transactions as it may (per sender or in total)."""

    code = 12
    reason = "queue full"


class DuplicateTransaction(LedgerError):
    """A transaction already held, or another one with the same sender and nonce."""

    code = 13
    reason = "duplicate transaction"


class SubmissionTimeout(Exception):
    """No validator gave a verdict on a submission (or an answer to a query) within the allowed attempts."""


class NoValidator(Exception):
    """This node knows no validator to send to."""


_ERRORS_BY_CODE: dict[int, type[LedgerError]] = {
    error.code: error
    for error in (
        LedgerError,
        MalformedTransaction,
        UnknownTransactionKind,
        BadSignature,
        InvalidAmount,
        InsufficientBalance,
        NonceReplay,
        NonceGap,
        SelfTransfer,
        GenesisError,
        SupplyInvariantViolated,
        StoreError,
        QueueFull,
        DuplicateTransaction,
    )
}


def error_for_code(code: int) -> type[LedgerError]:
    """Return the error class for a wire code; a code this version does not know maps to `LedgerError`."""
    return _ERRORS_BY_CODE.get(code, LedgerError)
