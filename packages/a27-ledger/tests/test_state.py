"""Ledger state: every rejection leaves state untouched; batches, fees, receipts, supply and invariants."""

from __future__ import annotations

import contextlib
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from a27_ledger import (
    FEE_POOL,
    MAX_UINT64,
    BadSignature,
    GenesisError,
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    LedgerState,
    LedgerStore,
    MalformedTransaction,
    MemoryStore,
    NonceGap,
    NonceReplay,
    Receipt,
    SelfTransfer,
    SQLiteStore,
    StalePreparedBlock,
    StateChanges,
    StateTransition,
    SupplyInvariantViolated,
    Transaction,
    Transfer,
    default_registry,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys

KEYS = make_keys(3, seed=11)
ALICE, BOB, CAROL = KEYS
A, B, C = (key.public_key for key in KEYS)
GENESIS = make_genesis(KEYS, balance=1_000)


@attrs.frozen
class Operation:
    """A toy kind exercising the StateTransition door: mint, burn, write data, or transfer and then fail."""

    KIND: ClassVar[int] = 200
    NAME: ClassVar[str] = "operation"
    MINT: ClassVar[int] = 0
    BURN: ClassVar[int] = 1
    TRANSFER_THEN_FAIL: ClassVar[int] = 2
    PUT: ClassVar[int] = 3
    DELETE: ClassVar[int] = 4
    op: int
    amount: int

    def encode(self) -> bytes:
        return struct.pack(">BQ", self.op, self.amount)

    @classmethod
    def decode(cls, data: bytes) -> Operation:
        if len(data) != 9:
            raise MalformedTransaction("operation body is 9 bytes")
        return cls(*struct.unpack(">BQ", data))

    def check(self, tx: Transaction) -> None:
        """No stateless rules."""

    def debit(self) -> int:
        return 0

    def apply(self, tx: Transaction, ctx: StateTransition) -> None:
        if self.op == self.MINT:
            ctx.mint(tx.sender, self.amount, "reward")
        elif self.op == self.BURN:
            ctx.burn(tx.sender, self.amount, "slash")
        elif self.op == self.TRANSFER_THEN_FAIL:
            ctx.transfer(tx.sender, C, self.amount)
            raise InsufficientBalance("fails after its transfer")
        elif self.op == self.PUT:
            ctx.put_data("notes", tx.sender, self.amount.to_bytes(8, "big"))
        else:
            ctx.put_data("notes", tx.sender, None)


REGISTRY = default_registry.copy()
REGISTRY.register(Operation)


def operation(key_index: int, op: int, amount: int, nonce: int) -> Transaction:
    key = KEYS[key_index]
    return Transaction(key.public_key, nonce, 0, Operation(op, amount)).signed(key)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], LedgerStore]]:
    opened: list[LedgerStore] = []

    def factory() -> LedgerStore:
        store: LedgerStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "ledger.db")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def state(make_store: Callable[[], LedgerStore]) -> LedgerState:
    return LedgerState.from_genesis(GENESIS, make_store(), REGISTRY)


def tampered(tx: Transaction) -> Transaction:
    return attrs.evolve(tx, signature=bytes([tx.signature[0] ^ 1]) + tx.signature[1:])


REJECTIONS: list[tuple[str, Callable[[], Transaction], type[LedgerError], str]] = [
    ("bad signature", lambda: tampered(sign_transfer(ALICE, B, 10, 0)), BadSignature, "signature"),
    ("unsigned", lambda: Transaction(A, 0, 0, Transfer(B, 10)), BadSignature, "not signed"),
    ("zero amount", lambda: sign_transfer(ALICE, B, 0, 0), InvalidAmount, "not positive"),
    ("amount+fee overflow", lambda: sign_transfer(ALICE, B, MAX_UINT64, 0, fee=1), InvalidAmount, "2\\*\\*64"),
    ("amount above balance", lambda: sign_transfer(ALICE, B, 1_001, 0), InsufficientBalance, "balance 1000 < "),
    ("fee tips it over", lambda: sign_transfer(ALICE, B, 995, 0, fee=6), InsufficientBalance, "amount\\+fee 1001"),
    ("nonce gap", lambda: sign_transfer(ALICE, B, 10, 1), NonceGap, "nonce 1 > next nonce 0"),
    ("self transfer", lambda: sign_transfer(ALICE, A, 10, 0), SelfTransfer, "sender"),
    ("burn more than held", lambda: operation(0, Operation.BURN, 1_001, 0), InsufficientBalance, "burn"),
    ("mint above uint64", lambda: operation(0, Operation.MINT, MAX_UINT64, 0), InvalidAmount, "supply"),
    ("fails midway", lambda: operation(0, Operation.TRANSFER_THEN_FAIL, 10, 0), InsufficientBalance, "after"),
]


@pytest.mark.parametrize(("case", "make_tx", "error", "match"), REJECTIONS, ids=[case[0] for case in REJECTIONS])
def test_rejections_raise_and_change_nothing(
    state: LedgerState, case: str, make_tx: Callable[[], Transaction], error: type[LedgerError], match: str
) -> None:
    tx = make_tx()
    before = state.snapshot()
    if case not in {"burn more than held", "mint above uint64", "fails midway"}:
        with pytest.raises(error, match=match):
            state.check(tx)
    with pytest.raises(error, match=match):
        state.apply(tx)
    with pytest.raises(error, match=match):
        state.apply_batch([sign_transfer(BOB, C, 5, 0), tx])
    assert isinstance(state.apply_batch([tx], atomic=False)[0], error)
    assert state.snapshot() == before
    assert state.snapshot().digest() == before.digest()
    assert state.history() == []
    state.check_invariants()


def test_replayed_nonce_is_rejected_and_changes_nothing(state: LedgerState) -> None:
    tx = sign_transfer(ALICE, B, 10, 0)
    state.apply(tx)
    before = state.snapshot().digest()
    for attempt in (tx, sign_transfer(ALICE, C, 7, 0)):
        with pytest.raises(NonceReplay, match="nonce 0 < next nonce 1"):
            state.check(attempt)
        with pytest.raises(NonceReplay):
            state.apply(attempt)
    assert state.snapshot().digest() == before


def test_check_does_not_mutate(state: LedgerState) -> None:
    before = state.snapshot().digest()
    state.check(sign_transfer(ALICE, B, 10, 0))
    assert state.snapshot().digest() == before


def test_apply_moves_amount_and_fee_to_the_pool(state: LedgerState) -> None:
    receipt = state.apply(sign_transfer(ALICE, B, 100, 0, fee=3))
    assert receipt == Receipt(receipt.tx, 1, None, (A, B))
    assert (state.balance(A), state.balance(B)) == (897, 1_100)
    assert state.escrow(*FEE_POOL) == 3
    assert state.next_nonce(A) == 1
    assert state.next_nonce(B) == 0
    assert state.total_supply == 3_000
    assert state.applied_count == 1
    state.check_invariants()


def test_fee_goes_to_the_fee_recipient(state: LedgerState) -> None:
    receipt = state.apply(sign_transfer(ALICE, B, 100, 0, fee=3), fee_recipient=C)
    assert receipt.fee_recipient == C
    assert receipt.accounts == (A, B)
    assert (state.balance(A), state.balance(B), state.balance(C)) == (897, 1_100, 1_003)
    assert state.escrow(*FEE_POOL) == 0
    state.check_invariants()


def test_the_whole_balance_can_be_spent(state: LedgerState) -> None:
    state.apply(sign_transfer(ALICE, B, 995, 0, fee=5))
    assert state.balance(A) == 0
    assert A not in dict(state.snapshot().balances)
    assert dict(state.snapshot().nonces)[A] == 1


def test_signature_check_can_be_skipped_by_callers_that_verified(state: LedgerState) -> None:
    state.check(tampered(sign_transfer(ALICE, B, 10, 0)), verify_signature=False)
    state.apply(tampered(sign_transfer(ALICE, B, 10, 0)), verify_signature=False)
    assert state.balance(B) == 1_010


def test_atomic_batch_is_all_or_nothing(state: LedgerState) -> None:
    good = [sign_transfer(ALICE, B, 10, 0), sign_transfer(ALICE, B, 10, 1)]
    before = state.snapshot().digest()
    with pytest.raises(NonceGap):
        state.apply_batch([*good, sign_transfer(ALICE, B, 10, 3)])
    assert state.snapshot().digest() == before
    assert state.applied_count == 0
    receipts = state.apply_batch(good, fee_recipient=C)
    assert [receipt.sequence for receipt in receipts if isinstance(receipt, Receipt)] == [1, 2]
    assert state.balance(B) == 1_020


def test_non_atomic_batch_applies_each_on_its_own(state: LedgerState) -> None:
    batch = [
        sign_transfer(ALICE, B, 600, 0),
        sign_transfer(ALICE, B, 600, 1),  # Alice has 400 left
        sign_transfer(BOB, C, 1_500, 0),  # Bob can pay thanks to the first one
        operation(2, Operation.TRANSFER_THEN_FAIL, 50, 0),  # its transfer to Carol is undone
        sign_transfer(ALICE, B, 400, 1),
    ]
    results = state.apply_batch(batch, atomic=False)
    assert [type(result) for result in results] == [Receipt, InsufficientBalance, Receipt, InsufficientBalance, Receipt]
    assert [result.sequence for result in results if isinstance(result, Receipt)] == [1, 2, 3]
    assert (state.balance(A), state.balance(B), state.balance(C)) == (0, 500, 2_500)
    assert state.next_nonce(C) == 0
    state.check_invariants()


def test_non_atomic_batch_of_only_rejections_changes_nothing(state: LedgerState) -> None:
    before = state.snapshot().digest()
    results = state.apply_batch([sign_transfer(ALICE, B, 10, 5), sign_transfer(BOB, B, 1, 0)], atomic=False)
    assert [type(result) for result in results] == [NonceGap, SelfTransfer]
    assert state.snapshot().digest() == before
    assert state.apply_batch([]) == []


def test_history_in_apply_order_by_account_and_limit(state: LedgerState) -> None:
    txs = [sign_transfer(ALICE, B, 1, 0), sign_transfer(BOB, C, 1, 0), sign_transfer(ALICE, C, 1, 1)]
    for tx in txs:
        state.apply(tx)
    assert [receipt.tx for receipt in state.history()] == txs
    assert [receipt.tx for receipt in state.history(A)] == [txs[0], txs[2]]
    assert [receipt.tx for receipt in state.history(B)] == txs[:2]
    assert [receipt.tx for receipt in state.history(C, limit=1)] == [txs[2]]
    assert [receipt.sequence for receipt in state.history(limit=2)] == [2, 3]
    assert state.history(limit=0) == []
    assert state.history(bytes(32)) == []


def test_mint_and_burn_change_supply_and_are_recorded(state: LedgerState) -> None:
    state.apply(operation(0, Operation.MINT, 50, 0))
    state.apply(operation(1, Operation.BURN, 20, 0))
    assert state.total_supply == 3_030
    assert (state.balance(A), state.balance(B)) == (1_050, 980)
    assert [
        (event.sequence, event.kind, event.account, event.amount, event.reason) for event in state.supply_events()
    ] == [
        (1, "mint", A, 50, "reward"),
        (2, "burn", B, 20, "slash"),
    ]
    assert state.store.meta().total_supply == 3_030
    state.check_invariants()


def test_data_records_are_written_and_deleted(state: LedgerState) -> None:
    state.apply(operation(0, Operation.PUT, 7, 0))
    assert state.get_data("notes", A) == (7).to_bytes(8, "big")
    assert state.snapshot().data == (("notes", A, (7).to_bytes(8, "big")),)
    state.apply(operation(0, Operation.DELETE, 0, 1))
    assert state.get_data("notes", A) is None
    assert state.snapshot().data == ()


def test_resuming_the_same_genesis_and_refusing_another(make_store: Callable[[], LedgerStore]) -> None:
    store = make_store()
    state = LedgerState.from_genesis(GENESIS, store)
    state.apply(sign_transfer(ALICE, B, 10, 0))
    resumed = LedgerState.from_genesis(GENESIS, store)
    assert resumed.snapshot() == state.snapshot()
    assert resumed.genesis_digest == GENESIS.digest()
    with pytest.raises(GenesisError, match="holds genesis"):
        LedgerState.from_genesis(make_genesis(KEYS, balance=5), store)


def test_an_empty_store_holds_no_ledger(make_store: Callable[[], LedgerStore]) -> None:
    with pytest.raises(GenesisError, match="from_genesis"):
        LedgerState(make_store())


def test_from_genesis_defaults_to_memory() -> None:
    state = LedgerState.from_genesis(GENESIS)
    assert isinstance(state.store, MemoryStore)
    assert state.registry is default_registry
    assert state.balance(A) == 1_000


def test_invariant_check_catches_tokens_from_nowhere_and_negative_values() -> None:
    state = LedgerState.from_genesis(GENESIS)
    state.check_invariants()
    forged = StateChanges()
    forged.balances[A] = 2_000
    state.store.commit(forged, [])
    with pytest.raises(SupplyInvariantViolated, match="4000 != total supply 3000"):
        state.check_invariants()
    negative = StateChanges()
    negative.escrows[("stake", A)] = -1_000
    state.store.commit(negative, [])
    with pytest.raises(SupplyInvariantViolated, match="negative"):
        state.check_invariants()


def test_state_transition_guards_its_writes(state: LedgerState) -> None:
    ctx = state._transition()
    with pytest.raises(InvalidAmount):
        ctx.transfer(A, B, -1)
    with pytest.raises(InvalidAmount):
        ctx.lock(A, "stake", A, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.put_data("notes", A, "text")  # type: ignore[arg-type]
    ctx.transfer(A, B, 0)
    ctx.transfer(A, A, 1_000)
    ctx.unlock("stake", A, A, 0)
    ctx.mint(A, 0, "nothing")
    ctx.burn(A, 0, "nothing")
    assert ctx.balance(A) == 1_000
    ctx.lock(A, "stake", A, 300)
    assert (ctx.balance(A), ctx.escrow("stake", A), state.balance(A)) == (700, 300, 1_000)
    assert ctx.total_supply == 3_000


def _apply_ops(state: LedgerState, ops: list[tuple[int, int, int, int, int, bool]], batch: bool) -> None:
    # In a batch, nonces are guessed as if every earlier transfer succeeded, so gaps and replays arise as well.
    guessed = {key.public_key: state.next_nonce(key.public_key) for key in KEYS}
    txs = []
    for sender, recipient_offset, amount, fee, nonce_offset, bad_signature in ops:
        key = KEYS[sender]
        recipient = (sender + recipient_offset) % len(KEYS)
        next_nonce = guessed[key.public_key] if batch else state.next_nonce(key.public_key)
        nonce = max(next_nonce + nonce_offset, 0)
        guessed[key.public_key] = nonce + 1
        tx = sign_transfer(key, KEYS[recipient].public_key, amount, nonce, fee)
        if bad_signature:
            tx = tampered(tx)
        if batch:
            txs.append(tx)
            continue
        with contextlib.suppress(LedgerError):
            state.apply(tx)
    state.apply_batch(txs, atomic=False, fee_recipient=C)


OPS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from([1, 2, 1, 2, 0]),
        st.one_of(st.integers(1, 400), st.integers(1, 400), st.sampled_from([0, 1_100, MAX_UINT64])),
        st.integers(0, 5),
        st.sampled_from([-1, 0, 0, 0, 0, 0, 1]),
        st.sampled_from([False] * 9 + [True]),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.booleans())
def test_any_transfer_sequence_conserves_supply_in_memory_and_sqlite(
    ops: list[tuple[int, int, int, int, int, bool]], batch: bool
) -> None:
    memory = LedgerState.from_genesis(GENESIS)
    with tempfile.TemporaryDirectory() as directory:
        sqlite = LedgerState.from_genesis(GENESIS, SQLiteStore(Path(directory) / "ledger.db"))
        for state in (memory, sqlite):
            _apply_ops(state, ops, batch)
            state.check_invariants()
            assert state.total_supply == GENESIS.total_supply
            assert all(balance > 0 for _, balance in state.snapshot().balances)
        assert sqlite.snapshot().digest() == memory.snapshot().digest()
        sqlite.close()


def test_unsigned_transactions_are_refused_even_without_signature_checks(state: LedgerState) -> None:
    with pytest.raises(BadSignature, match="not signed"):
        state.apply(Transaction(A, 0, 0, Transfer(B, 10)), verify_signature=False)
    assert state.applied_count == 0


def test_escrow_and_data_keys_must_be_str_and_bytes(state: LedgerState) -> None:
    ctx = state._transition()
    with pytest.raises(TypeError):
        ctx.lock(A, b"stake", A, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.unlock("stake", "key", A, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.put_data("notes", "key", b"v")  # type: ignore[arg-type]


def test_apply_block_runs_system_effects_in_the_same_commit(state: LedgerState) -> None:
    def reward(ctx: StateTransition) -> None:
        ctx.mint(C, 50, "block reward")
        ctx.put_data("chain", b"height", b"\x01")

    receipts = state.apply_block([sign_transfer(ALICE, B, 10, 0, fee=2)], fee_recipient=C, system=reward)
    assert [receipt.sequence for receipt in receipts] == [1]
    assert (state.balance(A), state.balance(B), state.balance(C)) == (988, 1_010, 1_052)
    assert state.get_data("chain", b"height") == b"\x01"
    assert state.total_supply == 3_050
    assert [(event.sequence, event.kind, event.amount) for event in state.supply_events()] == [(2, "mint", 50)]
    state.check_invariants()


def test_apply_block_without_transactions_still_commits(state: LedgerState) -> None:
    receipts = state.apply_block([], system=lambda ctx: ctx.mint(A, 7, "block reward"))
    assert receipts == []
    assert state.balance(A) == 1_007
    assert state.applied_count == 0
    assert state.store.meta().total_supply == 3_007
    state.check_invariants()


def test_apply_block_is_all_or_nothing_when_the_system_effects_fail(state: LedgerState) -> None:
    before = state.snapshot().digest()

    def overdraw(ctx: StateTransition) -> None:
        ctx.mint(A, 5, "block reward")
        ctx.burn(B, 5_000, "slash")

    with pytest.raises(InsufficientBalance):
        state.apply_block([sign_transfer(ALICE, B, 10, 0)], system=overdraw)
    with pytest.raises(NonceGap):
        state.apply_block([sign_transfer(ALICE, B, 10, 3)], system=lambda ctx: ctx.mint(A, 5, "block reward"))
    assert state.snapshot().digest() == before
    assert state.supply_events() == []


def test_a_prepared_block_commits_what_apply_block_would_write(state: LedgerState) -> None:
    txs = [sign_transfer(ALICE, B, 10, 0, fee=2), sign_transfer(ALICE, C, 5, 1)]

    def reward(ctx: StateTransition) -> None:
        ctx.mint(C, 50, "block reward")

    twin = LedgerState.from_genesis(GENESIS)
    expected = twin.apply_block(txs, fee_recipient=C, system=reward)
    before = state.snapshot().digest()
    prepared = state.prepare_block(txs, fee_recipient=C, system=reward)
    assert state.snapshot().digest() == before  # nothing written yet
    state.commit_prepared(prepared)
    assert prepared.receipts == expected
    assert state.snapshot().digest() == twin.snapshot().digest()


def test_a_prepared_block_is_refused_once_the_ledger_changed(state: LedgerState) -> None:
    prepared = state.prepare_block([sign_transfer(ALICE, B, 10, 0)])
    state.apply(sign_transfer(ALICE, C, 5, 0))
    before = state.snapshot().digest()
    with pytest.raises(StalePreparedBlock):
        state.commit_prepared(prepared)  # its nonce 0 is spent now: writing it would replay it
    other = LedgerState.from_genesis(GENESIS)
    with pytest.raises(StalePreparedBlock):
        other.commit_prepared(state.prepare_block([sign_transfer(ALICE, B, 1, 1)]))
    assert state.snapshot().digest() == before
    assert other.snapshot().digest() == LedgerState.from_genesis(GENESIS).snapshot().digest()


def test_apply_block_dry_run_checks_everything_and_writes_nothing(state: LedgerState) -> None:
    before = state.snapshot().digest()
    seen: list[int] = []
    receipts = state.apply_block([sign_transfer(ALICE, B, 10, 0), sign_transfer(ALICE, C, 5, 1)],
                                 system=lambda ctx: seen.append(ctx.balance(A)), dry_run=True)
    assert [receipt.sequence for receipt in receipts] == [1, 2]
    assert seen == [985]
    assert state.snapshot().digest() == before
    with pytest.raises(BadSignature):
        state.apply_block([tampered(sign_transfer(ALICE, B, 10, 0))], dry_run=True)
