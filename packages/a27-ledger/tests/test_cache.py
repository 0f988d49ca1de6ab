"""The process-wide caches: verified signatures (exact bytes, successes only) and shared decoded objects, bounded."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import libnacl
import pytest

from a27_ledger import (
    BoundedLRU,
    DroppedMessage,
    MalformedTransaction,
    SubmitTransaction,
    Transaction,
    Transfer,
    community_id_for,
    decode_signed,
    decoded_objects,
    default_registry,
    encode_signed,
    sign_transfer,
    signature_cache,
    verify_signature,
)
from a27_ledger import keys as keys_module
from a27_ledger.cache import (
    DECODED_CACHE_BYTES,
    DECODED_CACHE_ENTRIES,
    SIGNATURE_CACHE_BYTES,
    SIGNATURE_CACHE_ENTRIES,
)
from a27_ledger.testing import make_keys

ALICE, BOB = make_keys(2, seed=41)
MESSAGE = b"a27 cache test message"


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts with empty caches at their default bounds, and leaves them so."""
    for cache in (signature_cache, decoded_objects):
        cache.clear()
    yield
    signature_cache.resize(SIGNATURE_CACHE_ENTRIES, SIGNATURE_CACHE_BYTES)
    decoded_objects.resize(DECODED_CACHE_ENTRIES, DECODED_CACHE_BYTES)
    for cache in (signature_cache, decoded_objects):
        cache.clear()


@pytest.fixture
def libnacl_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record the messages that reach libnacl's verification from `verify_signature`."""
    calls: list[bytes] = []
    real = libnacl.crypto_sign_verify_detached

    def counting(signature: bytes, message: bytes, public_key: bytes) -> Any:
        calls.append(message)
        return real(signature, message, public_key)

    monkeypatch.setattr(keys_module.libnacl, "crypto_sign_verify_detached", counting)
    return calls


# BoundedLRU --------------------------------------------------------------------------------------------------------


def test_lru_evicts_the_least_recently_used_entry() -> None:
    cache: BoundedLRU[str, int] = BoundedLRU(2, 100)
    cache.store("a", 1, 1)
    cache.store("b", 2, 1)
    assert cache.lookup("a") == 1  # "b" is now the least recently used
    cache.store("c", 3, 1)
    assert cache.lookup("b") is None
    assert (cache.lookup("a"), cache.lookup("c")) == (1, 3)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.evictions, stats.entries, stats.size) == (3, 1, 1, 2, 2)
    assert stats.hit_rate == 0.75


def test_lru_is_bounded_by_total_size_and_skips_an_entry_larger_than_the_bound() -> None:
    cache: BoundedLRU[str, int] = BoundedLRU(100, 10)
    cache.store("a", 1, 4)
    cache.store("b", 2, 4)
    cache.store("c", 3, 4)
    assert cache.lookup("a") is None
    assert cache.stats().size == 8
    cache.store("huge", 4, 11)
    assert cache.lookup("huge") is None
    assert len(cache) == 2
    cache.store("b", 5, 6)  # replacing an entry counts its new size only
    assert cache.stats().size == 10 and cache.lookup("b") == 5


def test_lru_resize_evicts_and_zero_entries_turns_it_off() -> None:
    cache: BoundedLRU[int, int] = BoundedLRU(10, 100)
    for number in range(10):
        cache.store(number, number, 1)
    cache.resize(3, 100)
    assert len(cache) == 3 and cache.lookup(9) == 9 and cache.lookup(0) is None
    cache.resize(0, 100)
    assert len(cache) == 0
    cache.store(1, 1, 1)
    assert cache.lookup(1) is None and len(cache) == 0
    with pytest.raises(ValueError, match=">= 0"):
        cache.resize(-1, 100)


# Signatures -------------------------------------------------------------------------------------------------------


def test_a_repeated_verification_of_identical_bytes_is_a_cache_hit(libnacl_calls: list[bytes]) -> None:
    signature = ALICE.sign(MESSAGE)
    assert verify_signature(ALICE.public_key, MESSAGE, signature)
    assert verify_signature(ALICE.public_key, MESSAGE, signature)
    assert verify_signature(bytes(ALICE.public_key), bytes(bytearray(MESSAGE)), bytes(bytearray(signature)))
    assert libnacl_calls == [MESSAGE]
    assert signature_cache.stats().hits == 2


def test_a_hit_needs_identical_bytes_a_forgery_of_a_cached_message_fails(libnacl_calls: list[bytes]) -> None:
    signature = ALICE.sign(MESSAGE)
    assert verify_signature(ALICE.public_key, MESSAGE, signature)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_signature(ALICE.public_key, MESSAGE, forged)
    assert not verify_signature(BOB.public_key, MESSAGE, signature)  # the same signature, another signer
    assert not verify_signature(ALICE.public_key, MESSAGE + b"!", signature)  # another message
    assert not verify_signature(ALICE.public_key, MESSAGE, BOB.sign(MESSAGE))
    assert len(libnacl_calls) == 5
    assert signature_cache.stats().entries == 1


def test_failures_are_never_cached(libnacl_calls: list[bytes]) -> None:
    forged = bytes(64)
    for _ in range(3):
        assert not verify_signature(ALICE.public_key, MESSAGE, forged)
    assert len(libnacl_calls) == 3
    assert signature_cache.stats().entries == 0
    assert not verify_signature(ALICE.public_key[:31], MESSAGE, ALICE.sign(MESSAGE))
    assert signature_cache.stats().entries == 0


def test_transactions_verify_through_the_cache(libnacl_calls: list[bytes]) -> None:
    transaction = sign_transfer(ALICE, BOB.public_key, 5, 0)
    decoded = Transaction.decode(bytearray(transaction.encode()))
    assert transaction.verify_signature() and decoded.verify_signature()
    assert len(libnacl_calls) == 1


def test_a_packet_sent_to_many_peers_is_verified_once_and_a_damaged_copy_is_dropped(libnacl_calls: list[bytes]) -> None:
    prefix = b"\x00\x02" + community_id_for("a27/cache-test")
    packet = encode_signed(prefix, ALICE, SubmitTransaction(sign_transfer(ALICE, BOB.public_key, 5, 0).encode()))
    results = [decode_signed(packet, SubmitTransaction) for _ in range(19)]
    assert len(libnacl_calls) == 1
    assert all(result[1].transaction == results[0][1].transaction for result in results)
    damaged = packet[:-1] + bytes([packet[-1] ^ 1])
    with pytest.raises(DroppedMessage, match="does not verify"):
        decode_signed(damaged, SubmitTransaction)
    assert len(libnacl_calls) == 2


def test_the_cache_can_be_turned_off(libnacl_calls: list[bytes]) -> None:
    signature_cache.resize(0, 0)
    signature = ALICE.sign(MESSAGE)
    assert verify_signature(ALICE.public_key, MESSAGE, signature)
    assert verify_signature(ALICE.public_key, MESSAGE, signature)
    assert len(libnacl_calls) == 2


def test_signature_cache_memory_stays_bounded_with_100000_distinct_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real verification of 100,000 signatures takes seconds; the cache sees the same keys with a verifier that accepts.
    monkeypatch.setattr(keys_module.libnacl, "crypto_sign_verify_detached", lambda *_: None)
    signature = bytes(64)
    tracemalloc.start()
    try:
        for number in range(100_000):
            assert verify_signature(ALICE.public_key, number.to_bytes(8, "big") * 16, signature)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = signature_cache.stats()
    assert stats.entries == SIGNATURE_CACHE_ENTRIES
    assert stats.size <= SIGNATURE_CACHE_BYTES
    assert stats.evictions == 100_000 - SIGNATURE_CACHE_ENTRIES
    # Each entry holds a 128-byte message, a tuple and an ordered-dict node: well under 1 KB.
    assert peak < SIGNATURE_CACHE_ENTRIES * 1024


def test_a_cache_bounded_by_size_keeps_large_messages_within_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_module.libnacl, "crypto_sign_verify_detached", lambda *_: None)
    signature_cache.resize(SIGNATURE_CACHE_ENTRIES, 2**20)
    for number in range(1_000):
        assert verify_signature(ALICE.public_key, number.to_bytes(4, "big") * 1024, bytes(64))
    assert signature_cache.stats().size <= 2**20
    assert signature_cache.stats().entries == 2**20 // (32 + 4096 + 64)


# Decoded transactions ---------------------------------------------------------------------------------------------


def test_decoding_the_same_bytes_twice_gives_the_identical_object() -> None:
    encoded = sign_transfer(ALICE, BOB.public_key, 5, 3, fee=1).encode()
    first = Transaction.decode(encoded)
    assert Transaction.decode(bytes(bytearray(encoded))) is first
    assert Transaction.decode(memoryview(encoded)) is first
    assert Transaction.decode(encoded, default_registry) is first  # None means the default registry
    assert decoded_objects.stats().hits == 3


class _ExtraKind:
    """A kind only some registries hold (register reads nothing but KIND)."""

    KIND = 200
    NAME = "extra"


def test_registries_holding_the_same_kinds_share_decoded_objects() -> None:
    # Every simulated node builds its own registry; they must still share one decoded block or transaction.
    encoded = sign_transfer(ALICE, BOB.public_key, 5, 3).encode()
    mine = Transaction.decode(encoded)
    assert Transaction.decode(encoded, default_registry.copy()) is mine
    first, second = default_registry.copy(), default_registry.copy()
    first.register(_ExtraKind)  # type: ignore[type-var]
    second.register(_ExtraKind)  # type: ignore[type-var]
    assert Transaction.decode(encoded, first) is Transaction.decode(encoded, second)


def test_registries_holding_different_kinds_do_not_share_decoded_objects() -> None:
    encoded = sign_transfer(ALICE, BOB.public_key, 5, 3).encode()
    other = default_registry.copy()
    other.register(_ExtraKind)  # type: ignore[type-var]
    mine, theirs = Transaction.decode(encoded), Transaction.decode(encoded, other)
    assert mine == theirs and mine is not theirs
    assert Transaction.decode(encoded, other) is theirs


def test_bad_bytes_are_refused_every_time_and_never_cached() -> None:
    encoded = sign_transfer(ALICE, BOB.public_key, 5, 3).encode()
    for _ in range(2):
        with pytest.raises(MalformedTransaction):
            Transaction.decode(encoded[:-1])
        with pytest.raises(MalformedTransaction):
            Transaction.decode("not bytes")  # type: ignore[arg-type]
    assert decoded_objects.stats().entries == 0


def test_a_shared_transaction_is_immutable() -> None:
    transaction = Transaction.decode(sign_transfer(ALICE, BOB.public_key, 5, 3).encode())
    with pytest.raises(AttributeError):
        transaction.nonce = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        transaction.body.amount = 6  # type: ignore[attr-defined]
    assert not hasattr(transaction, "__dict__") and not hasattr(transaction.body, "__dict__")


def test_decoded_objects_stay_bounded_with_distinct_inputs() -> None:
    body = Transfer(BOB.public_key, 1)
    count = DECODED_CACHE_ENTRIES + 4_000
    for nonce in range(count):
        Transaction.decode(Transaction(ALICE.public_key, nonce, 0, body, bytes(64)).encode())
    stats = decoded_objects.stats()
    assert stats.entries == DECODED_CACHE_ENTRIES
    assert stats.evictions == count - DECODED_CACHE_ENTRIES
    assert stats.size <= DECODED_CACHE_BYTES


# Shared receipts ---------------------------------------------------------------------------------------------------


def test_states_applying_the_same_transaction_share_one_receipt() -> None:
    # In a simulation every node applies every block: one receipt per transaction, not one per node.
    from a27_ledger import LedgerState  # noqa: PLC0415
    from a27_ledger.cache import shared_receipts  # noqa: PLC0415
    from a27_ledger.testing import make_genesis  # noqa: PLC0415

    genesis = make_genesis([ALICE, BOB])
    first, second = LedgerState.from_genesis(genesis), LedgerState.from_genesis(genesis)
    transfer = sign_transfer(ALICE, BOB.public_key, 5, 0)
    mine, theirs = first.apply(transfer), second.apply(transfer)
    assert mine is theirs
    later = LedgerState.from_genesis(genesis)
    later.apply(sign_transfer(ALICE, BOB.public_key, 1, 0))
    other = later.apply(sign_transfer(ALICE, BOB.public_key, 5, 1))
    assert other.sequence != mine.sequence and other is not mine
    shared_receipts.resize(0, 0)
    try:
        unshared = LedgerState.from_genesis(genesis).apply(transfer)
        assert unshared == mine and unshared is not mine
    finally:
        shared_receipts.resize(32_768, 32_768)
