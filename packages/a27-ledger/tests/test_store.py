"""Stores: SQLite durability (reopen, failed batches, a killed process, failed commits), and memory/SQLite parity."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from a27_ledger import (
    MAX_UINT64,
    BadSignature,
    Genesis,
    LedgerState,
    LedgerStore,
    MemoryStore,
    NonceGap,
    Receipt,
    SQLiteStore,
    StateChanges,
    StoreError,
    SupplyEvent,
    Transaction,
    Transfer,
    default_registry,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys, random_transfers

KEYS = make_keys(4, seed=21)
GENESIS = make_genesis(KEYS, balance=10_000)


def transfers(count: int, seed: int = 1) -> list[Transaction]:
    return list(random_transfers(KEYS, LedgerState.from_genesis(GENESIS), random.Random(seed), count, max_fee=2))


def test_reopening_gives_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    state = LedgerState.from_genesis(GENESIS, SQLiteStore(path))
    txs = transfers(30)
    state.apply_batch(txs[:10])
    for tx in txs[10:]:
        state.apply(tx, fee_recipient=KEYS[0].public_key)
    snapshot, history = state.snapshot(), state.history()
    state.close()

    reopened = LedgerState(SQLiteStore(path))
    assert reopened.snapshot() == snapshot
    assert reopened.history() == history
    assert reopened.applied_count == 30
    assert reopened.genesis_digest == GENESIS.digest()
    memory = LedgerState.from_genesis(GENESIS)
    memory.apply_batch(txs[:10])
    for tx in txs[10:]:
        memory.apply(tx, fee_recipient=KEYS[0].public_key)
    assert memory.snapshot().digest() == snapshot.digest()
    reopened.close()


def test_a_failed_atomic_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    state = LedgerState.from_genesis(GENESIS, SQLiteStore(path))
    txs = transfers(5)
    state.apply(txs[0])
    before = state.snapshot()
    broken = sign_transfer(KEYS[0], KEYS[1].public_key, 1, 99)
    with pytest.raises(NonceGap):
        state.apply_batch([*txs[1:], broken])
    state.close()
    reopened = LedgerState(SQLiteStore(path))
    assert reopened.snapshot() == before
    assert len(reopened.history()) == 1
    reopened.close()


KILLED_WRITER = textwrap.dedent(
    """
    import os, random, signal, sys
    from a27_ledger import LedgerState, SQLiteStore
    from a27_ledger.testing import make_genesis, make_keys, random_transfers

    keys = make_keys(4, seed=21)
    genesis = make_genesis(keys, balance=10_000)
    txs = list(random_transfers(keys, LedgerState.from_genesis(genesis), random.Random(1), 40, max_fee=2))
    state = LedgerState.from_genesis(genesis, SQLiteStore(sys.argv[1]))
    for start in range(0, 40, 8):
        state.apply_batch(txs[start : start + 8])
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_commits_survive_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert result.stdout == "committed\n"
    assert Path(f"{path}-wal").exists()  # no clean shutdown: the WAL was not checkpointed away

    reopened = LedgerState.from_genesis(GENESIS, SQLiteStore(path))
    expected = LedgerState.from_genesis(GENESIS)
    expected.apply_batch(transfers(40))
    assert reopened.snapshot().digest() == expected.snapshot().digest()
    assert reopened.applied_count == 40
    reopened.check_invariants()
    reopened.close()


def test_a_failing_commit_rolls_back_and_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    state = LedgerState.from_genesis(GENESIS, SQLiteStore(path, busy_timeout=0.05))
    txs = transfers(3)
    state.apply(txs[0])
    before = state.snapshot()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked"):
        state.apply_batch(txs[1:])
    assert state.snapshot() == before
    assert state.applied_count == 1
    assert state.balance(txs[1].sender) == before.balance(txs[1].sender)
    blocker.execute("ROLLBACK")
    blocker.close()
    state.apply_batch(txs[1:])
    assert state.applied_count == 3
    state.check_invariants()
    state.close()


def test_a_commit_that_fails_before_writing_leaves_the_store_usable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db")
    store.initialize(b"d" * 32, {KEYS[0].public_key: 10})
    changes = StateChanges()
    changes.balances[KEYS[0].public_key] = 3
    unsigned = Transaction(KEYS[0].public_key, 0, 0, Transfer(KEYS[1].public_key, 7))
    with pytest.raises(BadSignature):
        store.commit(changes, [Receipt(unsigned, 1, None, ())])
    assert store.balances() == [(KEYS[0].public_key, 10)]
    store.commit(changes, [])
    assert store.balances() == [(KEYS[0].public_key, 3)]
    store.close()


def test_uint64_amounts_round_trip(tmp_path: Path) -> None:
    rich, poor = KEYS[:2]
    genesis = Genesis.build("big", {rich.public_key: MAX_UINT64 - 1}, [rich.public_key])
    path = tmp_path / "ledger.db"
    state = LedgerState.from_genesis(genesis, SQLiteStore(path))
    state.apply(sign_transfer(rich, poor.public_key, MAX_UINT64 - 2, 0, fee=1))
    state.close()
    reopened = LedgerState(SQLiteStore(path))
    assert reopened.balance(poor.public_key) == MAX_UINT64 - 2
    assert reopened.escrow("fees", b"") == 1
    assert reopened.total_supply == MAX_UINT64 - 1
    assert reopened.history()[0].tx.body == Transfer(poor.public_key, MAX_UINT64 - 2)
    reopened.check_invariants()
    reopened.close()


def test_schema_version_and_foreign_databases_are_refused(tmp_path: Path) -> None:
    future = tmp_path / "future.db"
    SQLiteStore(future).close()
    connection = sqlite3.connect(future)
    connection.execute("PRAGMA user_version = 2")
    connection.close()
    with pytest.raises(StoreError, match="schema version 2"):
        SQLiteStore(future)

    foreign = tmp_path / "foreign.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.close()
    with pytest.raises(StoreError, match="not an a27 ledger"):
        SQLiteStore(foreign)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(garbage)


def test_reads_after_close_raise_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ledger.db")
    store.close()
    with pytest.raises(StoreError):
        store.balance(bytes(32))
    with pytest.raises(StoreError):
        store.balances()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerStore:
    return MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "ledger.db")


def test_initialize_only_once(store: LedgerStore) -> None:
    assert store.meta().genesis_digest is None
    store.initialize(b"d" * 32, {b"a" * 32: 5, b"b" * 32: 0})
    assert store.meta().genesis_digest == b"d" * 32
    assert store.meta().total_supply == 5
    assert store.balances() == [(b"a" * 32, 5)]
    with pytest.raises(StoreError, match="already"):
        store.initialize(b"e" * 32, {})
    store.close()


def test_commit_semantics_are_the_same_in_both_stores(store: LedgerStore) -> None:
    a, b = b"a" * 32, b"b" * 32
    store.initialize(b"d" * 32, {a: 10})
    first = StateChanges()
    first.balances.update({a: 0, b: 7})
    first.nonces[a] = 1
    first.escrows.update({("stake", a): 3, ("fees", b""): 0})
    first.data.update({("notes", a): b"x", ("notes", b): None})
    first.minted = 4
    first.supply_events.append(SupplyEvent(1, "mint", b, 4, "reward"))
    tx = sign_transfer(KEYS[0], KEYS[1].public_key, 1, 0)
    receipt = Receipt(tx, 1, None, (tx.sender, KEYS[1].public_key))
    store.commit(first, [receipt])
    assert store.balances() == [(b, 7)]
    assert (store.balance(a), store.balance(b)) == (0, 7)
    assert store.nonces() == [(a, 1)]
    assert store.escrows() == [("stake", a, 3)]
    assert store.data_records() == [("notes", a, b"x")]
    assert store.data("notes", b) is None
    assert store.meta().minted == 4
    assert store.meta().applied == 1
    assert store.supply_events() == [SupplyEvent(1, "mint", b, 4, "reward")]
    assert store.history(None, None, default_registry) == [receipt]
    second = StateChanges()
    second.escrows[("stake", a)] = 0
    second.data[("notes", a)] = None
    store.commit(second, [])
    assert store.escrows() == []
    assert store.escrow("stake", a) == 0
    assert store.data_records() == []
    assert store.data("notes", a) is None
    store.close()


def test_history_by_account_matches_whole_keys_only(store: LedgerStore) -> None:
    # The accounts of one receipt are stored side by side; a key spanning two of them must not match.
    first, second = KEYS[0].public_key, KEYS[1].public_key
    straddling = first[16:] + second[:16]
    store.initialize(b"d" * 32, {first: 10})
    tx = sign_transfer(KEYS[0], second, 1, 0)
    store.commit(StateChanges(), [Receipt(tx, 1, None, (first, second))])
    assert store.history(straddling, None, default_registry) == []
    assert len(store.history(second, None, default_registry)) == 1
    store.close()


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    SQLiteStore(path).close()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    connection.close()


def test_in_memory_sqlite_path_works() -> None:
    state = LedgerState.from_genesis(GENESIS, SQLiteStore(":memory:"))
    state.apply_batch(transfers(5))
    assert state.applied_count == 5
    state.check_invariants()
    state.close()


def test_sqlite_store_accepts_str_paths(tmp_path: Path) -> None:
    path = os.fspath(tmp_path / "ledger.db")
    LedgerState.from_genesis(GENESIS, SQLiteStore(path)).close()
    reopened = LedgerState(SQLiteStore(path))
    assert reopened.balance(KEYS[0].public_key) == 10_000
    reopened.close()


def test_memory_stores_of_one_genesis_share_its_balances_and_keep_only_what_changed() -> None:
    # A simulation's nodes start from one genesis: N stores must not hold N copies of every account.
    from a27_ledger import LedgerState, MemoryStore, sign_transfer  # noqa: PLC0415
    from a27_ledger.testing import make_genesis, make_keys  # noqa: PLC0415

    alice, bob, carol = make_keys(3, seed=77)
    genesis = make_genesis([alice, bob, carol], balance=100)
    first, second = MemoryStore(), MemoryStore()
    one, other = LedgerState.from_genesis(genesis, first), LedgerState.from_genesis(genesis, second)
    assert first._base is second._base is genesis.balances
    one.apply(sign_transfer(alice, bob.public_key, 100, 0))  # alice emptied, bob credited
    assert dict(first.balances()) == {bob.public_key: 200, carol.public_key: 100}
    assert dict(second.balances()) == {key.public_key: 100 for key in (alice, bob, carol)}
    assert len(first._balances) == 2 and not second._balances
    assert one.snapshot().digest() != other.snapshot().digest()
    one.check_invariants()
    plain = {alice.public_key: 5}
    copied = MemoryStore()
    copied.initialize(b"\x01" * 32, plain)
    plain[alice.public_key] = 6  # the caller's dict is not the store's
    assert copied.balance(alice.public_key) == 5
