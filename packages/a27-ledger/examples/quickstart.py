"""Start the example chain, make a few transfers, reject a bad one, and print the balances.

Run: python examples/quickstart.py [path/to/ledger.db]   (no path: the ledger lives in memory)
"""

from __future__ import annotations

import sys
from pathlib import Path

from a27_ledger import (
    Genesis,
    LedgerError,
    LedgerState,
    MemoryStore,
    SQLiteStore,
    format_balances,
    sign_transfer,
)
from a27_ledger.testing import make_keys

HERE = Path(__file__).parent


def main(database: str | None = None) -> None:
    """Run the walk-through."""
    genesis = Genesis.from_toml(HERE / "genesis.toml")
    v0, _v1, _v2, alice = make_keys(4, seed=2027)  # the keys genesis.toml was written for
    store = MemoryStore() if database is None else SQLiteStore(database)
    state = LedgerState.from_genesis(genesis, store)

    nonce = state.next_nonce(alice.public_key)
    state.apply(sign_transfer(alice, v0.public_key, 1_500, nonce, fee=10))
    state.apply_batch([sign_transfer(v0, alice.public_key, 200, state.next_nonce(v0.public_key), fee=1)])
    try:
        state.apply(sign_transfer(alice, v0.public_key, 10**9, nonce + 1))
    except LedgerError as error:
        print(f"rejected: {type(error).__name__} (code {error.code}): {error}")

    state.check_invariants()
    print(format_balances(state.snapshot(), genesis.names), end="")
    print(f"snapshot digest {state.snapshot().digest().hex()[:16]}")
    state.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
