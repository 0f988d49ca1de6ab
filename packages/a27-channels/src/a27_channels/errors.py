"""Channel-layer errors, each with a stable numeric code.

Codes share one uint8 space with the lower layers: the ledger uses 0..63, a27-pos 64..84, this layer 96..127. Every
error subclasses the ledger's `LedgerError`, so a channel transaction that breaks a rule is rejected by the ledger's
apply path (and a block's dry run) like any other invalid transaction, and a rejection message carries its code.
"""

from __future__ import annotations

from a27_ledger import LedgerError


class ChannelError(LedgerError):
    """Base of every error this layer raises; `code` is stable and fits in a uint8."""

    code = 96
    reason = "channel error"


class MalformedChannelData(ChannelError):
    """Bytes that do not decode to a state, terms, record, operation, announcement or message field."""

    code = 97
    reason = "malformed channel data"


class InvalidChannelSignature(ChannelError):
    """A state, funding, close, announcement or policy signature that does not verify against its signer."""

    code = 98
    reason = "invalid channel signature"


class UnknownChannel(ChannelError):
    """No channel with this id (on chain, or among this node's channels)."""

    code = 99
    reason = "unknown channel"


class WrongChannelStatus(ChannelError):
    """The channel is not in a status that allows this: not open, already closing, not yet settled, closed."""

    code = 100
    reason = "wrong channel status"


class NotAChannelParty(ChannelError):
    """The sender or signer is not the party this needs."""

    code = 101
    reason = "not a channel party"


class StaleState(ChannelError):
    """A sequence number that is not newer than the one it must exceed, or not the one expected."""

    code = 102
    reason = "stale state"


class InvalidChannelState(ChannelError):
    """A state whose balances and HTLCs do not add up to the capacity, or whose HTLCs are invalid as a set."""

    code = 103
    reason = "invalid channel state"


class InvalidHtlc(ChannelError):
    """An HTLC operation that is not allowed: unknown id, wrong party, bad hash, expiry too far, too many HTLCs."""

    code = 104
    reason = "invalid htlc"


class ExpiryTooSoon(ChannelError):
    """An HTLC expiry that leaves fewer blocks than required, or an HTLC already expired."""

    code = 105
    reason = "expiry too soon"


class ChallengePeriod(ChannelError):
    """A challenge after the challenge period, or a settlement before it ends."""

    code = 106
    reason = "challenge period"


class BadPreimage(ChannelError):
    """A preimage whose sha256 is not the HTLC's payment hash."""

    code = 107
    reason = "bad preimage"


class InsufficientChannelBalance(ChannelError):
    """The paying side's channel balance is below the amount."""

    code = 108
    reason = "insufficient channel balance"


class ChannelBusy(ChannelError):
    """An update is already in flight on this channel, or a conflicting proposal won."""

    code = 109
    reason = "channel busy"


class FundingExpired(ChannelError):
    """A ChannelOpen included after the funding deadline the counterparty agreed to."""

    code = 110
    reason = "funding expired"


class ChannelExists(ChannelError):
    """A ChannelOpen for a channel id that the chain already holds (open or closed)."""

    code = 111
    reason = "channel exists"


class ChannelStoreError(ChannelError):
    """The channel store failed or holds data this version cannot read; a failed write writes nothing."""

    code = 112
    reason = "channel store failure"


class NoRoute(ChannelError):
    """No usable route to the destination in the channel graph."""

    code = 113
    reason = "no route"


class InvalidAnnouncement(ChannelError):
    """A channel announcement or policy update that does not verify or does not match the chain."""

    code = 114
    reason = "invalid announcement"


class ChannelRefused(ChannelError):
    """A peer's proposal that this node's policy declines (deposit, challenge period, deadline)."""

    code = 115
    reason = "channel refused"


_ERRORS = (
    ChannelError,
    MalformedChannelData,
    InvalidChannelSignature,
    UnknownChannel,
    WrongChannelStatus,
    NotAChannelParty,
    StaleState,
    InvalidChannelState,
    InvalidHtlc,
    ExpiryTooSoon,
    ChallengePeriod,
    BadPreimage,
    InsufficientChannelBalance,
    ChannelBusy,
    FundingExpired,
    ChannelExists,
    ChannelStoreError,
    NoRoute,
    InvalidAnnouncement,
    ChannelRefused,
)
_ERRORS_BY_CODE: dict[int, type[ChannelError]] = {error.code: error for error in _ERRORS}


def channel_error_for_code(code: int) -> type[ChannelError]:
    """Return the error class for a wire code of this layer; an unknown code maps to `ChannelError`."""
    return _ERRORS_BY_CODE.get(code, ChannelError)
