"""
Lab 1 replication, sans-IO: how validators admit transfers and how every node follows the validators' logs.

A validator checks a submitted transaction against its own state, applies it and appends it to its log, a
numbered list of the transactions it accepted. Every node (validators included) follows each validator's log
in order, applying the entries to its own state. Entries lost on the way are found from gaps in the numbering
and from the head each validator announces, and fetched again. Nothing here touches the network or a clock;
``LedgerCommunity`` turns the results into messages.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Sequence

import attrs

from .defences import LedgerDefences
from .errors import (
    BadSignature,
    DuplicateTransaction,
    InsufficientBalance,
    LedgerError,
    NonceGap,
    NonceReplay,
    QueueFull,
)
from .pending import FutureNonceQueue
from .state import FEE_POOL, LedgerState, Receipt, StateTransition
from .transaction import Transaction, Transfer

QUEUED = 255
"""Result code of a submission held by the validator until the sender's earlier nonces arrive."""

ACCEPTED = 0
"""Result code of an accepted submission."""

CONFIRMATION_WINDOW = 2.0
"""Default seconds a credit must have been applied on a validator before it admits a spend of it
(``ledger.confirmed_credits``): two head intervals, so a conflicting entry lost once is fetched again in time."""


DOUBLE_SPEND_NAMESPACE = "double-spend"
"""Data records of the (sender, nonce) slots voided as double spends: key sender (32 bytes) + nonce (u64), value 01.

They make voiding idempotent across restarts and are the same on every node that voided the slot."""

_U64 = struct.Struct(">Q")


@attrs.frozen
class DoubleSpendProof:
    """Two different transactions signed by one sender with one nonce: a double spend anyone can check."""

    first: Transaction
    """The transaction this node had applied."""
    second: Transaction
    """The conflicting one that arrived later."""

    @property
    def offender(self) -> bytes:
        """The account key that signed both."""
        return self.first.sender

    @property
    def nonce(self) -> int:
        """The nonce both carry."""
        return self.first.nonce

    def verify(self) -> bool:
        """Whether this is a proof: same sender and nonce, different ids, both signatures valid."""
        first, second = self.first, self.second
        return (first.sender == second.sender and first.nonce == second.nonce and first.tx_id != second.tx_id
                and first.verify_signature() and second.verify_signature())


@attrs.define
class DoubleSpend:
    """What this node found and did about one double-spent (sender, nonce) slot."""

    proof: DoubleSpendProof
    voided: bool
    """Whether the applied transaction is void here (False: it could not be undone, see ``LedgerReplica``)."""
    further: int = 0
    """Conflicting log entries for the slot that arrived after the proof (a third transaction, or copies)."""


@attrs.frozen
class LogEntry:
    """One transaction at its position in a validator's log (positions start at 1)."""

    sequence: int
    transaction: Transaction


@attrs.frozen
class LogAdmission:
    """What a validator decided about one submitted transaction."""

    tx_id: bytes
    code: int
    sequence: int = 0
    error: LedgerError | None = None

    @property
    def accepted(self) -> bool:
        """Whether the transaction is in the ledger (in this validator's log, or already applied from another)."""
        return self.code == ACCEPTED

    @property
    def reason(self) -> str:
        """A human-readable reason: empty when accepted."""
        if self.code == QUEUED:
            return "queued until the sender's earlier nonces arrive"
        if self.error is None:
            return ""
        return f"{self.error.reason}: {self.error}"


@attrs.frozen
class MissingRange:
    """Entries ``start .. start + count - 1`` of a validator's log that this node lacks."""

    validator: bytes
    start: int
    count: int


@attrs.frozen
class EntryOutcome:
    """What following one log entry did: receipts applied, a range to fetch, or a misbehaving validator."""

    applied: tuple[Receipt, ...] = ()
    missing: MissingRange | None = None
    invalid: LedgerError | None = None


class ValidatorLog:
    """The numbered list of transactions one validator accepted, with an index by transaction id."""

    def __init__(self) -> None:
        """Create an empty log."""
        self._entries: list[Transaction] = []
        self._positions: dict[bytes, int] = {}

    @property
    def head(self) -> int:
        """Position of the last entry (0 when empty)."""
        return len(self._entries)

    def append(self, transaction: Transaction) -> LogEntry:
        """Append a transaction and return its entry."""
        self._entries.append(transaction)
        self._positions[transaction.tx_id] = len(self._entries)
        return LogEntry(len(self._entries), transaction)

    def position(self, tx_id: bytes) -> int:
        """Position of a transaction in the log, 0 if absent."""
        return self._positions.get(tx_id, 0)

    def entries(self, start: int, count: int) -> list[LogEntry]:
        """Entries ``start .. start + count - 1`` that exist."""
        first = max(start, 1)
        last = min(start + count - 1, len(self._entries))
        return [LogEntry(position, self._entries[position - 1]) for position in range(first, last + 1)]


class LogFollower:
    """Follows one validator's log: applies entries in order, buffers early ones, reports gaps."""

    def __init__(self, validator: bytes, buffer_limit: int) -> None:
        """Follow ``validator``'s log from position 1, holding at most ``buffer_limit`` early entries."""
        self.validator = validator
        self.next_sequence = 1
        self.buffer_limit = buffer_limit
        self._early: dict[int, Transaction] = {}

    def offer(self, sequence: int, transaction: Transaction) -> list[Transaction]:
        """Take an entry; return the transactions now next in line, in log order."""
        if sequence < self.next_sequence or sequence in self._early:
            return []
        if sequence > self.next_sequence:
            if len(self._early) < self.buffer_limit:
                self._early[sequence] = transaction
            return []
        ready = [transaction]
        self.next_sequence += 1
        while self.next_sequence in self._early:
            ready.append(self._early.pop(self.next_sequence))
            self.next_sequence += 1
        return ready

    def missing(self, known_head: int, batch: int) -> MissingRange | None:
        """The first range this node lacks, given that the validator's log reaches ``known_head``."""
        if known_head < self.next_sequence:
            return None
        end = min(known_head, self.next_sequence + batch - 1)
        count = end - self.next_sequence + 1
        early = [sequence for sequence in self._early if sequence <= end]
        if len(early) == count:
            return None
        return MissingRange(self.validator, self.next_sequence, count)


class RecentCredits:
    """
    Transfer credits applied in the last ``window`` seconds, per account (defence ``ledger.confirmed_credits``).

    Times are the caller's ``now`` (any clock that does not go back). Memory is one entry per credit applied within
    the window, so it is bounded by what validators can log in ``window`` seconds; expired entries are dropped on
    every call, oldest first.
    """

    def __init__(self, window: float) -> None:
        """Track credits for ``window`` seconds."""
        self.window = window
        self._entries: deque[tuple[float, bytes, int]] = deque()
        self._totals: dict[bytes, int] = {}

    def __len__(self) -> int:
        """How many credits are tracked."""
        return len(self._entries)

    def add(self, account: bytes, amount: int, now: float) -> None:
        """Record that ``account`` was credited ``amount`` at ``now``."""
        self.expire(now)
        self._entries.append((now, account, amount))
        self._totals[account] = self._totals.get(account, 0) + amount

    def expire(self, now: float) -> None:
        """Forget credits applied ``window`` seconds or more before ``now``."""
        entries, totals = self._entries, self._totals
        while entries and now - entries[0][0] >= self.window:
            _at, account, amount = entries.popleft()
            left = totals[account] - amount
            if left:
                totals[account] = left
            else:
                del totals[account]

    def unconfirmed(self, account: bytes, now: float) -> int:
        """What ``account`` was credited less than ``window`` seconds before ``now``."""
        self.expire(now)
        return self._totals.get(account, 0)


class LedgerReplica:
    """One node's view of the Lab 1 ledger: its state, its own log if it validates, and the logs it follows.

    Operations put what must be sent into an outbox (log entries to broadcast, verdicts for submitters whose
    queued transactions were released); the community drains it with ``take_outbox`` after each call.
    """

    def __init__(self, state: LedgerState, validators: Sequence[bytes], own_key: bytes, *,
                 waiting_limit: int = 10_000, buffer_limit: int = 4096, queue: FutureNonceQueue | None = None,
                 defences: LedgerDefences | None = None, confirmation_window: float = CONFIRMATION_WINDOW) -> None:
        """
        Create the replica of the node whose account key is ``own_key``.

        :param validators: the validator account keys from genesis; the node validates if ``own_key`` is one.
        :param waiting_limit: how many log entries may wait for an earlier transfer (another validator's) to arrive.
        :param buffer_limit: how many early entries each log follower holds.
        :param defences: which defences run; ``None`` runs them all (``LedgerDefences()``).
        :param confirmation_window: with ``ledger.confirmed_credits``, seconds a transfer credit must have been
            applied here before this validator admits a spend of it.
        """
        self.defences = defences if defences is not None else LedgerDefences()
        self.state = state
        self.validators = tuple(sorted(validators))
        self.own_key = own_key
        self.is_validator = own_key in self.validators
        self.log = ValidatorLog()
        self.queue = queue if queue is not None else FutureNonceQueue()
        self.followers = {validator: LogFollower(validator, buffer_limit)
                          for validator in self.validators if validator != own_key}
        self.waiting_limit = waiting_limit
        self._waiting: dict[bytes, Transaction] = {}
        self._known_heads: dict[bytes, int] = dict.fromkeys(self.followers, 0)
        self._applied_ids = {receipt.tx.tx_id for receipt in state.history()}
        self._outbox_entries: list[LogEntry] = []
        self._outbox_verdicts: list[LogAdmission] = []
        self.conflicts: list[tuple[bytes, Transaction]] = []
        """Without ``ledger.conflicting_nonces``: entries dropped because another transaction with the same sender and
        nonce was applied first."""
        self._by_slot: dict[tuple[bytes, int], Transaction] = {}
        """With ``ledger.conflicting_nonces``: every applied transaction by (sender, nonce), to find the one a
        conflicting entry contradicts."""
        if self.defences.conflicting_nonces:
            self._by_slot = {(receipt.tx.sender, receipt.tx.nonce): receipt.tx for receipt in state.history()}
        self.double_spends: dict[tuple[bytes, int], DoubleSpend] = {}
        """Double spends found, by (sender, nonce); one per slot, however many conflicting entries arrive."""
        self._outbox_double_spends: list[DoubleSpend] = []
        self.applied_listeners: list[Callable[[Receipt], None]] = []
        """Called with every receipt this node applies, in apply order."""
        self.recent_credits = RecentCredits(confirmation_window)
        """With ``ledger.confirmed_credits``: transfer credits applied here within the confirmation window."""

    def take_outbox(self) -> tuple[list[LogEntry], list[LogAdmission]]:
        """Entries this validator logged and verdicts on released submissions, since the last call."""
        entries, verdicts = self._outbox_entries, self._outbox_verdicts
        self._outbox_entries, self._outbox_verdicts = [], []
        return entries, verdicts

    def take_double_spends(self) -> list[DoubleSpend]:
        """Double spends found since the last call, for the community to report once each."""
        found, self._outbox_double_spends = self._outbox_double_spends, []
        return found

    # Validator side ---------------------------------------------------------------------------------------------

    def admit(self, transaction: Transaction, now: float) -> LogAdmission:
        """
        Check a submitted transaction against this validator's state; apply and log it if valid.

        A transaction whose nonce is ahead is held in the future-nonce queue only if it could be applied once its
        turn comes: its signature verifies, its body passes the stateless checks, its nonce is at most
        ``queue.per_sender_limit`` ahead, and the sender's current balance covers it together with the sender's
        transactions already held. ``now`` (seconds, any clock that does not go back) starts its hold time; call
        ``expire_queued`` first (and now and then) so that entries whose time ran out make room.
        """
        if not self.is_validator:
            msg = "only a validator admits transactions"
            raise RuntimeError(msg)
        tx_id = transaction.tx_id
        if tx_id in self._applied_ids:
            return LogAdmission(tx_id, ACCEPTED, self.log.position(tx_id))
        if not transaction.verify_signature():
            error: LedgerError = BadSignature("transaction signature does not verify")
            return LogAdmission(tx_id, error.code, error=error)
        try:
            self._check_confirmed(transaction, now)
            self._apply(transaction, now)
        except NonceGap as gap:
            return self._hold(transaction, gap, now)
        except LedgerError as error:
            return LogAdmission(tx_id, error.code, error=error)
        entry = self.log.append(transaction)
        self._outbox_entries.append(entry)
        self._settle(now)
        return LogAdmission(tx_id, ACCEPTED, entry.sequence)

    def expire_queued(self, now: float) -> int:
        """Drop queued transactions whose hold time ran out (their submitters get a NonceGap verdict); how many."""
        expired = self.queue.expire(now)
        for transaction in expired:
            error = NonceGap(f"the sender's earlier nonces did not arrive within {self.queue.hold_seconds:g} s")
            self._outbox_verdicts.append(LogAdmission(transaction.tx_id, error.code, error=error))
        return len(expired)

    def _hold(self, transaction: Transaction, gap: NonceGap, now: float) -> LogAdmission:
        tx_id = transaction.tx_id
        if self.queue.holds(transaction):
            return LogAdmission(tx_id, QUEUED, error=gap)
        sender = transaction.sender
        ahead = transaction.nonce - self.state.next_nonce(sender)
        if ahead > self.queue.per_sender_limit:
            too_far = NonceGap(f"nonce {transaction.nonce} is {ahead} ahead of the next nonce; at most "
                               f"{self.queue.per_sender_limit} are held")
            return LogAdmission(tx_id, too_far.code, error=too_far)
        needed = sum(tx.body.debit() + tx.fee for tx in [*self.queue.held_by(sender), transaction])
        balance = self.state.balance(sender)
        if balance < needed:
            short = InsufficientBalance(f"balance {balance} < {needed}, what this and the held transactions take")
            return LogAdmission(tx_id, short.code, error=short)
        try:
            evicted = self.queue.add(transaction, now)
        except (DuplicateTransaction, QueueFull) as refused:
            return LogAdmission(tx_id, refused.code, error=refused)
        if evicted is not None:
            full = QueueFull("evicted from the full queue by a sender holding fewer transactions")
            self._outbox_verdicts.append(LogAdmission(evicted.tx_id, full.code, error=full))
        return LogAdmission(tx_id, QUEUED, error=gap)

    def _release_queued(self, now: float) -> bool:
        released = False
        for transaction in self.queue.pop_ready(self.state):
            try:
                self._check_confirmed(transaction, now)
                self._apply(transaction, now)
            except LedgerError as error:
                self._outbox_verdicts.append(LogAdmission(transaction.tx_id, error.code, error=error))
                continue
            entry = self.log.append(transaction)
            self._outbox_entries.append(entry)
            self._outbox_verdicts.append(LogAdmission(transaction.tx_id, ACCEPTED, entry.sequence))
            released = True
        return released

    # Every node -------------------------------------------------------------------------------------------------

    def receive_entry(self, validator: bytes, sequence: int, transaction: Transaction, now: float) -> EntryOutcome:
        """
        Follow one entry of ``validator``'s log, received at ``now`` (the clock ``admit`` gets); unknown validators
        must be filtered out by the caller.
        """
        follower = self.followers[validator]
        self._known_heads[validator] = max(self._known_heads[validator], sequence)
        applied: list[Receipt] = []
        voided = False
        for candidate in follower.offer(sequence, transaction):
            if not candidate.verify_signature():
                return EntryOutcome(tuple(applied), invalid=BadSignature(
                    "a log entry carries a transaction whose signature does not verify"))
            receipt, error, changed = self._follow(validator, candidate, now)
            voided = voided or changed
            if error is not None:
                return EntryOutcome(tuple(applied), invalid=error)
            if receipt is not None:
                applied.append(receipt)
        if applied or voided:
            applied.extend(self._settle(now))
        return EntryOutcome(tuple(applied), missing=follower.missing(self._known_heads[validator], 64))

    def receive_head(self, validator: bytes, head: int, batch: int) -> MissingRange | None:
        """Note the head a validator announced; return the first range to fetch, if any."""
        self._known_heads[validator] = max(self._known_heads[validator], head)
        return self.followers[validator].missing(head, batch)

    def missing_ranges(self, batch: int) -> list[MissingRange]:
        """Every range this node knows it lacks, one per validator, in validator order."""
        ranges = []
        for validator, follower in self.followers.items():
            missing = follower.missing(self._known_heads[validator], batch)
            if missing is not None:
                ranges.append(missing)
        return ranges

    @property
    def waiting(self) -> int:
        """How many followed entries wait for an earlier transfer to arrive."""
        return len(self._waiting)

    def has_applied(self, tx_id: bytes) -> bool:
        """Whether this node applied the transaction."""
        return tx_id in self._applied_ids

    def _apply(self, transaction: Transaction, now: float) -> Receipt:
        receipt = self.state.apply(transaction, verify_signature=False)
        self._applied_ids.add(transaction.tx_id)
        if self.defences.conflicting_nonces:
            self._by_slot[(transaction.sender, transaction.nonce)] = transaction
        body = transaction.body
        if self.defences.confirmed_credits and self.is_validator and isinstance(body, Transfer):
            self.recent_credits.add(body.recipient, body.amount, now)
        for listener in self.applied_listeners:
            listener(receipt)
        return receipt

    def _follow(self, validator: bytes, transaction: Transaction,
                now: float) -> tuple[Receipt | None, LedgerError | None, bool]:
        """Apply a followed entry; a transfer that depends on one not yet seen waits. The flag: a double spend was
        voided (the state changed without a receipt)."""
        if transaction.tx_id in self._applied_ids:
            return None, None, False
        try:
            return self._apply(transaction, now), None, False
        except (NonceGap, InsufficientBalance):
            # Entries from different validators interleave differently on every node: wait for the rest.
            if len(self._waiting) < self.waiting_limit:
                self._waiting.setdefault(transaction.tx_id, transaction)
            return None, None, False
        except NonceReplay:
            if self.defences.conflicting_nonces:
                return None, None, self._conflict(transaction)
            self.conflicts.append((validator, transaction))
            return None, None, False
        except LedgerError as error:
            # A validator logged a transaction that no state could accept: it is faulty or malicious.
            return None, error, False

    def _settle(self, now: float) -> list[Receipt]:
        """After a change: apply waiting entries and release queued submissions until nothing moves."""
        applied: list[Receipt] = []
        progress = True
        while progress:
            progress = False
            for tx_id, transaction in list(self._waiting.items()):
                if tx_id in self._applied_ids:
                    del self._waiting[tx_id]
                    continue
                try:
                    applied.append(self._apply(transaction, now))
                except (NonceGap, InsufficientBalance):
                    continue
                except NonceReplay:
                    del self._waiting[tx_id]
                    if self.defences.conflicting_nonces and self._conflict(transaction):
                        progress = True
                    continue
                except LedgerError:
                    del self._waiting[tx_id]
                    continue
                del self._waiting[tx_id]
                progress = True
            if self.is_validator and len(self.queue) and self._release_queued(now):
                progress = True
        return applied

    # Defence ledger.confirmed_credits ----------------------------------------------------------------------------

    def _check_confirmed(self, transaction: Transaction, now: float) -> None:
        """
        Refuse (``InsufficientBalance``) a transaction due now whose sender can pay only with transfer credits applied
        here less than the confirmation window ago: a double spend that paid them is voided within that window, and
        the credit with it, on every node; spent onward first, it could not be. Anything else is left to the
        ledger's own checks.
        """
        if not self.defences.confirmed_credits:
            return
        sender = transaction.sender
        unconfirmed = self.recent_credits.unconfirmed(sender, now)
        if not unconfirmed or transaction.nonce != self.state.next_nonce(sender):
            return
        balance = self.state.balance(sender)
        needed = transaction.body.debit() + transaction.fee
        spendable = max(0, balance - unconfirmed)
        if spendable < needed <= balance:
            msg = (f"balance {balance} includes {unconfirmed} credited less than {self.recent_credits.window:g} s "
                   f"ago; confirmed {spendable} < amount+fee {needed}")
            raise InsufficientBalance(msg)

    # Defence ledger.conflicting_nonces ---------------------------------------------------------------------------

    def _conflict(self, transaction: Transaction) -> bool:
        """
        A followed, validly signed entry whose (sender, nonce) another applied transaction used: void that one.

        Returns whether the state changed. Work and memory per call are constant; one record per slot.
        """
        slot = (transaction.sender, transaction.nonce)
        record = self.double_spends.get(slot)
        if record is not None:
            record.further += 1
            return False
        applied = self._by_slot.get(slot)
        if applied is None or applied.tx_id == transaction.tx_id:
            return False
        record = DoubleSpend(DoubleSpendProof(applied, transaction), self._void(applied))
        self.double_spends[slot] = record
        self._outbox_double_spends.append(record)
        return record.voided

    def _void(self, applied: Transaction) -> bool:
        """
        Undo an applied transfer except its nonce: the amount goes back from the recipient and the fee from the fee
        pool to the sender, and the slot is recorded as void. Every node voids whichever of the conflicting
        transactions it applied, so all end in the same state. False if it cannot be undone: not a transfer, or the
        recipient no longer holds the amount (it spent it before the conflict was seen here).
        """
        key = applied.sender + _U64.pack(applied.nonce)
        if self.state.get_data(DOUBLE_SPEND_NAMESPACE, key) is not None:
            return True
        body = applied.body
        if not isinstance(body, Transfer):
            return False

        def undo(ctx: StateTransition) -> None:
            ctx.transfer(body.recipient, applied.sender, body.amount)
            ctx.unlock(FEE_POOL[0], FEE_POOL[1], applied.sender, applied.fee)
            ctx.put_data(DOUBLE_SPEND_NAMESPACE, key, b"\x01")

        try:
            self.state.apply_block([], system=undo)
        except InsufficientBalance:
            return False
        return True
