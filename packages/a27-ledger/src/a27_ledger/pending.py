"""Transactions that arrived before their turn: held until the sender's earlier nonces are applied."""

from __future__ import annotations

from typing import Protocol

from a27_ledger.errors import DuplicateTransaction, QueueFull
from a27_ledger.transaction import Transaction


class NonceView(Protocol):
    """Anything that knows each account's next nonce (a `LedgerState`, or a mempool's view on top of it)."""

    def next_nonce(self, account: bytes) -> int:
        """The nonce the next transaction of `account` must carry."""
        ...


class FutureNonceQueue:
    """Holds transactions whose nonce is ahead of their sender's next nonce, bounded per sender and in total.

    One transaction per (sender, nonce): the first one held wins. Senders are visited in the order they first
    entered the queue, so results are deterministic.
    """

    def __init__(self, per_sender_limit: int = 16, total_limit: int = 4096) -> None:
        """Create an empty queue with the given bounds."""
        if per_sender_limit < 1 or total_limit < 1:
            raise ValueError("queue limits must be at least 1")
        self._per_sender_limit = per_sender_limit
        self._total_limit = total_limit
        self._by_sender: dict[bytes, dict[int, Transaction]] = {}
        self._count = 0

    def __len__(self) -> int:
        """Number of transactions held."""
        return self._count

    def add(self, tx: Transaction) -> None:
        """Hold `tx`; DuplicateTransaction if its (sender, nonce) is taken, QueueFull if a bound is reached."""
        held = self._by_sender.get(tx.sender)
        if held is not None and tx.nonce in held:
            raise DuplicateTransaction(f"nonce {tx.nonce} of this sender is already queued")
        if self._count >= self._total_limit:
            raise QueueFull(f"queue holds {self._count} transactions, the limit")
        if held is None:
            held = self._by_sender[tx.sender] = {}
        elif len(held) >= self._per_sender_limit:
            raise QueueFull(f"queue holds {len(held)} transactions of this sender, the limit")
        held[tx.nonce] = tx
        self._count += 1

    def pop_ready(self, state: NonceView) -> list[Transaction]:
        """Remove and return the transactions now next in line: per sender, the consecutive run from its next nonce.

        Transactions of a sender come out in nonce order; stale ones (nonce already used) are dropped on the way.
        """
        ready: list[Transaction] = []
        for sender in list(self._by_sender):
            held = self._by_sender[sender]
            expected = state.next_nonce(sender)
            self._drop_below(held, expected)
            while expected in held:
                ready.append(held.pop(expected))
                self._count -= 1
                expected += 1
            if not held:
                del self._by_sender[sender]
        return ready

    def drop_stale(self, state: NonceView) -> int:
        """Remove transactions whose nonce is already used; return how many were removed."""
        before = self._count
        for sender in list(self._by_sender):
            held = self._by_sender[sender]
            self._drop_below(held, state.next_nonce(sender))
            if not held:
                del self._by_sender[sender]
        return before - self._count

    def _drop_below(self, held: dict[int, Transaction], next_nonce: int) -> None:
        for nonce in [nonce for nonce in held if nonce < next_nonce]:
            del held[nonce]
            self._count -= 1
