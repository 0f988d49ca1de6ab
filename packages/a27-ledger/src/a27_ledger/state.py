"""Ledger state: validates transactions against balances and nonces and applies them atomically to a store.

Pure and synchronous: no networking, no clock. Every kind changes state only through a `StateTransition`, whose
writes are buffered and reach the store in one commit per `apply`/`apply_batch`, so a rejected transaction leaves
nothing behind and supply is conserved whichever kinds an upper layer registers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from a27_ledger.cache import shared_receipts
from a27_ledger.errors import (
    BadSignature,
    GenesisError,
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    NonceGap,
    NonceReplay,
    SupplyInvariantViolated,
    UnknownTransactionKind,
)
from a27_ledger.genesis import Genesis
from a27_ledger.records import Receipt, StateChanges, SupplyEvent
from a27_ledger.registry import TransactionRegistry, default_registry
from a27_ledger.snapshot import LedgerSnapshot
from a27_ledger.store import LedgerStore, MemoryStore
from a27_ledger.transaction import MAX_UINT64, Transaction

FEE_POOL = ("fees", b"")
"""The escrow that collects fees when no fee recipient is given: (name, key)."""


def _check_amount(amount: int) -> None:
    if type(amount) is not int or amount < 0:
        raise InvalidAmount(f"amount {amount!r} is not a non-negative integer")


def _check_record_key(name: str, key: bytes) -> None:
    # Stores sort and persist these keys; mixed types would break both.
    if type(name) is not str or type(key) is not bytes:
        raise TypeError("escrow and data keys are (str, bytes)")


class StateTransition:
    """The only door through which a transaction kind reads and changes state.

    Reads see the committed state plus the writes made so far in the same batch. Writes are buffered and committed
    atomically with the rest of the transaction; if the transaction raises they are discarded. Amounts of 0 are
    no-ops; negative amounts raise InvalidAmount.
    """

    __slots__ = (
        "_balances",
        "_changes",
        "_data",
        "_escrows",
        "_nonces",
        "_read_balance",
        "_read_data",
        "_read_escrow",
        "_read_nonce",
        "_sequence",
        "_supply",
        "_touched",
    )

    def __init__(
        self,
        *,
        read_balance: Callable[[bytes], int],
        read_nonce: Callable[[bytes], int],
        read_escrow: Callable[[str, bytes], int],
        read_data: Callable[[str, bytes], bytes | None],
        supply: int,
        sequence: int,
    ) -> None:
        """Layer a buffer over the given readers; `LedgerState` creates these, kinds only receive them."""
        changes = StateChanges()
        self._changes = changes
        self._balances = changes.balances
        self._nonces = changes.nonces
        self._escrows = changes.escrows
        self._data = changes.data
        self._read_balance = read_balance
        self._read_nonce = read_nonce
        self._read_escrow = read_escrow
        self._read_data = read_data
        self._supply = supply
        self._sequence = sequence
        # Accounts whose balance the current transaction changed, in order (a dict is an ordered set).
        self._touched: dict[bytes, None] = {}

    # reads

    def balance(self, account: bytes) -> int:
        """Spendable balance of `account` (0 for an account never credited)."""
        value = self._balances.get(account)
        return self._read_balance(account) if value is None else value

    def next_nonce(self, account: bytes) -> int:
        """The nonce the next transaction of `account` must carry."""
        value = self._nonces.get(account)
        return self._read_nonce(account) if value is None else value

    def escrow(self, name: str, key: bytes) -> int:
        """Tokens locked under the namespaced key (`name`, `key`)."""
        value = self._escrows.get((name, key))
        return self._read_escrow(name, key) if value is None else value

    def get_data(self, namespace: str, key: bytes) -> bytes | None:
        """The kind-specific record stored under (`namespace`, `key`), or None."""
        buffered = self._data
        if (namespace, key) in buffered:
            return buffered[(namespace, key)]
        return self._read_data(namespace, key)

    @property
    def total_supply(self) -> int:
        """Total supply including the mints and burns made so far."""
        return self._supply

    # writes

    def transfer(self, source: bytes, destination: bytes, amount: int) -> None:
        """Move `amount` from `source`'s balance to `destination`'s; InsufficientBalance if `source` lacks it."""
        _check_amount(amount)
        if not amount:
            return
        available = self.balance(source)
        if available < amount:
            raise InsufficientBalance(f"balance {available} < {amount}")
        balances = self._balances
        balances[source] = available - amount
        # Read after the debit so that a transfer to oneself is a no-op.
        balances[destination] = self.balance(destination) + amount
        self._touched[source] = None
        self._touched[destination] = None

    def lock(self, account: bytes, name: str, key: bytes, amount: int) -> None:
        """Move `amount` from `account`'s balance into the escrow (`name`, `key`)."""
        _check_record_key(name, key)
        _check_amount(amount)
        if not amount:
            return
        available = self.balance(account)
        if available < amount:
            raise InsufficientBalance(f"balance {available} < {amount} to lock")
        self._balances[account] = available - amount
        self._escrows[(name, key)] = self.escrow(name, key) + amount
        self._touched[account] = None

    def unlock(self, name: str, key: bytes, account: bytes, amount: int) -> None:
        """Move `amount` from the escrow (`name`, `key`) to `account`'s balance."""
        _check_record_key(name, key)
        _check_amount(amount)
        if not amount:
            return
        locked = self.escrow(name, key)
        if locked < amount:
            raise InsufficientBalance(f"escrow {name}/{key.hex()[:8]} holds {locked} < {amount}")
        self._escrows[(name, key)] = locked - amount
        self._balances[account] = self.balance(account) + amount
        self._touched[account] = None

    def put_data(self, namespace: str, key: bytes, value: bytes | None) -> None:
        """Store `value` under (`namespace`, `key`); None deletes the record."""
        _check_record_key(namespace, key)
        if value is not None and type(value) is not bytes:
            raise TypeError("data values are bytes or None")
        self._data[(namespace, key)] = value

    def mint(self, account: bytes, amount: int, reason: str) -> None:
        """Create `amount` new tokens on `account` (block rewards); recorded as a supply event."""
        _check_amount(amount)
        if not amount:
            return
        if self._supply + amount > MAX_UINT64:
            raise InvalidAmount(f"minting {amount} would raise total supply above 2**64-1")
        self._balances[account] = self.balance(account) + amount
        self._supply += amount
        self._changes.minted += amount
        self._changes.supply_events.append(SupplyEvent(self._sequence, "mint", account, amount, reason))
        self._touched[account] = None

    def burn(self, account: bytes, amount: int, reason: str) -> None:
        """Destroy `amount` tokens of `account`'s balance (slashing); recorded as a supply event."""
        _check_amount(amount)
        if not amount:
            return
        available = self.balance(account)
        if available < amount:
            raise InsufficientBalance(f"balance {available} < {amount} to burn")
        self._balances[account] = available - amount
        self._supply -= amount
        self._changes.burned += amount
        self._changes.supply_events.append(SupplyEvent(self._sequence, "burn", account, amount, reason))
        self._touched[account] = None

    # used by LedgerState

    def _child(self) -> StateTransition:
        return StateTransition(
            read_balance=self.balance,
            read_nonce=self.next_nonce,
            read_escrow=self.escrow,
            read_data=self.get_data,
            supply=self._supply,
            sequence=self._sequence,
        )

    def _absorb(self, child: StateTransition) -> None:
        self._changes.absorb(child._changes)
        self._supply = child._supply
        self._sequence = child._sequence


def _check(tx: Transaction, ctx: StateTransition, registry: TransactionRegistry, verify_signature: bool) -> None:
    # Cheapest checks first, so that invalid transactions cost little; the signature is last.
    if not tx.signature:
        raise BadSignature("transaction is not signed")
    if registry.body_class(tx.body.KIND) is not type(tx.body):
        raise UnknownTransactionKind(f"kind {tx.body.KIND} is registered to another class")
    tx.body.check(tx)
    expected = ctx.next_nonce(tx.sender)
    if tx.nonce != expected:
        if tx.nonce < expected:
            raise NonceReplay(f"nonce {tx.nonce} < next nonce {expected}")
        raise NonceGap(f"nonce {tx.nonce} > next nonce {expected}")
    needed = tx.body.debit() + tx.fee
    available = ctx.balance(tx.sender)
    if available < needed:
        raise InsufficientBalance(f"balance {available} < amount+fee {needed}")
    if verify_signature and not tx.verify_signature():
        raise BadSignature("signature does not verify against the sender's key")


def _apply_one(
    tx: Transaction,
    ctx: StateTransition,
    registry: TransactionRegistry,
    fee_recipient: bytes | None,
    verify_signature: bool,
) -> Receipt:
    _check(tx, ctx, registry, verify_signature)
    sender = tx.sender
    touched = ctx._touched
    touched.clear()
    tx.body.apply(tx, ctx)
    accounts = tuple(touched)
    if not accounts or accounts[0] != sender:
        accounts = (sender, *(account for account in accounts if account != sender))
    if tx.fee:
        if fee_recipient is None:
            ctx.lock(sender, FEE_POOL[0], FEE_POOL[1], tx.fee)
        else:
            ctx.transfer(sender, fee_recipient, tx.fee)
    ctx._nonces[sender] = tx.nonce + 1
    receipt = _shared_receipt(tx, ctx._sequence, fee_recipient, accounts)
    ctx._sequence += 1
    return receipt


def _shared_receipt(tx: Transaction, sequence: int, fee_recipient: bytes | None,
                    accounts: tuple[bytes, ...]) -> Receipt:
    """The receipt, shared with every other state in this process that applied the same transaction the same way
    (`cache.shared_receipts`): in a simulation every node applies every block, and a receipt is immutable."""
    key = (tx.tx_id, tx.signature, sequence, fee_recipient, accounts)
    receipt = shared_receipts.lookup(key)
    if receipt is None or (receipt.tx is not tx and receipt.tx != tx):
        receipt = Receipt(tx, sequence, fee_recipient, accounts)
        shared_receipts.store(key, receipt, 1)
    return receipt


class StalePreparedBlock(ValueError):
    """A prepared block was committed after the ledger changed (or on another ledger): nothing was written."""


@attrs.frozen
class PreparedBlock:
    """A block's transactions and system effects run against a ledger's state, not written yet
    (`LedgerState.prepare_block`); ``receipts`` are what committing it returns."""

    state: LedgerState
    version: int
    transition: StateTransition
    receipts: list[Receipt]


class LedgerState:
    """Balances, nonces, escrows and records of one ledger, kept in a `LedgerStore`.

    Create one with `from_genesis`; `LedgerState(store)` reopens a store that already holds a ledger.
    """

    def __init__(self, store: LedgerStore, registry: TransactionRegistry = default_registry) -> None:
        """Open the ledger held by `store`; GenesisError if the store holds none."""
        meta = store.meta()
        digest = meta.genesis_digest
        if digest is None:
            raise GenesisError("the store holds no ledger; create one with LedgerState.from_genesis")
        self._genesis_digest = digest
        self._store = store
        # Kept here rather than asked of the store on every apply: this state is the store's only writer.
        self._total_supply = meta.total_supply
        self._applied = meta.applied
        self._registry = registry
        self._commits = 0
        """Store commits made through this object: a prepared block is valid only at the count it was made at."""

    @classmethod
    def from_genesis(
        cls, genesis: Genesis, store: LedgerStore | None = None, registry: TransactionRegistry = default_registry
    ) -> LedgerState:
        """Start the ledger of `genesis` in `store` (default: a new MemoryStore).

        A store that already holds this genesis resumes where it was; one holding another genesis is a GenesisError.
        """
        store = MemoryStore() if store is None else store
        digest = genesis.digest()
        existing = store.meta().genesis_digest
        if existing is None:
            store.initialize(digest, genesis.balances)
        elif existing != digest:
            raise GenesisError(f"the store holds genesis {existing.hex()[:16]}, not {digest.hex()[:16]}")
        return cls(store, registry)

    @property
    def store(self) -> LedgerStore:
        """The store this state reads and commits to."""
        return self._store

    @property
    def registry(self) -> TransactionRegistry:
        """The transaction kinds this state accepts."""
        return self._registry

    @property
    def genesis_digest(self) -> bytes:
        """Digest of the genesis this ledger started from."""
        return self._genesis_digest

    @property
    def total_supply(self) -> int:
        """Genesis supply plus minted minus burned."""
        return self._total_supply

    @property
    def applied_count(self) -> int:
        """How many transactions this ledger applied."""
        return self._applied

    def balance(self, account: bytes) -> int:
        """Spendable balance of `account`."""
        return self._store.balance(account)

    def next_nonce(self, account: bytes) -> int:
        """The nonce the next transaction of `account` must carry (0 for a new account)."""
        return self._store.nonce(account)

    def escrow(self, name: str, key: bytes) -> int:
        """Tokens locked under (`name`, `key`)."""
        return self._store.escrow(name, key)

    def get_data(self, namespace: str, key: bytes) -> bytes | None:
        """The kind-specific record under (`namespace`, `key`), or None."""
        return self._store.data(namespace, key)

    def _transition(self) -> StateTransition:
        store = self._store
        return StateTransition(
            read_balance=store.balance,
            read_nonce=store.nonce,
            read_escrow=store.escrow,
            read_data=store.data,
            supply=self._total_supply,
            sequence=self._applied + 1,
        )

    def check(self, tx: Transaction, *, verify_signature: bool = True) -> None:
        """Validate `tx` against the current state without changing it; raises the LedgerError that `apply` would.

        Checks, cheapest first: registered kind, the body's stateless checks, nonce exactly the next one
        (NonceReplay / NonceGap), spendable balance at least body debit + fee, then the signature.
        """
        _check(tx, self._transition(), self._registry, verify_signature)

    def apply(self, tx: Transaction, *, fee_recipient: bytes | None = None, verify_signature: bool = True) -> Receipt:
        """Check and apply `tx` atomically: body effects, fee, nonce increment; on any error nothing changes.

        The fee goes to `fee_recipient`, or to the FEE_POOL escrow when it is None.
        """
        return self._apply_atomic((tx,), fee_recipient, verify_signature)[0]

    def apply_batch(
        self,
        txs: Sequence[Transaction],
        *,
        fee_recipient: bytes | None = None,
        verify_signature: bool = True,
        atomic: bool = True,
    ) -> list[Receipt | LedgerError]:
        """Apply `txs` in order with one store commit.

        atomic=True (blocks): all or nothing; the first error propagates and nothing is applied.
        atomic=False (gossip): each transaction is applied or rejected on its own; the results, in order, are
        receipts and the errors of the rejected ones.
        Either way a StoreError, or any exception that is not a LedgerError (a bug in a kind), propagates and nothing
        of the batch is applied.
        """
        if atomic:
            return list(self._apply_atomic(txs, fee_recipient, verify_signature))
        root = self._transition()
        registry = self._registry
        results: list[Receipt | LedgerError] = []
        receipts: list[Receipt] = []
        for tx in txs:
            child = root._child()
            try:
                receipt = _apply_one(tx, child, registry, fee_recipient, verify_signature)
            except LedgerError as error:
                results.append(error)
                continue
            root._absorb(child)
            results.append(receipt)
            receipts.append(receipt)
        if receipts:
            self._commit(root, receipts)
        return results

    def apply_block(
        self,
        txs: Sequence[Transaction],
        *,
        fee_recipient: bytes | None = None,
        system: Callable[[StateTransition], None] | None = None,
        verify_signature: bool = True,
        dry_run: bool = False,
    ) -> list[Receipt]:
        """Apply a block atomically: `txs` in order, then the `system` effects, in one store commit.

        `system` receives the block's StateTransition after its last transaction and makes the changes that are not
        transactions: block rewards (`mint`), slashing (`burn`), releases (`unlock`), records (`put_data`). Its
        supply events carry the sequence number the next transaction will take. A LedgerError raised by a
        transaction or by `system` propagates and nothing is applied; so does any other exception. The commit
        happens even when `txs` is empty. With `dry_run=True` everything is checked and the receipts are returned,
        but nothing is written.
        """
        prepared = self.prepare_block(txs, fee_recipient=fee_recipient, system=system,
                                      verify_signature=verify_signature)
        if not dry_run:
            self.commit_prepared(prepared)
        return prepared.receipts

    def prepare_block(
        self,
        txs: Sequence[Transaction],
        *,
        fee_recipient: bytes | None = None,
        system: Callable[[StateTransition], None] | None = None,
        verify_signature: bool = True,
    ) -> PreparedBlock:
        """Check and compute what `apply_block` would do, without writing: ``commit_prepared`` writes it later.

        A caller that checks a block before it commits it (a chain checks every block it is given, then stores it,
        then applies it) runs the transactions once instead of twice. Raises what `apply_block` raises.
        """
        ctx = self._transition()
        registry = self._registry
        receipts = [_apply_one(tx, ctx, registry, fee_recipient, verify_signature) for tx in txs]
        if system is not None:
            system(ctx)
        return PreparedBlock(self, self._commits, ctx, receipts)

    @property
    def commits(self) -> int:
        """Store commits made through this object so far (what a `PreparedBlock`'s ``version`` is compared with)."""
        return self._commits

    def commit_prepared(self, prepared: PreparedBlock) -> None:
        """Write a block `prepare_block` computed on this state; StalePreparedBlock if the state changed since."""
        if prepared.state is not self or prepared.version != self._commits:
            raise StalePreparedBlock("the ledger changed after this block was prepared; prepare it again")
        self._commit(prepared.transition, prepared.receipts)

    def _apply_atomic(
        self, txs: Sequence[Transaction], fee_recipient: bytes | None, verify_signature: bool
    ) -> list[Receipt]:
        ctx = self._transition()
        registry = self._registry
        receipts = [_apply_one(tx, ctx, registry, fee_recipient, verify_signature) for tx in txs]
        if receipts:
            self._commit(ctx, receipts)
        return receipts

    def _commit(self, ctx: StateTransition, receipts: list[Receipt]) -> None:
        self._store.commit(ctx._changes, receipts)
        self._commits += 1
        self._total_supply = ctx._supply
        self._applied += len(receipts)

    def snapshot(self) -> LedgerSnapshot:
        """A frozen copy of the whole state; compare `.digest()` between nodes."""
        store = self._store
        return LedgerSnapshot(
            genesis_digest=self.genesis_digest,
            balances=tuple(store.balances()),
            nonces=tuple(store.nonces()),
            escrows=tuple(store.escrows()),
            data=tuple(store.data_records()),
            total_supply=self._total_supply,
            applied=self._applied,
        )

    def check_invariants(self) -> None:
        """Balances plus escrows equal total supply and nothing is negative, else SupplyInvariantViolated."""
        store = self._store
        balances = store.balances()
        escrows = store.escrows()
        negative = [account.hex()[:8] for account, balance in balances if balance < 0]
        negative += [f"{name}/{key.hex()[:8]}" for name, key, amount in escrows if amount < 0]
        if negative:
            raise SupplyInvariantViolated(f"negative values: {', '.join(negative)}")
        held = sum(balance for _, balance in balances) + sum(amount for _, _, amount in escrows)
        supply = store.meta().total_supply
        if supply != self._total_supply:
            raise SupplyInvariantViolated(f"store supply {supply} != state supply {self._total_supply}")
        if held != supply:
            raise SupplyInvariantViolated(f"balances+escrows {held} != total supply {supply}")

    def history(self, account: bytes | None = None, limit: int | None = None) -> list[Receipt]:
        """Applied transactions in apply order: all, or those `account` sent or whose balance they changed.

        With `limit`, only the most recent `limit` of them.
        """
        return self._store.history(account, limit, self._registry)

    def supply_events(self) -> list[SupplyEvent]:
        """Every mint and burn, in order."""
        return self._store.supply_events()

    def close(self) -> None:
        """Close the store."""
        self._store.close()
