"""Process-wide bounded caches of work that depends only on exact bytes: signature checks and decoded objects.

In a simulation every node runs in one process, and the same bytes reach many of them: a vote broadcast to 19
validators, a block fetched by hundreds of light nodes. Verifying an Ed25519 signature, or decoding canonical bytes
into frozen objects, gives the same answer every time for the same bytes, so one process needs to do it once:

- ``signature_cache`` remembers *successful* verifications, keyed by the exact (public key, message, signature)
  bytes; a lookup compares all of them, so a hit means these very bytes verified before. Failures are never cached.
- ``shared_receipts`` remembers the receipts of applied transactions, keyed by everything a receipt holds (the
  transaction's id and signature, its sequence number, the fee recipient and the accounts it touched), so that the
  nodes applying one block keep one receipt per transaction between them rather than one each.
- ``decoded_objects`` remembers immutable decoded objects (`Transaction`, and in a27-pos blocks, proposals, votes
  and certificates), keyed by the decoder, the exact input bytes and the context the decoding depends on (the
  transaction registry), so that nodes share one object instead of holding one copy each.

Both are least-recently-used maps bounded by a number of entries and by the total length of the bytes they are
keyed by, so nothing a peer sends can grow them without bound. ``BoundedLRU.resize`` changes a bound (``0`` entries
turns a cache off) and ``BoundedLRU.stats`` reads its hit and miss counters.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import attrs

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

SIGNATURE_CACHE_ENTRIES = 32_768
"""Default number of verified signatures remembered."""

SIGNATURE_CACHE_BYTES = 16 * 2**20
"""Default bound on the total length of the (public key, message, signature) bytes of the remembered signatures."""

DECODED_CACHE_ENTRIES = 8_192
"""Default number of decoded objects remembered."""

DECODED_CACHE_BYTES = 8 * 2**20
"""Default bound on the total length of the encodings the remembered objects were decoded from (a decoded block
takes about five times its encoding in Python objects)."""

RECEIPT_CACHE_ENTRIES = 32_768
"""Default number of receipts remembered by ``shared_receipts``."""



@attrs.frozen
class CacheStats:
    """A snapshot of a cache's counters and occupancy."""

    hits: int
    misses: int
    evictions: int
    entries: int
    size: int
    """Total length of the bytes the current entries are keyed by."""

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before any lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class BoundedLRU(Generic[K, V]):
    """A least-recently-used map bounded by its number of entries and by the total size given for its entries.

    Thread-safe. With ``max_entries == 0`` it is off: lookups miss without counting and stores do nothing.
    """

    def __init__(self, max_entries: int, max_size: int) -> None:
        """Create an empty cache holding at most `max_entries` entries whose sizes add up to at most `max_size`."""
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = 0
        self._max_size = 0
        self._size = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self.resize(max_entries, max_size)

    @property
    def max_entries(self) -> int:
        """The bound on the number of entries (0: the cache is off)."""
        return self._max_entries

    @property
    def max_size(self) -> int:
        """The bound on the total size of the entries."""
        return self._max_size

    def resize(self, max_entries: int, max_size: int) -> None:
        """Change the bounds, evicting the least recently used entries that no longer fit; ValueError if negative."""
        if type(max_entries) is not int or type(max_size) is not int or max_entries < 0 or max_size < 0:
            raise ValueError("cache bounds must be integers >= 0")
        with self._lock:
            self._max_entries = max_entries
            self._max_size = max_size
            self._evict()

    def lookup(self, key: K) -> V | None:
        """The value stored for `key` (now the most recently used), or None."""
        if not self._max_entries:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def store(self, key: K, value: V, size: int) -> None:
        """Remember `value` for `key`, counting `size` against the size bound; an entry larger than it is skipped."""
        if not self._max_entries or size > self._max_size:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[key] = (value, size)
            self._size += size
            self._evict()

    def clear(self) -> None:
        """Forget every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self._size = self._hits = self._misses = self._evictions = 0

    def stats(self) -> CacheStats:
        """The counters since creation or the last `clear`, and the current occupancy."""
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._entries), self._size)

    def __len__(self) -> int:
        """The number of entries."""
        return len(self._entries)

    def _evict(self) -> None:
        while self._entries and (len(self._entries) > self._max_entries or self._size > self._max_size):
            _key, (_value, size) = self._entries.popitem(last=False)
            self._size -= size
            self._evictions += 1


signature_cache: BoundedLRU[tuple[bytes, bytes, bytes], bool] = BoundedLRU(SIGNATURE_CACHE_ENTRIES,
                                                                           SIGNATURE_CACHE_BYTES)
"""Successful Ed25519 verifications, keyed by (public key, message, signature); used by `verify_signature`."""

decoded_objects: BoundedLRU[tuple[Any, ...], Any] = BoundedLRU(DECODED_CACHE_ENTRIES, DECODED_CACHE_BYTES)
"""Immutable decoded objects, keyed by (decoder, input bytes, *decoding context); used by `decode_shared`."""


def decode_shared(decoder: Callable[..., T], data: object, *context: Hashable) -> T:
    """``decoder(data, *context)``, or the object it returned before for the same decoder, bytes and context.

    Only for decoders that return immutable objects (frozen, made of tuples, bytes and ints) and whose result depends
    on nothing but `data` and `context`. A context object with a ``decode_key`` counts by that key (a
    `TransactionRegistry` has one: its kinds, so every node's registry holding the same kinds shares entries);
    another counts by its ``__eq__`` (by identity if it has none). Errors are not cached: bad input is decoded, and
    refused, every time. `data` that is not bytes, bytearray or memoryview goes to `decoder` unchanged, to be refused
    there.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            return decoder(data, *context)
        data = bytes(data)
    key = (decoder, data, *(getattr(part, "decode_key", part) for part in context))
    found = decoded_objects.lookup(key)
    if found is not None:
        return found
    decoded = decoder(data, *context)
    decoded_objects.store(key, decoded, len(data))
    return decoded


shared_receipts: BoundedLRU[tuple[Any, ...], Any] = BoundedLRU(RECEIPT_CACHE_ENTRIES, RECEIPT_CACHE_ENTRIES)
"""Receipts of applied transactions (each counts 1 against both bounds), keyed by (tx id, signature, sequence, fee
recipient, accounts); used by `LedgerState` when it applies a transaction."""
