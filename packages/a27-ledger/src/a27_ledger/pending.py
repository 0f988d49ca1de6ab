"""Transactions that arrived before their turn: held until the sender's earlier nonces are applied, or they expire."""

from __future__ import annotations

from typing import Protocol

from a27_ledger.errors import DuplicateTransaction, QueueFull
from a27_ledger.transaction import Transaction

DEFAULT_HOLD_SECONDS = 30.0
"""How long a queued transaction waits for its sender's earlier nonces before it expires."""


class NonceView(Protocol):
    """Anything that knows each account's next nonce (a `LedgerState`, or a mempool's view on top of it)."""

    def next_nonce(self, account: bytes) -> int:
        """The nonce the next transaction of `account` must carry."""
        ...


class FutureNonceQueue:
    """Holds transactions whose nonce is ahead of their sender's next nonce, bounded per sender, in total and in time.

    One transaction per (sender, nonce): the first one held wins. Senders are visited in the order they first
    entered the queue, so results are deterministic. Time is whatever clock the caller passes as ``now`` (seconds);
    the queue reads no clock itself. When the queue is full, a sender that holds fewer transactions than the
    largest holder still gets in: the largest holder's highest nonce makes room (``add`` returns it), so many
    senders with one transaction each, or one sender with many, cannot lock others out.
    """

    def __init__(self, per_sender_limit: int = 16, total_limit: int = 4096,
                 hold_seconds: float = DEFAULT_HOLD_SECONDS) -> None:
        """Create an empty queue with the given bounds; entries expire ``hold_seconds`` after they were added."""
        if per_sender_limit < 1 or total_limit < 1:
            raise ValueError("queue limits must be at least 1")
        if not hold_seconds > 0:
            raise ValueError("hold_seconds must be positive")
        self.per_sender_limit = per_sender_limit
        self.total_limit = total_limit
        self.hold_seconds = hold_seconds
        self._by_sender: dict[bytes, dict[int, Transaction]] = {}
        # Deadlines in the order entries were added: with a clock that does not go back, the oldest come first.
        self._deadlines: dict[tuple[bytes, int], float] = {}

    def __len__(self) -> int:
        """Number of transactions held."""
        return len(self._deadlines)

    def held_by(self, sender: bytes) -> list[Transaction]:
        """The transactions of ``sender`` held, in nonce order."""
        return [tx for _, tx in sorted(self._by_sender.get(sender, {}).items())]

    def holds(self, tx: Transaction) -> bool:
        """Whether this very transaction (same id) is held."""
        held = self._by_sender.get(tx.sender, {}).get(tx.nonce)
        return held is not None and held.tx_id == tx.tx_id

    def add(self, tx: Transaction, now: float) -> Transaction | None:
        """
        Hold ``tx`` until ``now + hold_seconds``; return the transaction evicted to make room, if any.

        Adding a transaction already held is a no-op.

        :raises DuplicateTransaction: another transaction of the sender with this nonce is held.
        :raises QueueFull: the sender holds ``per_sender_limit`` transactions, or the queue is full and no sender
            holds more than this one.
        """
        held = self._by_sender.get(tx.sender, {})
        if tx.nonce in held:
            if held[tx.nonce].tx_id == tx.tx_id:
                return None
            raise DuplicateTransaction(f"nonce {tx.nonce} of this sender is already queued")
        if len(held) >= self.per_sender_limit:
            raise QueueFull(f"queue holds {len(held)} transactions of this sender, the limit")
        evicted = None
        if len(self._deadlines) >= self.total_limit:
            evicted = self._evict_for(len(held))
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = tx
        self._deadlines[(tx.sender, tx.nonce)] = now + self.hold_seconds
        return evicted

    def _evict_for(self, newcomer_count: int) -> Transaction:
        largest, count = b"", 0
        for sender, held in self._by_sender.items():
            if len(held) > count:
                largest, count = sender, len(held)
        if count <= newcomer_count:
            raise QueueFull(f"queue holds {len(self._deadlines)} transactions, the limit")
        held = self._by_sender[largest]
        return self._remove(largest, held, max(held))

    def expire(self, now: float) -> list[Transaction]:
        """Remove and return the transactions whose time ran out at ``now``, oldest first."""
        expired: list[Transaction] = []
        for (sender, nonce), deadline in list(self._deadlines.items()):
            if deadline > now:
                break
            expired.append(self._remove(sender, self._by_sender[sender], nonce))
        return expired

    def pop_ready(self, state: NonceView) -> list[Transaction]:
        """Remove and return the transactions now next in line: per sender, the consecutive run from its next nonce.

        Transactions of a sender come out in nonce order; stale ones (nonce already used) are dropped on the way.
        """
        ready: list[Transaction] = []
        for sender in list(self._by_sender):
            held = self._by_sender[sender]
            expected = state.next_nonce(sender)
            self._drop_below(sender, held, expected)
            while expected in held:
                ready.append(self._remove(sender, held, expected))
                expected += 1
        return ready

    def drop_stale(self, state: NonceView) -> int:
        """Remove transactions whose nonce is already used; return how many were removed."""
        before = len(self._deadlines)
        for sender in list(self._by_sender):
            self._drop_below(sender, self._by_sender[sender], state.next_nonce(sender))
        return before - len(self._deadlines)

    def _drop_below(self, sender: bytes, held: dict[int, Transaction], next_nonce: int) -> None:
        for nonce in [nonce for nonce in held if nonce < next_nonce]:
            self._remove(sender, held, nonce)

    def _remove(self, sender: bytes, held: dict[int, Transaction], nonce: int) -> Transaction:
        tx = held.pop(nonce)
        del self._deadlines[(sender, nonce)]
        if not held:
            del self._by_sender[sender]
        return tx
