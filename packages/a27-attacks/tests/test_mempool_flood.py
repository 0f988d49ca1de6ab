"""Future-nonce flood: the mempool's bounds hold against 10,000 keys and against one key, and honest transfers still
get in (and into a block). The bounds are structural (no switch): this checks each one against the attack."""

from __future__ import annotations

import pytest

from a27_attacks.mempool_flood import future_nonce_transfers
from a27_ledger import LedgerError, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import Chain, Mempool, NonceTooFarAhead, PosError
from a27_pos.testing import make_pos_genesis

FLOOD_KEYS = 10_000
HONEST = 50


@pytest.fixture(scope="module")
def chain_and_keys() -> tuple[Chain, list]:
    keys = make_keys(FLOOD_KEYS + HONEST + 4, seed=405)
    return Chain.start(make_pos_genesis(keys, [10_000] * 4, balance=1_000)), keys


def offer(pool: Mempool, chain: Chain, transactions: list) -> dict[str, int]:
    """Add each transaction; count the outcomes by error class name (or "admitted")."""
    outcomes: dict[str, int] = {}
    for tx in transactions:
        name = "admitted"
        try:
            pool.add(tx, chain.state)
        except (LedgerError, PosError) as error:
            name = type(error).__name__
        outcomes[name] = outcomes.get(name, 0) + 1
    return outcomes


def test_ten_thousand_keys_fill_only_the_gapped_share_and_honest_transfers_still_get_in(chain_and_keys) -> None:
    chain, keys = chain_and_keys
    pool = Mempool(max_transactions=2_000)
    flood_keys, honest_keys = keys[4:4 + FLOOD_KEYS], keys[4 + FLOOD_KEYS:]
    sink = keys[0].public_key
    flood = future_nonce_transfers(flood_keys, chain.state, sink, per_key=2, fee=50)
    outcomes = offer(pool, chain, flood)
    assert outcomes == {"admitted": pool.max_gapped, "MempoolFull": len(flood) - pool.max_gapped}
    assert pool.gapped == pool.max_gapped == 500
    assert len(pool) == 500
    # Honest transfers continue their senders' nonces: every one is admitted, and they fill the next block.
    honest = [sign_transfer(key, sink, 5, chain.state.next_nonce(key.public_key), fee=1) for key in honest_keys]
    assert offer(pool, chain, honest) == {"admitted": HONEST}
    block = pool.pop_for_block(chain.state, chain.params.max_block_transactions, chain.params.max_block_bytes)
    assert {tx.tx_id for tx in block} == {tx.tx_id for tx in honest}
    # Expiry empties the pool of what can never be included.
    held = len(pool)
    assert pool.expire(pool.max_age, chain.state) == held
    assert len(pool) == 0


def test_one_key_holds_at_most_its_gapped_share_within_the_nonce_window(chain_and_keys) -> None:
    chain, keys = chain_and_keys
    pool = Mempool()
    attacker = keys[4]
    flood = future_nonce_transfers([attacker], chain.state, keys[0].public_key, per_key=200, gap=1)
    outcomes = offer(pool, chain, flood)
    assert outcomes["admitted"] == pool.max_gapped_per_sender == 16
    assert outcomes[NonceTooFarAhead.__name__] == 200 - 16
    assert pool.gapped == 16
    # The largest nonces are refused before any signature is checked or anything is stored.
    far = sign_transfer(attacker, keys[0].public_key, 1, 2**64 - 1)
    with pytest.raises(NonceTooFarAhead):
        pool.add(far, chain.state)
    # The attacker's own next transfer still gets in (it continues its nonces), and so does an honest one.
    assert offer(pool, chain, [sign_transfer(attacker, keys[0].public_key, 1, 0),
                               sign_transfer(keys[5], keys[0].public_key, 1, 0)]) == {"admitted": 2}


def test_unfunded_keys_cannot_flood(chain_and_keys) -> None:
    chain, _keys = chain_and_keys
    pool = Mempool(max_transactions=100)
    strangers = make_keys(300, seed=406)
    flood = future_nonce_transfers(strangers, chain.state, chain_and_keys[1][0].public_key, per_key=1)
    assert offer(pool, chain, flood) == {"InsufficientBalance": 300}
    assert len(pool) == 0
