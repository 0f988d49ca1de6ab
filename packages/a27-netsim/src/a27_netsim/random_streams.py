"""Named, independent random streams derived from one seed, and deterministic IPv8 keys."""

from __future__ import annotations

import hashlib
import random

from ipv8.keyvault.crypto import default_eccrypto
from ipv8.keyvault.keys import PrivateKey

_CURVE25519_PRIVATE_PREFIX = b"LibNaCLSK:"


def derive_seed(seed: int, name: str) -> int:
    """Derive a 256-bit integer seed from ``seed`` and ``name`` with SHA-256 (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest(), "big")


def seed_global_random(seed: int) -> None:
    """Seed Python's global ``random`` module, which IPv8 itself draws from (request cache numbers, walks)."""
    random.seed(derive_seed(seed, "global random"))


class SeedStreams:
    """A factory of reproducible ``random.Random`` streams, one per name, all fixed by a single seed."""

    def __init__(self, seed: int) -> None:
        """Create the factory; no stream is created until asked for."""
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """Return the stream called ``name``: the same object on every call, independent of every other name."""
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(derive_seed(self.seed, name))
        return stream

    def private_key(self, name: str) -> PrivateKey:
        """Return an IPv8 curve25519 key derived from the seed and ``name`` (for simulations: the seed reveals it)."""
        material = hashlib.sha512(f"{self.seed}/key/{name}".encode()).digest()
        return default_eccrypto.key_from_private_bin(_CURVE25519_PRIVATE_PREFIX + material)
