"""Where ledger state lives: a small interface with an in-memory and a SQLite implementation.

Stores hold non-zero balances, nonces and escrows only (writing 0 removes the entry), so that two stores with the
same state list the same entries. Amounts are unsigned 64-bit; SQLite's INTEGER is signed 64-bit, so the SQLite
store keeps amounts and nonces as decimal TEXT (exact, and readable with the sqlite3 shell).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

from a27_ledger.errors import StoreError
from a27_ledger.records import Receipt, StateChanges, StoreMeta, SupplyEvent
from a27_ledger.registry import TransactionRegistry
from a27_ledger.transaction import Transaction


class LedgerStore(Protocol):
    """Storage for one ledger: point reads, sorted iteration, and one atomic commit per applied batch."""

    def meta(self) -> StoreMeta:
        """Genesis digest (None before `initialize`), genesis supply, minted, burned and applied count."""
        ...

    def initialize(self, genesis_digest: bytes, balances: Mapping[bytes, int]) -> None:
        """Record the genesis and its balances in an empty store."""
        ...

    def balance(self, account: bytes) -> int:
        """Balance of `account`, 0 if absent."""
        ...

    def nonce(self, account: bytes) -> int:
        """Next nonce of `account`, 0 if absent."""
        ...

    def escrow(self, name: str, key: bytes) -> int:
        """Escrowed amount under (`name`, `key`), 0 if absent."""
        ...

    def data(self, namespace: str, key: bytes) -> bytes | None:
        """Data record under (`namespace`, `key`), None if absent."""
        ...

    def commit(self, changes: StateChanges, receipts: Sequence[Receipt]) -> None:
        """Write `changes` and append `receipts` atomically; on failure nothing is written and StoreError raised."""
        ...

    def balances(self) -> list[tuple[bytes, int]]:
        """All non-zero balances, sorted by account."""
        ...

    def nonces(self) -> list[tuple[bytes, int]]:
        """All non-zero nonces, sorted by account."""
        ...

    def escrows(self) -> list[tuple[str, bytes, int]]:
        """All non-zero escrows, sorted by (name, key)."""
        ...

    def data_records(self) -> list[tuple[str, bytes, bytes]]:
        """All data records, sorted by (namespace, key)."""
        ...

    def history(self, account: bytes | None, limit: int | None, registry: TransactionRegistry) -> list[Receipt]:
        """Receipts in apply order, all or those listing `account`; the last `limit` of them if given."""
        ...

    def supply_events(self) -> list[SupplyEvent]:
        """All mints and burns in order."""
        ...

    def close(self) -> None:
        """Release resources; the store is unusable afterwards."""
        ...


class MemoryStore:
    """A store in dictionaries: fastest, for simulations; gone when the process ends."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._base: Mapping[bytes, int] = {}
        """The genesis balances, shared read-only (see `initialize`); ``_balances`` holds every balance changed
        since, zeros included (an account emptied since genesis)."""
        self._balances: dict[bytes, int] = {}
        self._nonces: dict[bytes, int] = {}
        self._escrows: dict[tuple[str, bytes], int] = {}
        self._data: dict[tuple[str, bytes], bytes] = {}
        self._genesis_digest: bytes | None = None
        self._genesis_supply = 0
        self._minted = 0
        self._burned = 0
        self._receipts: list[Receipt] = []
        self._supply_events: list[SupplyEvent] = []

    def meta(self) -> StoreMeta:
        """Genesis digest, genesis supply, minted, burned and applied count."""
        return StoreMeta(self._genesis_digest, self._genesis_supply, self._minted, self._burned, len(self._receipts))

    def initialize(self, genesis_digest: bytes, balances: Mapping[bytes, int]) -> None:
        """Record the genesis and its balances; StoreError if the store already holds a ledger."""
        if self._genesis_digest is not None:
            raise StoreError("the store already holds a ledger")
        self._genesis_digest = genesis_digest
        self._genesis_supply = sum(balances.values())
        # A read-only mapping (`Genesis.balances`) is shared, not copied: the nodes of a simulation started from one
        # genesis then keep only the balances that changed. Any other mapping is copied, as the caller may change it.
        self._base = balances if isinstance(balances, MappingProxyType) else dict(balances)

    def balance(self, account: bytes) -> int:
        """Balance of `account`, 0 if absent."""
        value = self._balances.get(account)
        return self._base.get(account, 0) if value is None else value

    def nonce(self, account: bytes) -> int:
        """Next nonce of `account`, 0 if absent."""
        return self._nonces.get(account, 0)

    def escrow(self, name: str, key: bytes) -> int:
        """Escrowed amount under (`name`, `key`), 0 if absent."""
        return self._escrows.get((name, key), 0)

    def data(self, namespace: str, key: bytes) -> bytes | None:
        """Data record under (`namespace`, `key`), None if absent."""
        return self._data.get((namespace, key))

    def commit(self, changes: StateChanges, receipts: Sequence[Receipt]) -> None:
        """Apply `changes` and append `receipts`; dictionary updates cannot fail halfway."""
        self._balances.update(changes.balances)
        self._nonces.update(changes.nonces)
        escrows = self._escrows
        for escrow_key, amount in changes.escrows.items():
            if amount:
                escrows[escrow_key] = amount
            else:
                escrows.pop(escrow_key, None)
        if changes.data:
            data = self._data
            for data_key, value in changes.data.items():
                if value is None:
                    data.pop(data_key, None)
                else:
                    data[data_key] = value
        if changes.supply_events:
            self._minted += changes.minted
            self._burned += changes.burned
            self._supply_events.extend(changes.supply_events)
        self._receipts.extend(receipts)

    def balances(self) -> list[tuple[bytes, int]]:
        """All non-zero balances, sorted by account."""
        merged = {**self._base, **self._balances}
        return sorted((account, balance) for account, balance in merged.items() if balance)

    def nonces(self) -> list[tuple[bytes, int]]:
        """All non-zero nonces, sorted by account."""
        return sorted(self._nonces.items())

    def escrows(self) -> list[tuple[str, bytes, int]]:
        """All non-zero escrows, sorted by (name, key)."""
        return [(name, key, amount) for (name, key), amount in sorted(self._escrows.items())]

    def data_records(self) -> list[tuple[str, bytes, bytes]]:
        """All data records, sorted by (namespace, key)."""
        return [(namespace, key, value) for (namespace, key), value in sorted(self._data.items())]

    def history(self, account: bytes | None, limit: int | None, registry: TransactionRegistry) -> list[Receipt]:
        """Receipts in apply order, all or those listing `account`; the last `limit` of them if given.

        Filtering by account scans every receipt: an index would cost every commit, and simulations rarely ask.
        """
        receipts = self._receipts
        if account is not None:
            receipts = [receipt for receipt in receipts if account in receipt.accounts]
        return list(receipts if limit is None else receipts[max(len(receipts) - limit, 0) :])

    def supply_events(self) -> list[SupplyEvent]:
        """All mints and burns in order."""
        return list(self._supply_events)

    def close(self) -> None:
        """Nothing to release."""


SCHEMA_VERSION = 1

# Every table written per commit costs a page write; so the applied count is not stored (it is the highest receipt
# sequence) and receipts have no per-account index (history by account scans; see SQLiteStore.history).
_SCHEMA = f"""
BEGIN;
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    genesis_digest BLOB NOT NULL,
    genesis_supply TEXT NOT NULL,
    minted TEXT NOT NULL,
    burned TEXT NOT NULL
);
CREATE TABLE accounts (account BLOB PRIMARY KEY, balance TEXT NOT NULL, nonce TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE escrows (
    name TEXT NOT NULL, key BLOB NOT NULL, amount TEXT NOT NULL, PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE data (
    namespace TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE receipts (sequence INTEGER PRIMARY KEY, tx BLOB NOT NULL, fee_recipient BLOB, accounts BLOB NOT NULL);
CREATE TABLE supply_events (
    sequence INTEGER NOT NULL, kind TEXT NOT NULL, account BLOB NOT NULL, amount TEXT NOT NULL, reason TEXT NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""

# One statement for every account change; a NULL balance or nonce leaves that column as it is. Rows carry the two
# values twice (numbered parameters with sequences are deprecated since Python 3.12).
_WRITE_ACCOUNT = (
    "INSERT INTO accounts (account, balance, nonce) VALUES (?, COALESCE(?, '0'), COALESCE(?, '0')) "
    "ON CONFLICT (account) DO UPDATE SET balance = COALESCE(?, balance), nonce = COALESCE(?, nonce)"
)


def _account_rows(balances: Mapping[bytes, int], nonces: Mapping[bytes, int]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for account, balance in balances.items():
        nonce = nonces.get(account)
        balance_text, nonce_text = str(balance), None if nonce is None else str(nonce)
        rows.append((account, balance_text, nonce_text, balance_text, nonce_text))
    rows.extend(
        (account, None, str(nonce), None, str(nonce)) for account, nonce in nonces.items() if account not in balances
    )
    return rows


def _split_accounts(joined: bytes) -> tuple[bytes, ...]:
    return tuple(joined[offset : offset + 32] for offset in range(0, len(joined), 32))


def _receipt_from_row(row: tuple[int, bytes, bytes | None, bytes], registry: TransactionRegistry) -> Receipt:
    sequence, encoded, fee_recipient, accounts = row
    return Receipt(Transaction.decode(encoded, registry), sequence, fee_recipient, _split_accounts(accounts))


class SQLiteStore:
    """A store in one SQLite file: WAL journal, synchronous=NORMAL, one SQLite transaction per commit.

    Point reads are cached in memory and the cache is updated only after a commit succeeds, so the store must be the
    only writer of its file. The schema version is kept in `PRAGMA user_version`.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        """Open or create the ledger database at `path` (":memory:" for a private in-memory database)."""
        try:
            self._connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open ledger database {os.fspath(path)!r}: {exc}") from exc
        try:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._prepare_schema()
            self._genesis_digest, self._genesis_supply, self._minted, self._burned, self._applied = self._read_meta()
        except (sqlite3.Error, StoreError) as exc:
            self._connection.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open ledger database {os.fspath(path)!r}: {exc}") from exc
        self._balance_cache: dict[bytes, int] = {}
        self._nonce_cache: dict[bytes, int] = {}
        self._escrow_cache: dict[tuple[str, bytes], int] = {}
        self._data_cache: dict[tuple[str, bytes], bytes | None] = {}

    def _prepare_schema(self) -> None:
        connection = self._connection
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version == 0:
            if connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
                raise StoreError("the database holds tables but is not an a27 ledger")
            connection.executescript(_SCHEMA)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"ledger schema version {version}; this version reads {SCHEMA_VERSION}")

    def _read_meta(self) -> tuple[bytes | None, int, int, int, int]:
        connection = self._connection
        row = connection.execute("SELECT genesis_digest, genesis_supply, minted, burned FROM ledger").fetchone()
        if row is None:
            return None, 0, 0, 0, 0
        digest, supply, minted, burned = row
        (applied,) = connection.execute("SELECT COALESCE(MAX(sequence), 0) FROM receipts").fetchone()
        return digest, int(supply), int(minted), int(burned), applied

    def meta(self) -> StoreMeta:
        """Genesis digest, genesis supply, minted, burned and applied count."""
        return StoreMeta(self._genesis_digest, self._genesis_supply, self._minted, self._burned, self._applied)

    def initialize(self, genesis_digest: bytes, balances: Mapping[bytes, int]) -> None:
        """Record the genesis and its balances in one SQLite transaction."""
        if self._genesis_digest is not None:
            raise StoreError("the store already holds a ledger")
        supply = sum(balances.values())
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO ledger (id, genesis_digest, genesis_supply, minted, burned) VALUES (1, ?, ?, '0', '0')",
                (genesis_digest, str(supply)),
            )
            connection.executemany(
                "INSERT INTO accounts (account, balance, nonce) VALUES (?, ?, '0')",
                [(account, str(balance)) for account, balance in balances.items() if balance],
            )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"cannot initialize the ledger: {exc}") from exc
        self._genesis_digest = genesis_digest
        self._genesis_supply = supply

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    # Rows come back untyped from sqlite3; the schema fixes their shape.
    def _fetch_one(self, query: str, parameters: tuple[object, ...]) -> Any:
        try:
            return self._connection.execute(query, parameters).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    def _fetch_all(self, query: str, parameters: tuple[object, ...] = ()) -> list[Any]:
        try:
            return self._connection.execute(query, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    def balance(self, account: bytes) -> int:
        """Balance of `account`, 0 if absent."""
        value = self._balance_cache.get(account)
        if value is None:
            row = self._fetch_one("SELECT balance FROM accounts WHERE account = ?", (account,))
            value = 0 if row is None else int(row[0])
            self._balance_cache[account] = value
        return value

    def nonce(self, account: bytes) -> int:
        """Next nonce of `account`, 0 if absent."""
        value = self._nonce_cache.get(account)
        if value is None:
            row = self._fetch_one("SELECT nonce FROM accounts WHERE account = ?", (account,))
            value = 0 if row is None else int(row[0])
            self._nonce_cache[account] = value
        return value

    def escrow(self, name: str, key: bytes) -> int:
        """Escrowed amount under (`name`, `key`), 0 if absent."""
        value = self._escrow_cache.get((name, key))
        if value is None:
            row = self._fetch_one("SELECT amount FROM escrows WHERE name = ? AND key = ?", (name, key))
            value = 0 if row is None else int(row[0])
            self._escrow_cache[(name, key)] = value
        return value

    def data(self, namespace: str, key: bytes) -> bytes | None:
        """Data record under (`namespace`, `key`), None if absent."""
        cache = self._data_cache
        if (namespace, key) in cache:
            return cache[(namespace, key)]
        row = self._fetch_one("SELECT value FROM data WHERE namespace = ? AND key = ?", (namespace, key))
        value = None if row is None else bytes(row[0])
        cache[(namespace, key)] = value
        return value

    def commit(self, changes: StateChanges, receipts: Sequence[Receipt]) -> None:
        """Write `changes` and `receipts` in one SQLite transaction; StoreError after rolling back on failure."""
        # Rows are built before the transaction starts, so a conversion error cannot leave it open.
        statements = self._statements(changes, receipts)
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            for statement, rows in statements:
                connection.executemany(statement, rows)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"commit failed, nothing written: {exc}") from exc
        self._balance_cache.update(changes.balances)
        self._nonce_cache.update(changes.nonces)
        self._escrow_cache.update(changes.escrows)
        self._data_cache.update(changes.data)
        self._minted += changes.minted
        self._burned += changes.burned
        self._applied += len(receipts)

    def _statements(
        self, changes: StateChanges, receipts: Sequence[Receipt]
    ) -> list[tuple[str, list[tuple[Any, ...]]]]:
        candidates: list[tuple[str, list[tuple[Any, ...]]]] = [
            (_WRITE_ACCOUNT, _account_rows(changes.balances, changes.nonces)),
            (
                "INSERT OR REPLACE INTO escrows (name, key, amount) VALUES (?, ?, ?)",
                [(name, key, str(amount)) for (name, key), amount in changes.escrows.items() if amount],
            ),
            (
                "DELETE FROM escrows WHERE name = ? AND key = ?",
                [escrow_key for escrow_key, amount in changes.escrows.items() if not amount],
            ),
            (
                "INSERT OR REPLACE INTO data (namespace, key, value) VALUES (?, ?, ?)",
                [(namespace, key, value) for (namespace, key), value in changes.data.items() if value is not None],
            ),
            (
                "DELETE FROM data WHERE namespace = ? AND key = ?",
                [data_key for data_key, value in changes.data.items() if value is None],
            ),
            (
                "INSERT INTO supply_events (sequence, kind, account, amount, reason) VALUES (?, ?, ?, ?, ?)",
                [
                    (event.sequence, event.kind, event.account, str(event.amount), event.reason)
                    for event in changes.supply_events
                ],
            ),
            (
                "UPDATE ledger SET minted = ?, burned = ? WHERE id = 1",
                [(str(self._minted + changes.minted), str(self._burned + changes.burned))]
                if changes.minted or changes.burned
                else [],
            ),
            (
                "INSERT INTO receipts (sequence, tx, fee_recipient, accounts) VALUES (?, ?, ?, ?)",
                [
                    (receipt.sequence, receipt.tx.encode(), receipt.fee_recipient, b"".join(receipt.accounts))
                    for receipt in receipts
                ],
            ),
        ]
        return [(statement, rows) for statement, rows in candidates if rows]

    def balances(self) -> list[tuple[bytes, int]]:
        """All non-zero balances, sorted by account."""
        return [
            (bytes(account), int(balance))
            for account, balance in self._fetch_all(
                "SELECT account, balance FROM accounts WHERE balance != '0' ORDER BY account"
            )
        ]

    def nonces(self) -> list[tuple[bytes, int]]:
        """All non-zero nonces, sorted by account."""
        return [
            (bytes(account), int(nonce))
            for account, nonce in self._fetch_all(
                "SELECT account, nonce FROM accounts WHERE nonce != '0' ORDER BY account"
            )
        ]

    def escrows(self) -> list[tuple[str, bytes, int]]:
        """All non-zero escrows, sorted by (name, key)."""
        return [
            (str(name), bytes(key), int(amount))
            for name, key, amount in self._fetch_all("SELECT name, key, amount FROM escrows ORDER BY name, key")
        ]

    def data_records(self) -> list[tuple[str, bytes, bytes]]:
        """All data records, sorted by (namespace, key)."""
        return [
            (str(namespace), bytes(key), bytes(value))
            for namespace, key, value in self._fetch_all(
                "SELECT namespace, key, value FROM data ORDER BY namespace, key"
            )
        ]

    def history(self, account: bytes | None, limit: int | None, registry: TransactionRegistry) -> list[Receipt]:
        """Receipts in apply order, all or those listing `account`; the last `limit` of them if given.

        Filtering by account scans the receipts table: an index on accounts cost about a third of a commit.
        """
        if account is None:
            rows = self._fetch_all(
                "SELECT sequence, tx, fee_recipient, accounts FROM receipts ORDER BY sequence DESC LIMIT ?",
                (-1 if limit is None else limit,),
            )
        else:
            candidates = self._fetch_all(
                "SELECT sequence, tx, fee_recipient, accounts FROM receipts WHERE instr(accounts, ?) > 0 "
                "ORDER BY sequence DESC",
                (account,),
            )
            # instr also matches across two adjacent keys; keep matches at key boundaries only.
            rows = [row for row in candidates if account in _split_accounts(row[3])][:limit]
        return [_receipt_from_row(row, registry) for row in reversed(rows)]

    def supply_events(self) -> list[SupplyEvent]:
        """All mints and burns in order."""
        return [
            SupplyEvent(sequence, kind, account, int(amount), reason)
            for sequence, kind, account, amount, reason in self._fetch_all(
                "SELECT sequence, kind, account, amount, reason FROM supply_events ORDER BY rowid"
            )
        ]

    def close(self) -> None:
        """Close the database connection."""
        self._connection.close()
