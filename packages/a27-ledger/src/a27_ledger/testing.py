"""Fixtures for tests and for the layers above: deterministic keys, genesis builders, valid transfer streams."""

from __future__ import annotations

import importlib
import json
import random
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from a27_ledger.genesis import Genesis
from a27_ledger.keys import KeyPair
from a27_ledger.state import LedgerState
from a27_ledger.transaction import Transaction, sign_transfer


def make_keys(n: int, seed: int = 0) -> list[KeyPair]:
    """`n` key pairs, the same for the same `seed`."""
    rng = random.Random(f"a27-ledger/keys/{seed}")
    return [KeyPair.generate(rng) for _ in range(n)]


def make_genesis(
    keys: Sequence[KeyPair],
    balance: int = 1_000_000,
    validators: Iterable[KeyPair] | None = None,
    chain_id: str = "a27-test",
) -> Genesis:
    """A genesis giving every key `balance`; `validators` defaults to all keys. Accounts are named n0, n1, ..."""
    validator_keys = keys if validators is None else list(validators)
    return Genesis.build(
        chain_id,
        {key.public_key: balance for key in keys},
        [key.public_key for key in validator_keys],
        {key.public_key: f"n{index}" for index, key in enumerate(keys)},
    )


def random_transfers(
    keys: Sequence[KeyPair],
    state: LedgerState,
    rng: random.Random,
    count: int,
    *,
    max_amount: int = 1_000,
    max_fee: int = 0,
) -> Iterator[Transaction]:
    """Yield up to `count` signed transfers between `keys` that are all valid when applied to `state` in order.

    Starts from `state`'s balances and nonces without changing it. Balances are tracked conservatively (fees
    credited elsewhere are not counted), so the stream stays valid wherever fees go. Stops early when no key can pay.
    """
    if len(keys) < 2:
        raise ValueError("random transfers need at least two keys")
    balances = {key.public_key: state.balance(key.public_key) for key in keys}
    nonces = {key.public_key: state.next_nonce(key.public_key) for key in keys}
    for _ in range(count):
        payers = [key for key in keys if balances[key.public_key] >= 1 + max_fee]
        if not payers:
            return
        sender = rng.choice(payers)
        recipient = rng.choice([key for key in keys if key is not sender]).public_key
        fee = rng.randint(0, max_fee)
        amount = rng.randint(1, min(max_amount, balances[sender.public_key] - fee))
        yield sign_transfer(sender, recipient, amount, nonces[sender.public_key], fee)
        balances[sender.public_key] -= amount + fee
        balances[recipient] += amount
        nonces[sender.public_key] += 1


def vector_file_text(vectors: Mapping[str, str]) -> str:
    """The canonical text of a golden-vector file: sorted JSON, two-space indent, one trailing newline."""
    return json.dumps(dict(vectors), indent=2, sort_keys=True) + "\n"


def write_vector_file(path: Path, vectors: Mapping[str, str]) -> bool:
    """Write ``vectors`` to ``path`` in the canonical form; return whether the file changed."""
    text = vector_file_text(vectors)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def rewrite_vectors(tests_dir: Path, module_names: Sequence[str]) -> list[tuple[Path, bool]]:
    """
    Rewrite the golden vectors of the test modules ``module_names`` in ``tests_dir``.

    Each module names its file ``VECTORS`` and builds its vectors with ``vectors()``, the same function its tests
    compare the file against, so the file and the tests cannot drift apart. Only for a deliberate protocol change:
    the files are the contract. Returns each file with whether it changed.
    """
    sys.path.insert(0, str(tests_dir))
    try:
        modules = [importlib.import_module(name) for name in module_names]
    finally:
        sys.path.remove(str(tests_dir))
    return [(Path(module.VECTORS), write_vector_file(Path(module.VECTORS), module.vectors())) for module in modules]


def main_rewrite_vectors(tests_dir: Path, module_names: Sequence[str]) -> int:
    """Entry point of a package's ``scripts/write_vectors.py``: rewrite, print what changed, return 0."""
    for path, changed in rewrite_vectors(tests_dir, module_names):
        print(f"{'rewrote' if changed else 'unchanged'} {path}")
    return 0
