"""The mempool: transactions waiting for a block, bounded, deduplicated, in per-sender nonce order.

- Bounded by count and by bytes. When full, the cheapest *last* transaction of some sender is evicted (ties: the
  newest), so a sender never loses a lower nonce while a higher one stays; a newcomer that does not pay more than
  that victim is refused (MempoolFull).
- One transaction per id and per (sender, nonce): the first one wins.
- Holds nonces up to `max_nonce_ahead` beyond the sender's next nonce; only the consecutive run from the next nonce
  is offered for a block.
- Signatures are verified on entry, so selecting and validating blocks need not verify them again.
- `pop_for_block` offers transactions by fee across senders and returns a sequence that applies cleanly to the given
  state; it leaves them in the pool. `remove_included` drops what a finalized block included or made stale.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from a27_ledger import (
    BadSignature,
    DuplicateTransaction,
    InsufficientBalance,
    LedgerError,
    LedgerState,
    NonceReplay,
    Transaction,
    UnknownTransactionKind,
)
from a27_pos.block import Block
from a27_pos.errors import MempoolFull, NonceTooFarAhead, TransactionTooLarge

BLOCK_ENTRY_OVERHEAD = 4
"""Bytes a block spends per transaction besides its encoding (the u32 length)."""


class _Entry:
    __slots__ = ("arrival", "fee", "nonce", "sender", "size", "tx")

    def __init__(self, tx: Transaction, size: int, arrival: int) -> None:
        self.tx = tx
        self.size = size
        self.arrival = arrival
        self.fee = tx.fee
        self.sender = tx.sender
        self.nonce = tx.nonce


class Mempool:
    """Pending transactions of one node; see the module docstring for the rules."""

    def __init__(self, max_transactions: int = 10_000, max_bytes: int = 8_000_000, *, max_nonce_ahead: int = 64,
                 max_transaction_bytes: int = 16_384) -> None:
        """Create an empty pool with the given bounds."""
        if max_transactions < 1 or max_bytes < 1 or max_nonce_ahead < 0 or max_transaction_bytes < 1:
            raise ValueError("mempool bounds must be positive")
        self.max_transactions = max_transactions
        self.max_bytes = max_bytes
        self.max_nonce_ahead = max_nonce_ahead
        self.max_transaction_bytes = max_transaction_bytes
        self._by_id: dict[bytes, _Entry] = {}
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._tail: dict[bytes, int] = {}
        # (fee, -arrival, sender, nonce) of each sender's last transaction; entries go stale and are skipped.
        self._tails: list[tuple[int, int, bytes, int]] = []
        self._bytes = 0
        self._arrivals = 0

    def __len__(self) -> int:
        """Number of transactions held."""
        return len(self._by_id)

    def __contains__(self, tx_id: object) -> bool:
        """Whether a transaction with this id is held."""
        return tx_id in self._by_id

    def __iter__(self) -> Iterator[Transaction]:
        """The transactions held, in arrival order."""
        return iter([entry.tx for entry in sorted(self._by_id.values(), key=lambda entry: entry.arrival)])

    @property
    def size_bytes(self) -> int:
        """Total encoded size of the transactions held."""
        return self._bytes

    def get(self, tx_id: bytes) -> Transaction | None:
        """The transaction with this id, or None."""
        entry = self._by_id.get(tx_id)
        return None if entry is None else entry.tx

    # Adding -----------------------------------------------------------------------------------------------------

    def add(self, tx: Transaction, state: LedgerState, *, verify_signature: bool = True) -> None:
        """Admit `tx`, evicting cheaper transactions if the pool is full.

        Raises, cheapest check first: DuplicateTransaction (same id, or same sender and nonce), TransactionTooLarge,
        UnknownTransactionKind, the body's stateless LedgerError, NonceReplay, NonceTooFarAhead,
        InsufficientBalance (the sender cannot pay even this one), BadSignature, MempoolFull.
        """
        tx_id = tx.tx_id
        if tx_id in self._by_id:
            raise DuplicateTransaction("the mempool holds this transaction")
        size = len(tx.encode())
        if size > self.max_transaction_bytes:
            raise TransactionTooLarge(f"{size} bytes, the limit is {self.max_transaction_bytes}")
        if state.registry.body_class(tx.kind) is not type(tx.body):
            raise UnknownTransactionKind(f"kind {tx.kind} is registered to another class")
        tx.body.check(tx)
        sender, nonce = tx.sender, tx.nonce
        expected = state.next_nonce(sender)
        if nonce < expected:
            raise NonceReplay(f"nonce {nonce} < next nonce {expected}")
        if nonce > expected + self.max_nonce_ahead:
            raise NonceTooFarAhead(f"nonce {nonce} is more than {self.max_nonce_ahead} ahead of {expected}")
        held = self._by_sender.get(sender)
        if held is not None and nonce in held:
            raise DuplicateTransaction(f"the mempool holds another transaction with nonce {nonce} of this sender")
        needed = tx.body.debit() + tx.fee
        if state.balance(sender) < needed:
            raise InsufficientBalance(f"balance {state.balance(sender)} < amount+fee {needed}")
        if verify_signature and not tx.verify_signature():
            raise BadSignature("signature does not verify against the sender's key")
        self._make_room(tx, size)
        self._insert(_Entry(tx, size, self._arrivals))
        self._arrivals += 1

    def _make_room(self, tx: Transaction, size: int) -> None:
        victims: list[tuple[int, int, bytes, int]] = []
        count, total = len(self._by_id), self._bytes
        while count + 1 > self.max_transactions or total + size > self.max_bytes:
            victim = self._cheapest_tail(exclude=victims)
            if victim is None or victim[0] >= tx.fee or (victim[2] == tx.sender and victim[3] < tx.nonce):
                for item in victims:
                    heapq.heappush(self._tails, item)
                if victim is not None:
                    heapq.heappush(self._tails, victim)
                raise MempoolFull(f"{count} transactions, {total} bytes held; fee {tx.fee} does not outbid the "
                                  f"cheapest evictable")
            victims.append(victim)
            entry = self._by_sender[victim[2]][victim[3]]
            count -= 1
            total -= entry.size
        for _fee, _arrival, sender, nonce in victims:
            self._remove(self._by_sender[sender][nonce])

    def _cheapest_tail(self, exclude: Sequence[tuple[int, int, bytes, int]]) -> tuple[int, int, bytes, int] | None:
        """Pop the cheapest live tail off the heap (the caller pushes it back or evicts it)."""
        excluded = {(item[2], item[3]) for item in exclude}
        tails = self._tails
        while tails:
            item = heapq.heappop(tails)
            _fee, _arrival, sender, nonce = item
            if self._tail.get(sender) == nonce and (sender, nonce) not in excluded:
                return item
        return None

    def _insert(self, entry: _Entry) -> None:
        self._by_id[entry.tx.tx_id] = entry
        held = self._by_sender.setdefault(entry.sender, {})
        held[entry.nonce] = entry
        self._bytes += entry.size
        tail = self._tail.get(entry.sender)
        if tail is None or entry.nonce > tail:
            self._tail[entry.sender] = entry.nonce
            self._push_tail(entry)

    def _push_tail(self, entry: _Entry) -> None:
        heapq.heappush(self._tails, (entry.fee, -entry.arrival, entry.sender, entry.nonce))
        # Stale heap entries accumulate as tails change; rebuild before they dominate.
        if len(self._tails) > 2 * len(self._by_id) + 64:
            live = [self._by_sender[sender][nonce] for sender, nonce in self._tail.items()]
            self._tails = [(tail.fee, -tail.arrival, tail.sender, tail.nonce) for tail in live]
            heapq.heapify(self._tails)

    def _remove(self, entry: _Entry) -> None:
        del self._by_id[entry.tx.tx_id]
        held = self._by_sender[entry.sender]
        del held[entry.nonce]
        self._bytes -= entry.size
        if not held:
            del self._by_sender[entry.sender]
            del self._tail[entry.sender]
        elif self._tail[entry.sender] == entry.nonce:
            tail = max(held)
            self._tail[entry.sender] = tail
            self._push_tail(held[tail])

    # Building blocks ---------------------------------------------------------------------------------------------

    def pop_for_block(self, state: LedgerState, max_txs: int, max_bytes: int) -> list[Transaction]:
        """Transactions for a block on top of `state`: by fee across senders, each sender's nonces consecutive.

        At most `max_txs` transactions whose encodings plus 4 bytes each fit `max_bytes`. The sequence applies
        cleanly to `state` (checked with a dry run); a transaction that does not is dropped from the pool. The
        transactions stay in the pool until `remove_included`.
        """
        while True:
            selected = self._select(state, max_txs, max_bytes)
            failing = _first_failing(selected, state)
            if failing is None:
                return selected
            entry = self._by_id.get(selected[failing].tx_id)
            if entry is not None:
                self._remove(entry)

    def _select(self, state: LedgerState, max_txs: int, max_bytes: int) -> list[Transaction]:
        heads: list[tuple[int, int, bytes, int]] = []
        for sender, held in self._by_sender.items():
            nonce = state.next_nonce(sender)
            entry = held.get(nonce)
            if entry is not None:
                heads.append((-entry.fee, entry.arrival, sender, nonce))
        heapq.heapify(heads)
        selected: list[Transaction] = []
        spent: dict[bytes, int] = {}
        used = 0
        while heads and len(selected) < max_txs:
            _fee, _arrival, sender, nonce = heapq.heappop(heads)
            held = self._by_sender[sender]
            entry = held[nonce]
            tx = entry.tx
            cost = tx.body.debit() + tx.fee
            # Credits a sender receives inside the block are ignored: the check stays valid in any order.
            if state.balance(sender) - spent.get(sender, 0) < cost:
                continue
            if used + entry.size + BLOCK_ENTRY_OVERHEAD > max_bytes:
                continue
            selected.append(tx)
            spent[sender] = spent.get(sender, 0) + cost
            used += entry.size + BLOCK_ENTRY_OVERHEAD
            following = held.get(nonce + 1)
            if following is not None:
                heapq.heappush(heads, (-following.fee, following.arrival, sender, nonce + 1))
        return selected

    def remove_included(self, block: Block, state: LedgerState) -> int:
        """Drop the block's transactions and those its senders can no longer use (nonce below the next one).

        `state` is the state after the block. Returns how many transactions left the pool.
        """
        before = len(self._by_id)
        for tx in block.transactions:
            entry = self._by_id.get(tx.tx_id)
            if entry is not None:
                self._remove(entry)
        for sender in {tx.sender for tx in block.transactions} | {item.offender for item in block.evidence}:
            held = self._by_sender.get(sender)
            if held is None:
                continue
            next_nonce = state.next_nonce(sender)
            for entry in [entry for nonce, entry in held.items() if nonce < next_nonce]:
                self._remove(entry)
        return before - len(self._by_id)


def _first_failing(selected: list[Transaction], state: LedgerState) -> int | None:
    """Index of the first transaction of `selected` that does not apply after the ones before it, or None."""
    if _applies(selected, state):
        return None
    # A prefix that fails stays failing when extended, so the first failing index is found by bisection.
    low, high = 0, len(selected) - 1
    while low < high:
        middle = (low + high) // 2
        if _applies(selected[: middle + 1], state):
            low = middle + 1
        else:
            high = middle
    return low


def _applies(transactions: list[Transaction], state: LedgerState) -> bool:
    try:
        state.apply_block(transactions, verify_signature=False, dry_run=True)
    except LedgerError:
        return False
    return True
