"""Future-nonce flood: transfers whose nonces leave a gap, so they can never be included, sent to fill mempools.

From one key (as many nonces ahead as a validator would take) or from many funded keys (a few each). Such
transactions cost the attacker nothing while they wait (a fee is only paid on inclusion). The mempool's bounds are
the defence, structural and always on (a27-pos `mempool.py`): at most `max_nonce_ahead` nonces past the chain's,
at most `max_gapped_per_sender` gapped transactions per sender and `max_gapped` (a quarter of the pool) in all,
each sender's held costs within its balance, expiry after `max_age`; so honest transfers, which continue their
sender's nonces, still get in.
"""

from __future__ import annotations

from collections.abc import Iterable

from a27_ledger import KeyPair, LedgerState, Transaction, sign_transfer


def future_nonce_transfers(keys: Iterable[KeyPair], state: LedgerState, recipient: bytes, *, per_key: int = 1,
                           gap: int = 1, fee: int = 1) -> list[Transaction]:
    """`per_key` transfers of 1 from each of `keys`, with nonces from `gap` past the key's next nonce in `state`
    (so none of them is includable), paying `fee`."""
    flood: list[Transaction] = []
    for key in keys:
        first = state.next_nonce(key.public_key) + gap
        flood += [sign_transfer(key, recipient, 1, nonce, fee=fee) for nonce in range(first, first + per_key)]
    return flood
