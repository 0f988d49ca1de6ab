"""Chain stores: memory and SQLite behave alike; SQLite survives reopening and refuses foreign files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from a27_ledger.testing import make_keys
from a27_pos import (
    PREVOTE,
    Chain,
    ChainStore,
    ChainStoreError,
    Evidence,
    MemoryChainStore,
    PosParams,
    SQLiteChainStore,
    Vote,
    pos_registry,
)
from a27_pos.testing import certify, extend, make_pos_genesis

KEYS = make_keys(4, seed=8)
GENESIS = make_pos_genesis(KEYS, params=PosParams(evidence_max_age=3))


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], ChainStore]]:
    stores: list[ChainStore] = []

    def make() -> ChainStore:
        store: ChainStore = MemoryChainStore() if request.param == "memory" else SQLiteChainStore(
            tmp_path / "chain.db", pos_registry())
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def evidence_against(index: int, height: int) -> Evidence:
    key = KEYS[index]
    return Evidence.from_votes(*(Vote(PREVOTE, height, 0, block_id, key.public_key).signed(key, GENESIS.chain_id)
                                 for block_id in (bytes(32), bytes([7]) * 32)))


def test_blocks_certificates_and_evidence_are_kept(make_store: Callable[[], ChainStore]) -> None:
    store = make_store()
    chain = Chain.start(GENESIS, chain_store=store)
    assert store.genesis_digest() == GENESIS.digest()
    first = extend(chain, KEYS)
    second = extend(chain, KEYS, evidence=[evidence_against(3, 1)])
    assert store.head_height() == 2
    assert (store.block(1), store.block(2), store.block(3)) == (first, second, None)
    certificate = store.certificate(2)
    assert certificate is not None and certificate.block_id == second.block_id
    assert store.certificate(0) is None
    assert store.evidence() == [(2, evidence_against(3, 1))]
    assert store.evidence(KEYS[3].public_key) == store.evidence()
    assert store.evidence(KEYS[0].public_key) == []


def test_only_the_next_block_with_its_own_certificate_is_stored(make_store: Callable[[], ChainStore]) -> None:
    store = make_store()
    chain = Chain.start(GENESIS, chain_store=store)
    first = extend(chain, KEYS)
    with pytest.raises(ChainStoreError, match="does not follow"):
        store.put_block(first, certify(first, KEYS))
    following = chain.build_block(KEYS[0], 0, 5_000)
    with pytest.raises(ChainStoreError, match="not for this block"):
        store.put_block(following, certify(first, KEYS))
    with pytest.raises(ChainStoreError, match="already holds"):
        store.initialize(b"\x00" * 32)


def test_sqlite_reopens_with_its_blocks(tmp_path: Path) -> None:
    store = SQLiteChainStore(tmp_path / "chain.db", pos_registry())
    chain = Chain.start(GENESIS, chain_store=store)
    blocks = [extend(chain, KEYS) for _ in range(3)]
    store.close()
    reopened = SQLiteChainStore(tmp_path / "chain.db", pos_registry())
    assert reopened.genesis_digest() == GENESIS.digest()
    assert reopened.head_height() == 3
    assert [reopened.block(height) for height in (1, 2, 3)] == blocks
    reopened.close()


def test_sqlite_refuses_foreign_and_newer_databases(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE other (x)")
    with pytest.raises(ChainStoreError, match="not an a27 chain"):
        SQLiteChainStore(foreign, pos_registry())
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(ChainStoreError, match="schema version 99"):
        SQLiteChainStore(newer, pos_registry())
    with pytest.raises(ChainStoreError, match="cannot open"):
        SQLiteChainStore(tmp_path / "missing" / "chain.db", pos_registry())


def test_sqlite_reports_stored_garbage(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    store = SQLiteChainStore(path, pos_registry())
    chain = Chain.start(GENESIS, chain_store=store)
    extend(chain, KEYS)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE blocks SET block = x'00', certificate = x'00'")
    with pytest.raises(ChainStoreError, match="does not decode"):
        store.block(1)
    with pytest.raises(ChainStoreError, match="does not decode"):
        store.certificate(1)
    store.close()


def test_a_failed_write_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    store = SQLiteChainStore(path, pos_registry())
    chain = Chain.start(GENESIS, chain_store=store)
    block = chain.build_block(next(key for key in KEYS if key.public_key == chain.proposer(1, 0)), 0, 1_000)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    slow = SQLiteChainStore(path, pos_registry(), busy_timeout=0.01)
    with pytest.raises(ChainStoreError, match="nothing written"):
        slow.put_block(block, certify(block, KEYS))
    blocker.execute("ROLLBACK")
    blocker.close()
    assert slow.head_height() == 0
    slow.close()
    store.close()
