"""Key pairs: derivation, IPv8 interoperability, signing, files, and verification that never raises."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import libnacl
import pytest
from ipv8.keyvault.crypto import default_eccrypto

from a27_ledger import KeyPair, public_key_from_ipv8, short_id, verify_signature

SEED = bytes(range(32))


def test_from_seed_matches_libnacl() -> None:
    key = KeyPair.from_seed(SEED)
    assert (key.public_key, key.secret_key) == libnacl.crypto_sign_seed_keypair(SEED)
    assert key.seed == SEED


def test_generate_is_deterministic_with_an_rng_and_random_without() -> None:
    assert KeyPair.generate(random.Random(5)) == KeyPair.generate(random.Random(5))
    assert KeyPair.generate(random.Random(5)) != KeyPair.generate(random.Random(6))
    assert KeyPair.generate() != KeyPair.generate()


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "x" * 32])
def test_bad_seeds_are_refused(seed: bytes) -> None:
    with pytest.raises(ValueError, match="seed"):
        KeyPair.from_seed(seed)


def test_parts_that_do_not_belong_together_are_refused() -> None:
    key = KeyPair.from_seed(SEED)
    other = KeyPair.from_seed(bytes(32))
    with pytest.raises(ValueError, match="do not belong"):
        KeyPair(key.seed, other.public_key, key.secret_key)
    with pytest.raises(ValueError, match="public_key"):
        KeyPair(key.seed, key.public_key[:31], key.secret_key)


def test_ipv8_loads_our_key_and_sees_the_same_identity() -> None:
    key = KeyPair.from_seed(SEED)
    ipv8_key = default_eccrypto.key_from_private_bin(key.to_ipv8_private_bin())
    public_bin = ipv8_key.pub().key_to_bin()
    assert public_bin[42:] == key.public_key
    assert public_key_from_ipv8(public_bin) == key.public_key
    assert key.ipv8_key().key_to_bin() == key.to_ipv8_private_bin()
    message = b"the same bytes either way"
    assert ipv8_key.signature(message) == key.sign(message)
    assert ipv8_key.pub().verify(key.sign(message), message)


def test_an_ipv8_generated_key_round_trips_exactly() -> None:
    ipv8_key = default_eccrypto.generate_key("curve25519")
    key = KeyPair.from_ipv8_private_bin(ipv8_key.key_to_bin())
    # IPv8 draws its curve25519 half independently; keeping it keeps the IPv8 peer id.
    assert key.to_ipv8_private_bin() == ipv8_key.key_to_bin()
    assert key.public_key == public_key_from_ipv8(ipv8_key.pub().key_to_bin())
    assert key.ipv8_key().pub().key_to_bin() == ipv8_key.pub().key_to_bin()


@pytest.mark.parametrize("data", [b"LibNaCLSK:" + bytes(63), b"LibNaCLPK:" + bytes(64), b"x" * 74])
def test_other_private_formats_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="LibNaCLSK"):
        KeyPair.from_ipv8_private_bin(data)


@pytest.mark.parametrize("data", [b"LibNaCLPK:" + bytes(63), b"LibNaCLSK:" + bytes(64), b"", "LibNaCLPK:"])
def test_other_public_formats_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="LibNaCLPK"):
        public_key_from_ipv8(data)


def test_save_writes_an_owner_only_ipv8_key_file(tmp_path: Path) -> None:
    key = KeyPair.from_seed(SEED)
    path = tmp_path / "node.key"
    path.write_bytes(b"old")
    path.chmod(0o644)
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == key.to_ipv8_private_bin()
    assert KeyPair.load(path) == key
    assert KeyPair.load(str(path)) == key
    assert default_eccrypto.key_from_private_bin(path.read_bytes()).pub().key_to_bin()[42:] == key.public_key
    assert [entry.name for entry in tmp_path.iterdir()] == ["node.key"]


def test_save_into_a_missing_directory_fails_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        KeyPair.from_seed(SEED).save(tmp_path / "missing" / "node.key")
    assert list(tmp_path.iterdir()) == []


def test_repr_shows_only_the_short_public_key() -> None:
    key = KeyPair.from_seed(SEED)
    assert repr(key) == f"KeyPair({key.public_key[:4].hex()})"
    assert key.seed.hex() not in repr(key)
    assert key.secret_key.hex()[:8] not in repr(key)


def test_short_id_is_the_first_eight_hex_characters() -> None:
    assert short_id(bytes.fromhex("0123456789abcdef") + bytes(24)) == "01234567"


def test_verify_signature_accepts_only_the_exact_signature() -> None:
    key = KeyPair.from_seed(SEED)
    signature = key.sign(b"message")
    assert verify_signature(key.public_key, b"message", signature)
    assert not verify_signature(key.public_key, b"messagf", signature)
    assert not verify_signature(KeyPair.from_seed(bytes(32)).public_key, b"message", signature)
    assert not verify_signature(key.public_key, b"message", signature[:-1] + bytes([signature[-1] ^ 1]))


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        (bytes(31), b"m", bytes(64)),
        (bytes(32), b"m", bytes(63)),
        (bytes(32), b"m", b""),
        ("k" * 32, b"m", bytes(64)),
        (bytes(32), "m", bytes(64)),
        (bytes(32), b"m", None),
        (None, None, None),
    ],
)
def test_verify_signature_never_raises(public_key: bytes, message: bytes, signature: bytes) -> None:
    assert verify_signature(public_key, message, signature) is False
