"""Fixtures for tests and for the layers above: deterministic keys, genesis builders, valid transfer streams, and
probes of what a package loads."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

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


def modules_loaded_by(statement: str, modules: Iterable[str]) -> set[str]:
    """Which of ``modules`` the Python ``statement`` loads when run in a fresh interpreter."""
    names = tuple(modules)
    probe = f"import sys\n{statement}\nprint(' '.join(m for m in {names!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def typed_and_lazy_exports(package: ModuleType) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """
    The (module, name) pairs a package built with ``lazy_exports`` imports under ``TYPE_CHECKING`` (what mypy
    sees), and those its ``_OVERLAY_NAMES`` serves at run time (what users get): a test asserts they are equal.
    """
    tree = ast.parse(Path(str(package.__file__)).read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    typed = {(str(node.module), alias.name) for node in guarded.body if isinstance(node, ast.ImportFrom)
             for alias in node.names}
    lazy = {(module, name) for module, names in package._OVERLAY_NAMES.items() for name in names}
    return typed, lazy
