"""The Merkle tree: domain-separated hashes, the odd-node rule, no second preimages between shapes."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from a27_pos import merkle_root


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_empty_and_single_leaf() -> None:
    assert merkle_root([]) == hashlib.sha256(b"").digest()
    assert merkle_root([b"a"]) == leaf(b"a")


def test_two_three_and_five_leaves_follow_the_documented_shape() -> None:
    a, b, c, d, e = (leaf(x) for x in (b"a", b"b", b"c", b"d", b"e"))
    assert merkle_root([b"a", b"b"]) == node(a, b)
    # An odd node is promoted unchanged, not paired with a copy of itself.
    assert merkle_root([b"a", b"b", b"c"]) == node(node(a, b), c)
    assert merkle_root([b"a", b"b", b"c", b"d", b"e"]) == node(node(node(a, b), node(c, d)), e)


def test_duplicating_the_last_leaf_changes_the_root() -> None:
    assert merkle_root([b"a", b"b", b"c"]) != merkle_root([b"a", b"b", b"c", b"c"])


def test_a_leaf_cannot_pass_for_an_inner_node() -> None:
    a, b = leaf(b"a"), leaf(b"b")
    assert merkle_root([a + b]) != merkle_root([b"a", b"b"])


@given(st.lists(st.binary(max_size=8), max_size=12), st.lists(st.binary(max_size=8), max_size=12))
def test_different_lists_have_different_roots(first: list[bytes], second: list[bytes]) -> None:
    assert (merkle_root(first) == merkle_root(second)) == (first == second)
