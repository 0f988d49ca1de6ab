"""Seeded random streams, derived seeds and deterministic keys."""

from __future__ import annotations

import random

from ipv8.keyvault.crypto import default_eccrypto

from a27_netsim import SeedStreams, derive_seed, seed_global_random


def test_streams_are_reproducible_and_independent() -> None:
    first, second = SeedStreams(5), SeedStreams(5)
    assert [first.stream("a").random() for _ in range(5)] == [second.stream("a").random() for _ in range(5)]
    assert SeedStreams(5).stream("a").random() != SeedStreams(5).stream("b").random()
    assert SeedStreams(5).stream("a").random() != SeedStreams(6).stream("a").random()


def test_a_stream_is_the_same_object_on_every_call() -> None:
    streams = SeedStreams(1)
    stream = streams.stream("node-3")
    stream.random()
    assert streams.stream("node-3") is stream


def test_drawing_from_one_stream_leaves_the_others_alone() -> None:
    untouched = SeedStreams(9).stream("b").random()
    streams = SeedStreams(9)
    for _ in range(100):
        streams.stream("a").random()
    assert streams.stream("b").random() == untouched


def test_derived_seeds_are_fixed_values() -> None:
    # A constant, so that a change in the derivation (which would change every simulation) fails loudly.
    assert derive_seed(1, "network.loss") == derive_seed(1, "network.loss")
    assert derive_seed(1, "x") % 1_000_000 == 267551
    assert 0 <= derive_seed(123, "y") < 2**256


def test_seed_global_random_is_reproducible() -> None:
    seed_global_random(4)
    first = [random.random() for _ in range(3)]
    seed_global_random(4)
    assert [random.random() for _ in range(3)] == first
    seed_global_random(5)
    assert [random.random() for _ in range(3)] != first


def test_private_keys_are_deterministic_curve25519_keys() -> None:
    key = SeedStreams(1).private_key("node-0")
    assert key.key_to_bin() == SeedStreams(1).private_key("node-0").key_to_bin()
    assert key.key_to_bin() != SeedStreams(1).private_key("node-1").key_to_bin()
    assert key.key_to_bin() != SeedStreams(2).private_key("node-0").key_to_bin()
    assert key.pub().key_to_bin().startswith(b"LibNaCLPK:")
    signature = default_eccrypto.create_signature(key, b"message")
    assert default_eccrypto.is_valid_signature(key.pub(), b"message", signature)
