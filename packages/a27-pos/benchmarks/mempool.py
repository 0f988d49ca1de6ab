"""Mempool rates: admissions per second (signature verified) against raw libnacl verify, and block building.

Admission checks a transaction against the state and verifies its signature; building takes a block's worth by fee
across senders in nonce order and dry-runs it against the state. Rounds are interleaved, medians reported.

Run: python benchmarks/mempool.py [--transactions 10000] [--senders 200] [--block 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence

import libnacl

from a27_ledger import SIGNING_DOMAIN, LedgerState, sign_transfer
from a27_ledger.testing import make_genesis, make_keys
from a27_pos import Mempool, MempoolFull, pos_registry


def main(argv: Sequence[str] | None = None) -> None:
    """Fill pools and build blocks from them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--block", type=int, default=256, help="transactions per block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)

    keys = make_keys(arguments.senders, seed=arguments.seed)
    state = LedgerState.from_genesis(make_genesis(keys, balance=10**9), registry=pos_registry())
    rng = random.Random(arguments.seed)
    per_sender = -(-arguments.transactions // arguments.senders)
    transactions = [sign_transfer(key, keys[(index + 1) % len(keys)].public_key, rng.randint(1, 100), nonce,
                                  rng.randint(0, 50))
                    for index, key in enumerate(keys) for nonce in range(per_sender)][: arguments.transactions]
    rng.shuffle(transactions)
    count = len(transactions)
    signed = [(tx.signature, SIGNING_DOMAIN + tx.signing_bytes(), tx.sender) for tx in transactions]
    # Nonces arrive out of order after shuffling; the pool must hold them all, gapped ones included.
    gaps = {"max_nonce_ahead": per_sender, "max_gapped_per_sender": per_sender, "max_gapped": count}
    limits = {"max_transactions": count, "max_bytes": 10**9, **gaps}

    def baseline() -> None:
        verify = libnacl.crypto_sign_verify_detached
        for signature, message, public_key in signed:
            verify(signature, message, public_key)

    def admit(verify: bool) -> Callable[[], None]:
        def run() -> None:
            pool = Mempool(**limits)
            for tx in transactions:
                pool.add(tx, state, verify_signature=verify)
            if len(pool) != count:
                raise SystemExit(f"only {len(pool)} of {count} admitted")

        return run

    full = Mempool(**limits)
    for tx in transactions:
        full.add(tx, state, verify_signature=False)

    def build() -> None:
        chosen = full.pop_for_block(state, arguments.block, 10**9)
        if len(chosen) != min(arguments.block, count):
            raise SystemExit(f"built a block of {len(chosen)}")

    def evict() -> None:
        pool = Mempool(max_transactions=count // 2, max_bytes=10**9, **gaps)
        for tx in transactions:
            with contextlib.suppress(MempoolFull):
                pool.add(tx, state, verify_signature=False)

    measured: dict[str, tuple[Callable[[], None], int, str]] = {
        "raw libnacl verify": (baseline, count, "tx/s"),
        "admit, verifying": (admit(True), count, "tx/s"),
        "admit, pre-verified": (admit(False), count, "tx/s"),
        "admit into a half-size pool (evicting)": (evict, count, "tx/s"),
        f"build a block of {arguments.block}": (build, 1, "blocks/s"),
    }
    timings: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(arguments.rounds):
        for name, (run, _, _) in measured.items():
            gc.collect()
            started = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - started)

    baselines = timings["raw libnacl verify"]
    print(f"{count} transfers from {arguments.senders} senders, median of {arguments.rounds} interleaved rounds")
    print(f"{'':40} {'rate':>10} {'unit':>9} {'of raw verify':>14}")
    for name, (_, work, unit) in measured.items():
        seconds = timings[name]
        rate = work / statistics.median(seconds)
        compared = name in ("raw libnacl verify", "admit, verifying")
        ratio = statistics.median(base / spent for spent, base in zip(seconds, baselines, strict=True))
        ratio_text = f"{ratio:.0%}" if compared else ""
        print(f"{name:40} {rate:10.0f} {unit:>9} {ratio_text:>14}")


if __name__ == "__main__":
    main()
