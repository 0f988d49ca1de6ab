"""Snapshots: digest sensitivity and the JSON form."""

from __future__ import annotations

import json

import attrs
import pytest

from a27_ledger import LedgerSnapshot

BASE = LedgerSnapshot(
    genesis_digest=b"g" * 32,
    balances=((b"a" * 32, 5), (b"b" * 32, 7)),
    nonces=((b"a" * 32, 1),),
    escrows=(("stake", b"a" * 32, 3),),
    data=(("notes", b"k", b"v"),),
    total_supply=15,
    applied=1,
)


@pytest.mark.parametrize(
    "change",
    [
        {"genesis_digest": b"h" * 32},
        {"balances": ((b"a" * 32, 6), (b"b" * 32, 7))},
        {"balances": ((b"b" * 32, 7),)},
        {"nonces": ((b"a" * 32, 2),)},
        {"escrows": (("stakes", b"a" * 32, 3),)},
        {"escrows": ()},
        {"data": (("notes", b"k", b"w"),)},
        {"data": (("note", b"sk", b"v"),)},
        {"total_supply": 16},
        {"applied": 2},
    ],
)
def test_digest_changes_with_every_field(change: dict[str, object]) -> None:
    assert attrs.evolve(BASE, **change).digest() != BASE.digest()  # type: ignore[arg-type]


def test_equal_snapshots_have_equal_digests() -> None:
    assert attrs.evolve(BASE).digest() == BASE.digest()


def test_balance_lookup() -> None:
    assert BASE.balance(b"b" * 32) == 7
    assert BASE.balance(b"c" * 32) == 0


def test_to_dict_is_json_with_hex_keys() -> None:
    document = json.loads(json.dumps(BASE.to_dict()))
    assert document["digest"] == BASE.digest().hex()
    assert document["balances"] == {(b"a" * 32).hex(): 5, (b"b" * 32).hex(): 7}
    assert document["escrows"] == [{"name": "stake", "key": (b"a" * 32).hex(), "amount": 3}]
    assert document["data"] == [{"namespace": "notes", "key": b"k".hex(), "value": b"v".hex()}]
    assert (document["total_supply"], document["applied"]) == (15, 1)
