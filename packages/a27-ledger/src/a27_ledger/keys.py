"""Ed25519 identities: one key pair per node, shared with its IPv8 curve25519 key.

An IPv8 curve25519 private key serialises as ``b"LibNaCLSK:" + curve25519 secret (32) + Ed25519 seed (32)``; its
public key as ``b"LibNaCLPK:" + curve25519 public (32) + Ed25519 public (32)``. The Ed25519 half is the account id.
Signing and verifying go straight to libnacl: the bytes are the ones IPv8 produces, at about half the cost.
"""

from __future__ import annotations

import ctypes
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import libnacl
from ipv8.keyvault.crypto import default_eccrypto
from ipv8.keyvault.keys import PrivateKey

from a27_ledger.cache import signature_cache

IPV8_PRIVATE_PREFIX = b"LibNaCLSK:"
IPV8_PUBLIC_PREFIX = b"LibNaCLPK:"
SEED_LENGTH = 32
PUBLIC_KEY_LENGTH = 32
SECRET_KEY_LENGTH = 64
SIGNATURE_LENGTH = 64
_IPV8_KEY_LENGTH = len(IPV8_PRIVATE_PREFIX) + 64
_ED25519_OFFSET = len(IPV8_PRIVATE_PREFIX) + 32


def _exact_bytes(length: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not bytes or len(value) != length:
            raise ValueError(f"{attribute.name} must be {length} bytes")

    return check


@attrs.frozen(repr=False)
class KeyPair:
    """An Ed25519 key pair whose public key is an account id, convertible to and from an IPv8 key."""

    seed: bytes = attrs.field(validator=_exact_bytes(SEED_LENGTH))
    public_key: bytes = attrs.field(validator=_exact_bytes(PUBLIC_KEY_LENGTH))
    secret_key: bytes = attrs.field(validator=_exact_bytes(SECRET_KEY_LENGTH))
    # IPv8 generates its curve25519 (encryption) half independently of the Ed25519 seed; keeping the loaded one
    # means saving a key loaded from IPv8 gives back the same file, hence the same IPv8 peer id.
    curve25519_secret: bytes = attrs.field(validator=_exact_bytes(32))

    @curve25519_secret.default
    def _derive_curve25519_secret(self) -> bytes:
        return libnacl.crypto_sign_ed25519_sk_to_curve25519(self.secret_key)

    def __attrs_post_init__(self) -> None:
        """Refuse parts that do not belong together."""
        if libnacl.crypto_sign_seed_keypair(self.seed) != (self.public_key, self.secret_key):
            raise ValueError("public_key and secret_key do not belong to seed")

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Derive the key pair from a 32-byte Ed25519 seed."""
        if type(seed) is not bytes or len(seed) != SEED_LENGTH:
            raise ValueError(f"seed must be {SEED_LENGTH} bytes")
        public_key, secret_key = libnacl.crypto_sign_seed_keypair(seed)
        return cls(seed, public_key, secret_key)

    @classmethod
    def generate(cls, rng: random.Random | None = None) -> KeyPair:
        """Create a fresh key pair; with `rng` the seed comes from it, so seeded simulations are reproducible."""
        seed = os.urandom(SEED_LENGTH) if rng is None else rng.randbytes(SEED_LENGTH)
        return cls.from_seed(seed)

    @classmethod
    def from_ipv8_private_bin(cls, data: bytes) -> KeyPair:
        """Read an IPv8 curve25519 private key (`key_to_bin()` output, the IPv8 key-file content)."""
        if type(data) is not bytes or len(data) != _IPV8_KEY_LENGTH or not data.startswith(IPV8_PRIVATE_PREFIX):
            raise ValueError("not an IPv8 curve25519 private key (LibNaCLSK:, 74 bytes)")
        seed = data[_ED25519_OFFSET:]
        public_key, secret_key = libnacl.crypto_sign_seed_keypair(seed)
        return cls(seed, public_key, secret_key, data[len(IPV8_PRIVATE_PREFIX) : _ED25519_OFFSET])

    def to_ipv8_private_bin(self) -> bytes:
        """Serialise as an IPv8 curve25519 private key, which `default_eccrypto.key_from_private_bin` loads."""
        return IPV8_PRIVATE_PREFIX + self.curve25519_secret + self.seed

    def ipv8_key(self) -> PrivateKey:
        """Return this identity as an IPv8 private key, for a `Peer` or a `Community`."""
        return default_eccrypto.key_from_private_bin(self.to_ipv8_private_bin())

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `message`."""
        return libnacl.crypto_sign_detached(message, self.secret_key)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key in the IPv8 key-file format, readable by the owner only (mode 0o600), replacing atomically."""
        target = Path(path)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self.to_ipv8_private_bin())
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyPair:
        """Read a key written by `save` or by IPv8."""
        return cls.from_ipv8_private_bin(Path(path).read_bytes())

    def __repr__(self) -> str:
        """Show the short public key only, never secret material."""
        return f"KeyPair({short_id(self.public_key)})"


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid Ed25519 signature of `message` by `public_key`; never raises on bad input.

    Successful checks are remembered in `a27_ledger.cache.signature_cache`, keyed by the exact bytes: the same
    (public key, message, signature) checked again, by another simulated node, is a lookup. Failures are not.
    """
    if not (type(public_key) is bytes and type(message) is bytes and type(signature) is bytes):
        return False
    key = (public_key, message, signature)
    if signature_cache.lookup(key):
        return True
    try:
        libnacl.crypto_sign_verify_detached(signature, message, public_key)
    except (ValueError, ctypes.ArgumentError):
        return False
    signature_cache.store(key, True, len(public_key) + len(message) + len(signature))
    return True


def public_key_from_ipv8(public_bin: bytes) -> bytes:
    """Extract the 32-byte Ed25519 public key from an IPv8 curve25519 public key (``b"LibNaCLPK:"...``)."""
    if (
        type(public_bin) is not bytes
        or len(public_bin) != _IPV8_KEY_LENGTH
        or not public_bin.startswith(IPV8_PUBLIC_PREFIX)
    ):
        raise ValueError("not an IPv8 curve25519 public key (LibNaCLPK:, 74 bytes)")
    return public_bin[_ED25519_OFFSET:]


def short_id(public_key: bytes) -> str:
    """First 8 hex characters of a key, for printing."""
    return public_key[:4].hex()
