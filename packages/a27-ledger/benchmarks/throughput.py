"""Transactions validated and applied per second, against the raw libnacl verify rate measured in the same run.

Every measured apply verifies the Ed25519 signature: the process-wide caches (`a27_ledger.cache`) are cleared before
each run, so every input is new to them and the runs pay their lookups without their hits, except in the "seen
before" run, which decodes and applies bytes the previous run already verified (what every simulated node but the
first does). Rounds are interleaved (baseline, memory, SQLite, repeat) and medians reported, because shared machines
are noisy; ratios are taken per round against that round's baseline.

Run: python benchmarks/throughput.py [--transactions 3000] [--rounds 5] [--accounts 50]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import libnacl

from a27_ledger import SIGNING_DOMAIN, LedgerState, SQLiteStore, Transaction, decoded_objects, signature_cache
from a27_ledger.testing import make_genesis, make_keys, random_transfers


def measure(run: Callable[[], None], count: int) -> float:
    """Transactions per second of one timed call of `run` handling `count` transactions."""
    gc.collect()
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the interleaved rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=3000, help="transfers per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are reported")
    parser.add_argument("--accounts", type=int, default=50, help="accounts the transfers move between")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)

    keys = make_keys(arguments.accounts, seed=arguments.seed)
    genesis = make_genesis(keys)
    txs = list(
        random_transfers(
            keys, LedgerState.from_genesis(genesis), random.Random(arguments.seed), arguments.transactions, max_fee=5
        )
    )
    count = len(txs)
    encoded = [tx.encode() for tx in txs]
    signed_messages = [(tx.signature, SIGNING_DOMAIN + tx.signing_bytes(), tx.sender) for tx in txs]
    workspace = tempfile.TemporaryDirectory(prefix="a27-ledger-bench-")
    directory = Path(workspace.name)
    databases = iter(range(10**9))

    def baseline() -> None:
        verify = libnacl.crypto_sign_verify_detached
        for signature, message, public_key in signed_messages:
            verify(signature, message, public_key)

    def finish(state: LedgerState) -> None:
        if state.applied_count != count:
            raise SystemExit(f"only {state.applied_count} of {count} transfers applied")
        state.check_invariants()
        state.close()

    def memory() -> None:
        state = LedgerState.from_genesis(genesis)
        started = time.perf_counter()
        for tx in txs:
            state.apply(tx)
        timings["memory"].append(count / (time.perf_counter() - started))
        finish(state)

    def memory_decoded() -> None:
        state = LedgerState.from_genesis(genesis)
        started = time.perf_counter()
        for data in encoded:
            state.apply(Transaction.decode(data))
        timings["memory, decoded from bytes"].append(count / (time.perf_counter() - started))
        finish(state)

    def sqlite(batch: int) -> Callable[[], None]:
        def run() -> None:
            state = LedgerState.from_genesis(genesis, SQLiteStore(directory / f"ledger-{next(databases)}.db"))
            started = time.perf_counter()
            if batch == 1:
                for tx in txs:
                    state.apply(tx)
            else:
                for start in range(0, count, batch):
                    state.apply_batch(txs[start : start + batch])
            timings[f"sqlite, batches of {batch}"].append(count / (time.perf_counter() - started))
            finish(state)

        return run

    def memory_decoded_seen_before() -> None:
        state = LedgerState.from_genesis(genesis)
        started = time.perf_counter()
        for data in encoded:
            state.apply(Transaction.decode(data))
        timings["memory, decoded, seen before"].append(count / (time.perf_counter() - started))
        finish(state)

    runs: dict[str, Callable[[], None]] = {
        "memory": memory,
        "memory, decoded from bytes": memory_decoded,
        "memory, decoded, seen before": memory_decoded_seen_before,
        "sqlite, batches of 100": sqlite(100),
        "sqlite, batches of 1": sqlite(1),
    }
    timings: dict[str, list[float]] = {name: [] for name in ["raw libnacl verify", *runs]}
    with workspace:
        for _ in range(arguments.rounds):
            timings["raw libnacl verify"].append(measure(baseline, count))
            for name, run in runs.items():
                if name != "memory, decoded, seen before":
                    signature_cache.clear()
                    decoded_objects.clear()
                gc.collect()
                run()

    baselines = timings["raw libnacl verify"]
    print(f"{count} transfers between {arguments.accounts} accounts, median of {arguments.rounds} interleaved rounds")
    print(f"{'':30} {'tx/s':>8} {'of raw verify':>14}")
    for name, rates in timings.items():
        ratio = statistics.median(rate / base for rate, base in zip(rates, baselines, strict=True))
        print(f"{name:30} {statistics.median(rates):8.0f} {ratio:14.0%}")


if __name__ == "__main__":
    main()
