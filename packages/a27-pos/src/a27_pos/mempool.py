"""The mempool: transactions waiting for a block, bounded, deduplicated, in per-sender nonce order.

- Bounded by count and by bytes. When full, the cheapest *last* transaction of some sender is evicted (ties: the
  newest), so a sender never loses a lower nonce while a higher one stays; a newcomer that does not pay more than
  that victim is refused (MempoolFull).
- One transaction per id and per (sender, nonce): the first one wins.
- Holds nonces up to `max_nonce_ahead` beyond the sender's next nonce; only the consecutive run from the next nonce
  is offered for a block. Transactions behind a nonce gap ("gapped") cannot be in the next block, so they are
  bounded apart: at most `max_gapped_per_sender` per sender and `max_gapped` in all, so that they never take the
  room of transactions that can be included.
- A transaction that continues its sender's consecutive run is dry-run on entry (with the sender's pending ones
  ahead of it) and admitted only if it would apply now: a transaction whose application fails (a kind whose
  stateless checks pass but whose effects cannot happen) must not hold its sender's nonce. Every held transaction's
  cost (debit plus fee), summed per sender, must fit the sender's balance.
- Entries expire `max_age` seconds after admission (`expire(now)`, explicit time), so what never becomes
  includable does not stay for good.
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
    __slots__ = ("admitted_at", "arrival", "cost", "fee", "nonce", "sender", "size", "tx")

    def __init__(self, tx: Transaction, size: int, arrival: int, admitted_at: float) -> None:
        self.tx = tx
        self.size = size
        self.arrival = arrival
        self.admitted_at = admitted_at
        self.fee = tx.fee
        self.sender = tx.sender
        self.nonce = tx.nonce
        self.cost = tx.body.debit() + tx.fee


class Mempool:
    """Pending transactions of one node; see the module docstring for the rules."""

    def __init__(self, max_transactions: int = 10_000, max_bytes: int = 8_000_000, *, max_nonce_ahead: int = 64,
                 max_transaction_bytes: int = 16_384, max_gapped_per_sender: int = 16, max_gapped: int | None = None,
                 max_age: float = 600.0) -> None:
        """Create an empty pool with the given bounds; `max_gapped` defaults to a quarter of `max_transactions`."""
        max_gapped = max_transactions // 4 if max_gapped is None else max_gapped
        if min(max_transactions, max_bytes, max_transaction_bytes) < 1 or min(
                max_nonce_ahead, max_gapped_per_sender, max_gapped) < 0 or not max_age > 0:
            raise ValueError("mempool bounds must be positive")
        self.max_transactions = max_transactions
        self.max_bytes = max_bytes
        self.max_nonce_ahead = max_nonce_ahead
        self.max_transaction_bytes = max_transaction_bytes
        self.max_gapped_per_sender = max_gapped_per_sender
        self.max_gapped = max_gapped
        self.max_age = max_age
        self._by_id: dict[bytes, _Entry] = {}
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._cost: dict[bytes, int] = {}
        self._gapped: dict[bytes, int] = {}
        self._gapped_total = 0
        self._oldest: list[tuple[float, int, bytes]] = []
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

    @property
    def gapped(self) -> int:
        """Transactions held behind a nonce gap of their sender (not includable in the next block)."""
        return self._gapped_total

    # Adding -----------------------------------------------------------------------------------------------------

    def add(self, tx: Transaction, state: LedgerState, *, now: float = 0.0, verify_signature: bool = True) -> None:
        """Admit `tx` at time `now` (seconds, for expiry), evicting cheaper transactions if the pool is full.

        Raises, cheapest check first: DuplicateTransaction (same id, or same sender and nonce), TransactionTooLarge,
        UnknownTransactionKind, the body's stateless LedgerError, NonceReplay, NonceTooFarAhead (also: too many of
        the sender's transactions behind a nonce gap), InsufficientBalance (the sender cannot pay this one on top of
        those held), MempoolFull (also: the share of gapped transactions is full), the LedgerError that applying it
        after the sender's pending transactions raises, BadSignature, MempoolFull.
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
        pending = self._cost.get(sender, 0)
        needed = tx.body.debit() + tx.fee
        if state.balance(sender) < needed + pending:
            held_too = f" plus {pending} of its pending transactions" if pending else ""
            raise InsufficientBalance(f"balance {state.balance(sender)} < amount+fee {needed}{held_too}")
        ahead = _consecutive_run(held or {}, expected)
        if nonce == expected + len(ahead):
            # Next in line: it must apply after the sender's pending transactions, or it would hold the nonce.
            state.apply_block([*ahead, tx], verify_signature=False, dry_run=True)
        else:
            if self._gapped.get(sender, 0) >= self.max_gapped_per_sender:
                raise NonceTooFarAhead(f"the sender has {self.max_gapped_per_sender} transactions behind a nonce gap")
            if self._gapped_total >= self.max_gapped:
                raise MempoolFull(f"{self._gapped_total} transactions behind nonce gaps held, the limit")
        if verify_signature and not tx.verify_signature():
            raise BadSignature("signature does not verify against the sender's key")
        self._make_room(tx, size, state)
        entry = _Entry(tx, size, self._arrivals, now)
        self._insert(entry)
        heapq.heappush(self._oldest, (now, entry.arrival, tx.tx_id))
        self._arrivals += 1
        self._recount(sender, expected)

    def _make_room(self, tx: Transaction, size: int, state: LedgerState) -> None:
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
            self._recount(sender, state.next_nonce(sender))

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
        self._cost[entry.sender] = self._cost.get(entry.sender, 0) + entry.cost
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
        self._cost[entry.sender] -= entry.cost
        if not held:
            del self._by_sender[entry.sender]
            del self._tail[entry.sender]
            del self._cost[entry.sender]
        elif self._tail[entry.sender] == entry.nonce:
            tail = max(held)
            self._tail[entry.sender] = tail
            self._push_tail(held[tail])

    def _recount(self, sender: bytes, next_nonce: int) -> None:
        """Recount the sender's gapped transactions after its entries or its next nonce changed."""
        held = self._by_sender.get(sender)
        gapped = 0 if held is None else len(held) - len(_consecutive_run(held, next_nonce))
        self._gapped_total += gapped - self._gapped.pop(sender, 0)
        if gapped:
            self._gapped[sender] = gapped

    def expire(self, now: float, state: LedgerState) -> int:
        """Drop transactions admitted `max_age` seconds or more before `now`, with their senders' later ones.

        `state` is the current state. Returns how many transactions left the pool.
        """
        before = len(self._by_id)
        oldest = self._oldest
        while oldest and oldest[0][0] + self.max_age <= now:
            _admitted, _arrival, tx_id = heapq.heappop(oldest)
            entry = self._by_id.get(tx_id)
            if entry is None:
                continue
            # Later nonces of the sender would wait behind the gap: they go too.
            for later in [later for nonce, later in self._by_sender[entry.sender].items() if nonce >= entry.nonce]:
                self._remove(later)
            self._recount(entry.sender, state.next_nonce(entry.sender))
        if len(oldest) > 2 * len(self._by_id) + 64:
            self._oldest = [(entry.admitted_at, entry.arrival, tx_id) for tx_id, entry in self._by_id.items()]
            heapq.heapify(self._oldest)
        return before - len(self._by_id)

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
                self._recount(entry.sender, state.next_nonce(entry.sender))

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
            self._recount(sender, next_nonce)
        return before - len(self._by_id)


def _consecutive_run(held: dict[int, _Entry], next_nonce: int) -> list[Transaction]:
    """The held transactions with nonces next_nonce, next_nonce + 1, ... up to the first missing one."""
    run: list[Transaction] = []
    while (entry := held.get(next_nonce + len(run))) is not None:
        run.append(entry.tx)
    return run


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
