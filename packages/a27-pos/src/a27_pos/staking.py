"""Staking: the Bond and Unbond transaction kinds, and the records the chain keeps in the ledger state.

Everything here lives in the ledger (escrows and data records), so it is committed atomically with the block that
changes it and covered by the ledger's supply invariant:

=================================  ==========================================================================
escrow ``("stake", account)``       bonded stake
escrow ``("unbonding", a | h)``     stake of account ``a`` released at height ``h`` (u64)
data ``("pos", b"genesis")``        the PoS genesis digest
data ``("pos", b"params")``         the chain parameters (`PosParams.encode`)
data ``("pos", b"chain_id")``       the chain id (UTF-8)
data ``("pos", b"head")``           last applied block: height u64 | block id 32 | timestamp u64
data ``("pos", b"stakers")``        accounts with bonded stake, sorted, concatenated
data ``("pos/unbonding", a)``       release heights (u64, sorted) of account ``a``'s unbonding entries
data ``("pos/due", h)``             accounts (sorted) with an unbonding entry released at height ``h``
data ``("pos/tombstone", a)``       height (u64) of the offence that removed ``a`` from validation for good
data ``("pos/validators", h)``      the validator set of height ``h`` (`ValidatorSet.encode`)
=================================  ==========================================================================
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import ClassVar, Protocol

import attrs

from a27_ledger import (
    MAX_UINT64,
    InvalidAmount,
    KeyPair,
    LedgerError,
    MalformedTransaction,
    StateTransition,
    Transaction,
    TransactionRegistry,
    default_registry,
)
from a27_pos.encoding import u64
from a27_pos.params import PosGenesis, PosParams
from a27_pos.validators import ValidatorSet

STAKE = "stake"
UNBONDING = "unbonding"
POS = "pos"
_UNBONDING_INDEX = "pos/unbonding"
_DUE = "pos/due"
_TOMBSTONE = "pos/tombstone"
_VALIDATORS = "pos/validators"
_HEAD = struct.Struct(">Q32sQ")
_AMOUNT = struct.Struct(">Q")


class StateReader(Protocol):
    """Read access shared by `LedgerState` (committed state) and `StateTransition` (inside a block)."""

    def escrow(self, name: str, key: bytes) -> int:
        """Tokens locked under (`name`, `key`)."""
        ...

    def get_data(self, namespace: str, key: bytes) -> bytes | None:
        """The record under (`namespace`, `key`), or None."""
        ...


@attrs.frozen
class ChainHead:
    """The last block applied to a ledger: height 0 with the genesis digest before the first block."""

    height: int
    block_id: bytes
    timestamp: int


def _split(joined: bytes | None, size: int) -> list[bytes]:
    if not joined:
        return []
    return [joined[offset : offset + size] for offset in range(0, len(joined), size)]


def _heights(joined: bytes | None) -> list[int]:
    return [int.from_bytes(item, "big") for item in _split(joined, 8)]


def _join_sorted(items: Iterable[bytes]) -> bytes | None:
    joined = b"".join(sorted(set(items)))
    return joined or None


class _AmountBody:
    """The body shared by Bond and Unbond: one u64 amount."""

    KIND: ClassVar[int]
    NAME: ClassVar[str]
    amount: int

    def encode(self) -> bytes:
        """``amount u64``."""
        return _AMOUNT.pack(self.amount)

    def check(self, tx: Transaction) -> None:
        """The amount is positive and amount + fee fits a u64."""
        if type(self.amount) is not int or self.amount <= 0:
            raise InvalidAmount(f"{self.NAME} amount {self.amount!r} is not positive")
        if self.amount + tx.fee > MAX_UINT64:
            raise InvalidAmount(f"amount+fee {self.amount + tx.fee} exceeds 2**64-1")


def _decode_amount(name: str, data: bytes) -> int:
    if len(data) != _AMOUNT.size:
        raise MalformedTransaction(f"{name} body is {len(data)} bytes, expected {_AMOUNT.size}")
    return int(_AMOUNT.unpack(data)[0])


def _amount_field(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 0 <= value <= MAX_UINT64:
        raise InvalidAmount(f"{attribute.name} {value!r} is not an integer in 0..2**64-1")


@attrs.frozen
class Bond(_AmountBody):
    """Lock `amount` of the sender's balance as bonded stake (kind 10); it counts from the next height."""

    KIND: ClassVar[int] = 10
    NAME: ClassVar[str] = "bond"
    amount: int = attrs.field(validator=_amount_field)

    @classmethod
    def decode(cls, data: bytes) -> Bond:
        """Parse an 8-byte bond body."""
        return cls(_decode_amount(cls.NAME, data))

    def debit(self) -> int:
        """The amount leaves the spendable balance."""
        return self.amount

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Lock the amount and list the sender as a staker."""
        ctx.lock(tx.sender, STAKE, tx.sender, self.amount)
        stakers = _split(ctx.get_data(POS, b"stakers"), 32)
        if tx.sender not in stakers:
            ctx.put_data(POS, b"stakers", _join_sorted([*stakers, tx.sender]))


@attrs.frozen
class Unbond(_AmountBody):
    """Start releasing `amount` of the sender's bonded stake (kind 11): back to its balance after the delay.

    Released at ``inclusion height + unbonding_delay``; until then it has no voting power but can be slashed.
    """

    KIND: ClassVar[int] = 11
    NAME: ClassVar[str] = "unbond"
    amount: int = attrs.field(validator=_amount_field)

    @classmethod
    def decode(cls, data: bytes) -> Unbond:
        """Parse an 8-byte unbond body."""
        return cls(_decode_amount(cls.NAME, data))

    def debit(self) -> int:
        """Nothing leaves the spendable balance (only the fee)."""
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        """Move the amount from the stake escrow to an unbonding entry; InsufficientBalance if not bonded."""
        head = chain_head(ctx)
        params = chain_params(ctx)
        if head is None or params is None:
            raise LedgerError("unbonding needs a proof-of-stake chain")
        release = head.height + 1 + params.unbonding_delay
        sender = tx.sender
        ctx.unlock(STAKE, sender, sender, self.amount)
        ctx.lock(sender, UNBONDING, sender + u64(release), self.amount)
        if not ctx.escrow(STAKE, sender):
            ctx.put_data(POS, b"stakers", _join_sorted(a for a in _split(ctx.get_data(POS, b"stakers"), 32)
                                                       if a != sender))
        releases = _heights(ctx.get_data(_UNBONDING_INDEX, sender))
        if release not in releases:
            ctx.put_data(_UNBONDING_INDEX, sender, b"".join(u64(height) for height in sorted([*releases, release])))
            due = _split(ctx.get_data(_DUE, u64(release)), 32)
            ctx.put_data(_DUE, u64(release), _join_sorted([*due, sender]))


def sign_bond(key: KeyPair, amount: int, nonce: int, fee: int = 0) -> Transaction:
    """A signed Bond of `amount` from `key`'s account."""
    return Transaction(key.public_key, nonce, fee, Bond(amount)).signed(key)


def sign_unbond(key: KeyPair, amount: int, nonce: int, fee: int = 0) -> Transaction:
    """A signed Unbond of `amount` from `key`'s account."""
    return Transaction(key.public_key, nonce, fee, Unbond(amount)).signed(key)


def pos_registry(base: TransactionRegistry = default_registry) -> TransactionRegistry:
    """A copy of `base` (the ledger's default: Transfer) with Bond and Unbond added; `base` is not changed."""
    registry = base.copy()
    registry.register(Bond)
    registry.register(Unbond)
    return registry


# Reading the records ------------------------------------------------------------------------------------------------


def chain_head(reader: StateReader) -> ChainHead | None:
    """The last applied block, or None if the ledger was never started as a PoS chain."""
    data = reader.get_data(POS, b"head")
    return None if data is None else ChainHead(*_HEAD.unpack(data))


def chain_params(reader: StateReader) -> PosParams | None:
    """The chain parameters, or None before the chain started."""
    data = reader.get_data(POS, b"params")
    return None if data is None else PosParams.decode(data)


def bonded_stake(reader: StateReader, account: bytes) -> int:
    """Bonded stake of `account`."""
    return reader.escrow(STAKE, account)


def stakers(reader: StateReader) -> list[bytes]:
    """Accounts with bonded stake, sorted."""
    return _split(reader.get_data(POS, b"stakers"), 32)


def unbonding_entries(reader: StateReader, account: bytes) -> list[tuple[int, int]]:
    """(release height, amount) of `account`'s unbonding stake, by height."""
    return [(height, reader.escrow(UNBONDING, account + u64(height)))
            for height in _heights(reader.get_data(_UNBONDING_INDEX, account))]


def tombstone_height(reader: StateReader, account: bytes) -> int | None:
    """The height of the offence that tombstoned `account`, or None."""
    data = reader.get_data(_TOMBSTONE, account)
    return None if data is None else int.from_bytes(data, "big")


def stored_validator_set(reader: StateReader, height: int) -> ValidatorSet | None:
    """The validator set of `height` if the ledger still keeps it."""
    data = reader.get_data(_VALIDATORS, u64(height))
    return None if data is None else ValidatorSet.decode(data)


# Changing them, inside a block's system effects ---------------------------------------------------------------------


def start_chain(ctx: StateTransition, genesis: PosGenesis, digest: bytes) -> None:
    """Bond the genesis stakes and write the records of height 0 (run once, when the chain starts)."""
    for account, stake in genesis.stakes:
        ctx.lock(account, STAKE, account, stake)
    ctx.put_data(POS, b"stakers", _join_sorted(account for account, _ in genesis.stakes))
    ctx.put_data(POS, b"params", genesis.params.encode())
    ctx.put_data(POS, b"genesis", digest)
    ctx.put_data(POS, b"chain_id", genesis.chain_id.encode())
    ctx.put_data(POS, b"head", _HEAD.pack(0, digest, 0))
    ctx.put_data(_VALIDATORS, u64(1), genesis.validator_set().encode())


def slash(ctx: StateTransition, offender: bytes, offence_height: int, percent: int, reason: str) -> int:
    """Burn `percent` of `offender`'s bonded and unbonding stake (each rounded down) and tombstone it.

    Returns the amount burned. The burn goes through the offender's balance (unlock, then burn), which nets to zero.
    """
    burned = 0
    portions = [(STAKE, offender, ctx.escrow(STAKE, offender))]
    portions += [(UNBONDING, offender + u64(height), amount) for height, amount in unbonding_entries(ctx, offender)]
    for name, key, held in portions:
        amount = held * percent // 100
        if amount:
            ctx.unlock(name, key, offender, amount)
            ctx.burn(offender, amount, reason)
            burned += amount
    ctx.put_data(_TOMBSTONE, offender, u64(offence_height))
    return burned


def release_due(ctx: StateTransition, height: int) -> None:
    """Return the unbonding entries released at `height` to their accounts' balances."""
    for account in _split(ctx.get_data(_DUE, u64(height)), 32):
        key = account + u64(height)
        ctx.unlock(UNBONDING, key, account, ctx.escrow(UNBONDING, key))
        remaining = [release for release in _heights(ctx.get_data(_UNBONDING_INDEX, account)) if release != height]
        ctx.put_data(_UNBONDING_INDEX, account, b"".join(u64(release) for release in remaining) or None)
    ctx.put_data(_DUE, u64(height), None)


def active_powers(reader: StateReader, params: PosParams) -> dict[bytes, int]:
    """Voting power of every account that qualifies: bonded stake >= min_stake, not tombstoned."""
    powers = {}
    for account in stakers(reader):
        stake = reader.escrow(STAKE, account)
        if stake >= params.min_stake and tombstone_height(reader, account) is None:
            powers[account] = stake
    return powers


def advance_head(ctx: StateTransition, height: int, block_id: bytes, timestamp: int, params: PosParams) -> None:
    """Record block `height` as applied and store the validator set of `height + 1`, dropping the oldest kept."""
    current = stored_validator_set(ctx, height)
    if current is None:
        raise LedgerError(f"the validator set of height {height} is missing")
    powers = active_powers(ctx, params)
    # With nobody qualified the chain would have no validators; it keeps the ones it has instead.
    ctx.put_data(_VALIDATORS, u64(height + 1), current.next_set(powers or current.powers).encode())
    oldest_kept = height + 1 - (params.evidence_max_age + 1)
    if oldest_kept > 1:
        ctx.put_data(_VALIDATORS, u64(oldest_kept - 1), None)
    ctx.put_data(POS, b"head", _HEAD.pack(height, block_id, timestamp))
