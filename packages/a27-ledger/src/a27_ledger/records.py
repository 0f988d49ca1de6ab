"""What applying transactions produces: receipts, supply events, and the buffered changes a store commits."""

from __future__ import annotations

from typing import Literal

import attrs

from a27_ledger.transaction import Transaction


@attrs.frozen
class Receipt:
    """An applied transaction.

    `sequence` is its apply order on this node, from 1. `fee_recipient` is the account the fee went to, or None when
    it went to the ("fees", b"") escrow pool. `accounts` lists the sender and every account whose balance the body
    changed, in the order they were touched (the fee credit does not count).
    """

    tx: Transaction
    sequence: int
    fee_recipient: bytes | None
    accounts: tuple[bytes, ...] = ()


@attrs.frozen
class SupplyEvent:
    """A change of total supply: a mint (block rewards) or a burn (slashing), made by the transaction `sequence`."""

    sequence: int
    kind: Literal["mint", "burn"]
    account: bytes
    amount: int
    reason: str


@attrs.frozen
class StoreMeta:
    """The ledger's bookkeeping: its genesis, supply changes and how many transactions it applied."""

    genesis_digest: bytes | None
    genesis_supply: int
    minted: int
    burned: int
    applied: int

    @property
    def total_supply(self) -> int:
        """Genesis supply plus minted minus burned."""
        return self.genesis_supply + self.minted - self.burned


class StateChanges:
    """Writes buffered by one or more transactions, handed to `LedgerStore.commit` in one piece.

    Balances, nonces and escrows hold new absolute values (0 removes the entry); a data value of None deletes the
    record; `minted` and `burned` are increments.
    """

    __slots__ = ("balances", "burned", "data", "escrows", "minted", "nonces", "supply_events")

    def __init__(self) -> None:
        """Create an empty change set."""
        self.balances: dict[bytes, int] = {}
        self.nonces: dict[bytes, int] = {}
        self.escrows: dict[tuple[str, bytes], int] = {}
        self.data: dict[tuple[str, bytes], bytes | None] = {}
        self.minted = 0
        self.burned = 0
        self.supply_events: list[SupplyEvent] = []

    def absorb(self, other: StateChanges) -> None:
        """Add `other`'s writes on top of these (other is the later one)."""
        self.balances.update(other.balances)
        self.nonces.update(other.nonces)
        self.escrows.update(other.escrows)
        self.data.update(other.data)
        self.minted += other.minted
        self.burned += other.burned
        self.supply_events.extend(other.supply_events)
