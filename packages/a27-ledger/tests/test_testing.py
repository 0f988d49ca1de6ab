"""Fixtures for tests and upper layers."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from a27_ledger import LedgerState, rewrite_vectors, write_vector_file
from a27_ledger.testing import make_genesis, make_keys, random_transfers


def test_make_keys_is_deterministic_per_seed() -> None:
    assert make_keys(3) == make_keys(3)
    assert make_keys(3)[:2] == make_keys(2)
    assert make_keys(2, seed=1) != make_keys(2, seed=2)
    assert len({key.public_key for key in make_keys(50)}) == 50


def test_make_genesis_defaults() -> None:
    keys = make_keys(3)
    genesis = make_genesis(keys)
    assert genesis.balances == {key.public_key: 1_000_000 for key in keys}
    assert set(genesis.validators) == {key.public_key for key in keys}
    assert genesis.names[keys[2].public_key] == "n2"
    only_first = make_genesis(keys, balance=5, validators=keys[:1], chain_id="other")
    assert only_first.validators == (keys[0].public_key,)
    assert only_first.chain_id == "other"
    assert only_first.total_supply == 15


def test_random_transfers_are_valid_in_order_and_reproducible() -> None:
    keys = make_keys(4)
    state = LedgerState.from_genesis(make_genesis(keys, balance=500))
    txs = list(random_transfers(keys, state, random.Random(3), 200, max_amount=300, max_fee=4))
    assert txs == list(random_transfers(keys, state, random.Random(3), 200, max_amount=300, max_fee=4))
    assert len(txs) == 200
    state.apply_batch(txs, fee_recipient=keys[0].public_key)
    assert state.applied_count == 200
    assert any(tx.fee for tx in txs)
    state.check_invariants()


def test_random_transfers_stop_when_nobody_can_pay() -> None:
    keys = make_keys(2)
    state = LedgerState.from_genesis(make_genesis(keys, balance=3))
    txs = list(random_transfers(keys, state, random.Random(0), 50, max_fee=3))
    assert len(txs) < 50
    state.apply_batch(txs)
    state.check_invariants()


def test_random_transfers_need_two_keys() -> None:
    keys = make_keys(1)
    with pytest.raises(ValueError, match="two keys"):
        next(random_transfers(keys, LedgerState.from_genesis(make_genesis(keys)), random.Random(0), 1))


def test_write_vector_file_writes_sorted_json_and_reports_changes(tmp_path: Path) -> None:
    path = tmp_path / "vectors.json"
    assert write_vector_file(path, {"b": "02", "a": "01"})
    assert path.read_text(encoding="utf-8") == '{\n  "a": "01",\n  "b": "02"\n}\n'
    assert not write_vector_file(path, {"a": "01", "b": "02"})
    assert write_vector_file(path, {"a": "ff"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "ff"}


def test_rewrite_vectors_uses_each_modules_vectors_function(tmp_path: Path) -> None:
    (tmp_path / "test_fake_vectors.py").write_text(
        "from pathlib import Path\n"
        "VECTORS = Path(__file__).parent / 'fake.json'\n"
        "def vectors():\n    return {'x': '00'}\n", encoding="utf-8")
    assert rewrite_vectors(tmp_path, ["test_fake_vectors"]) == [(tmp_path / "fake.json", True)]
    assert json.loads((tmp_path / "fake.json").read_text(encoding="utf-8")) == {"x": "00"}
    assert str(tmp_path) not in sys.path

