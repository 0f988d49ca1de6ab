"""Where finalized blocks live: a small interface with an in-memory and a SQLite implementation.

The chain store keeps blocks, their commit certificates and the evidence they included. The ledger state is in
its own store; `Chain` orders the two writes so that a restart is safe (see `chain.py`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from a27_ledger import TransactionRegistry
from a27_pos.block import Block
from a27_pos.errors import ChainStoreError, PosError
from a27_pos.evidence import AnyEvidence, decode_evidence
from a27_pos.votes import CommitCertificate

_T = TypeVar("_T")


class ChainStore(Protocol):
    """Storage for one chain's finalized blocks, appended one height at a time."""

    def genesis_digest(self) -> bytes | None:
        """The PoS genesis digest of the chain held, None for an empty store."""
        ...

    def initialize(self, genesis_digest: bytes) -> None:
        """Mark an empty store as holding the chain of `genesis_digest`."""
        ...

    def head_height(self) -> int:
        """Height of the last stored block (0 when none)."""
        ...

    def put_block(self, block: Block, certificate: CommitCertificate) -> None:
        """Append `block` (at head height + 1) with its certificate and evidence, atomically."""
        ...

    def block(self, height: int) -> Block | None:
        """The block at `height`, or None."""
        ...

    def certificate(self, height: int) -> CommitCertificate | None:
        """The commit certificate of the block at `height`, or None."""
        ...

    def evidence(self, offender: bytes | None = None) -> list[tuple[int, AnyEvidence]]:
        """(inclusion height, evidence) of every included evidence, or those against `offender`, by height."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def _check_next(head: int, block: Block, certificate: CommitCertificate) -> None:
    if block.height != head + 1:
        raise ChainStoreError(f"block height {block.height} does not follow stored height {head}")
    if certificate.block_id != block.block_id or certificate.height != block.height:
        raise ChainStoreError("the certificate is not for this block")


class MemoryChainStore:
    """A chain store in lists: for simulations; gone when the process ends."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._genesis: bytes | None = None
        self._blocks: list[tuple[Block, CommitCertificate]] = []
        self._evidence: list[tuple[int, AnyEvidence]] = []

    def genesis_digest(self) -> bytes | None:
        """The genesis digest, None if empty."""
        return self._genesis

    def initialize(self, genesis_digest: bytes) -> None:
        """Record the genesis digest; ChainStoreError if the store holds a chain already."""
        if self._genesis is not None:
            raise ChainStoreError("the store already holds a chain")
        self._genesis = genesis_digest

    def head_height(self) -> int:
        """Height of the last block."""
        return len(self._blocks)

    def put_block(self, block: Block, certificate: CommitCertificate) -> None:
        """Append the block."""
        _check_next(len(self._blocks), block, certificate)
        self._blocks.append((block, certificate))
        self._evidence.extend((block.height, item) for item in block.evidence)

    def block(self, height: int) -> Block | None:
        """The block at `height`, or None."""
        return self._blocks[height - 1][0] if 1 <= height <= len(self._blocks) else None

    def certificate(self, height: int) -> CommitCertificate | None:
        """The certificate at `height`, or None."""
        return self._blocks[height - 1][1] if 1 <= height <= len(self._blocks) else None

    def evidence(self, offender: bytes | None = None) -> list[tuple[int, AnyEvidence]]:
        """Included evidence, all or against `offender`."""
        return [entry for entry in self._evidence if offender is None or entry[1].offender == offender]

    def close(self) -> None:
        """Nothing to release."""


def _decoded(height: int, decode: Callable[[], _T]) -> _T:
    try:
        return decode()
    except PosError as exc:
        raise ChainStoreError(f"stored data of height {height} does not decode: {exc}") from exc


SCHEMA_VERSION = 1
_SCHEMA = f"""
BEGIN;
CREATE TABLE chain (id INTEGER PRIMARY KEY CHECK (id = 1), genesis_digest BLOB NOT NULL);
CREATE TABLE blocks (height INTEGER PRIMARY KEY, block_id BLOB NOT NULL, block BLOB NOT NULL,
                     certificate BLOB NOT NULL);
CREATE TABLE evidence (height INTEGER NOT NULL, offender BLOB NOT NULL, evidence BLOB NOT NULL);
CREATE INDEX evidence_by_offender ON evidence (offender);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


class SQLiteChainStore:
    """A chain store in one SQLite file: WAL journal, synchronous=NORMAL, one SQLite transaction per block.

    Blocks are decoded on read with `registry` (the transaction kinds of the chain).
    """

    def __init__(self, path: str | os.PathLike[str], registry: TransactionRegistry, *,
                 busy_timeout: float = 5.0) -> None:
        """Open or create the chain database at `path` (":memory:" for a private in-memory database)."""
        self._registry = registry
        try:
            self._connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise ChainStoreError(f"cannot open chain database {os.fspath(path)!r}: {exc}") from exc
        try:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            (version,) = self._connection.execute("PRAGMA user_version").fetchone()
            if version == 0:
                if self._connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
                    raise ChainStoreError("the database holds tables but is not an a27 chain")
                self._connection.executescript(_SCHEMA)
            elif version != SCHEMA_VERSION:
                raise ChainStoreError(f"chain schema version {version}; this version reads {SCHEMA_VERSION}")
            row = self._connection.execute("SELECT genesis_digest FROM chain").fetchone()
            self._genesis: bytes | None = None if row is None else bytes(row[0])
            (self._head,) = self._connection.execute("SELECT COALESCE(MAX(height), 0) FROM blocks").fetchone()
        except (sqlite3.Error, ChainStoreError) as exc:
            self._connection.close()
            if isinstance(exc, ChainStoreError):
                raise
            raise ChainStoreError(f"cannot open chain database {os.fspath(path)!r}: {exc}") from exc

    def _fetch_one(self, query: str, parameters: tuple[object, ...]) -> Any:
        try:
            return self._connection.execute(query, parameters).fetchone()
        except sqlite3.Error as exc:
            raise ChainStoreError(f"read failed: {exc}") from exc

    def genesis_digest(self) -> bytes | None:
        """The genesis digest, None if empty."""
        return self._genesis

    def initialize(self, genesis_digest: bytes) -> None:
        """Record the genesis digest; ChainStoreError if the store holds a chain already."""
        if self._genesis is not None:
            raise ChainStoreError("the store already holds a chain")
        try:
            self._connection.execute("INSERT INTO chain (id, genesis_digest) VALUES (1, ?)", (genesis_digest,))
        except sqlite3.Error as exc:
            raise ChainStoreError(f"cannot initialize the chain: {exc}") from exc
        self._genesis = genesis_digest

    def head_height(self) -> int:
        """Height of the last block."""
        return int(self._head)

    def put_block(self, block: Block, certificate: CommitCertificate) -> None:
        """Append the block, its certificate and its evidence in one SQLite transaction."""
        _check_next(self._head, block, certificate)
        rows = [(block.height, item.offender, item.encode()) for item in block.evidence]
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO blocks (height, block_id, block, certificate) VALUES (?, ?, ?, ?)",
                               (block.height, block.block_id, block.encode(), certificate.encode()))
            connection.executemany("INSERT INTO evidence (height, offender, evidence) VALUES (?, ?, ?)", rows)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise ChainStoreError(f"storing block {block.height} failed, nothing written: {exc}") from exc
        self._head = block.height

    def block(self, height: int) -> Block | None:
        """The block at `height`, or None."""
        row = self._fetch_one("SELECT block FROM blocks WHERE height = ?", (height,))
        return None if row is None else _decoded(height, lambda: Block.decode(bytes(row[0]), self._registry))

    def certificate(self, height: int) -> CommitCertificate | None:
        """The certificate at `height`, or None."""
        row = self._fetch_one("SELECT certificate FROM blocks WHERE height = ?", (height,))
        return None if row is None else _decoded(height, lambda: CommitCertificate.decode(bytes(row[0])))

    def evidence(self, offender: bytes | None = None) -> list[tuple[int, AnyEvidence]]:
        """Included evidence, all or against `offender`."""
        try:
            if offender is None:
                rows = self._connection.execute("SELECT height, evidence FROM evidence ORDER BY rowid").fetchall()
            else:
                rows = self._connection.execute(
                    "SELECT height, evidence FROM evidence WHERE offender = ? ORDER BY rowid", (offender,)).fetchall()
        except sqlite3.Error as exc:
            raise ChainStoreError(f"read failed: {exc}") from exc
        return [(int(height), _decoded(int(height), partial(decode_evidence, bytes(data)))) for height, data in rows]

    def close(self) -> None:
        """Close the database connection."""
        self._connection.close()
