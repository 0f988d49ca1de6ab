"""
Off-chain payments per second between two peers, every state signed and verified by both, beside the raw rate.

Each payment is one update: the receiver checks the proposal and signs the new state, the proposer verifies that
signature and signs last, the receiver verifies the completion: two Ed25519 signatures and two verifications. The
baseline does exactly those four libnacl operations on a state encoding, nothing else, in the same run. Rounds are
interleaved (baseline, then each variant) and medians reported; the ratio is taken per round against that round's
baseline.

    python benchmarks/offchain_payments.py [--payments 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import libnacl

from a27_channels import ChannelNetwork, MemoryChannelStore, SQLiteChannelStore
from a27_channels.testing import channel_pair, run_update
from a27_ledger import KeyPair

ALICE = KeyPair.from_seed(bytes([0x41]) * 32)
BOB = KeyPair.from_seed(bytes([0x42]) * 32)


def raw(payments: int) -> float:
    """Two signatures and two verifications per payment, on a 60-byte state."""
    message = channel_pair(ALICE, BOB, 10**9, 10**9)[0].state.signing_bytes()
    started = time.perf_counter()
    for _ in range(payments):
        first = libnacl.crypto_sign_detached(message, BOB.secret_key)
        libnacl.crypto_sign_verify_detached(first, message, BOB.public_key)
        second = libnacl.crypto_sign_detached(message, ALICE.secret_key)
        libnacl.crypto_sign_verify_detached(second, message, ALICE.public_key)
    return time.perf_counter() - started


def state_machines(payments: int) -> float:
    """The two `Channel` state machines exchanging the three messages directly."""
    alice, bob = channel_pair(ALICE, BOB, 10**9, 10**9)
    started = time.perf_counter()
    for _ in range(payments):
        run_update(alice, bob, alice.pay(1))
    return time.perf_counter() - started


def nodes(payments: int, database: Path | None = None) -> float:
    """Two `ChannelNode`s (queues, events, persistence) over the in-memory network; SQLite stores if `database`."""
    stores = None
    if database is not None:
        stores = [SQLiteChannelStore(database.with_suffix(".a.db")), SQLiteChannelStore(database.with_suffix(".b.db"))]
    network = ChannelNetwork(2, seed=1, balance=10**12, stores=stores)
    channel_id = network.open(0, 1, 10**9, 10**9)
    payer = network.nodes[0]
    started = time.perf_counter()
    for _ in range(payments):
        network.perform(0, payer.pay(channel_id, 1))
        network.deliver()
    elapsed = time.perf_counter() - started
    assert network.nodes[1].channel(channel_id).balance == 10**9 + payments
    for store in stores or (MemoryChannelStore(),):
        store.close()
    return elapsed


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--payments", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        counter = iter(range(10**6))
        variants: dict[str, Callable[[int], float]] = {
            "Channel state machines": state_machines,
            "ChannelNode pair, memory stores": nodes,
            "ChannelNode pair, SQLite stores (WAL)": lambda payments: nodes(
                payments, Path(directory) / f"round{next(counter)}"),
        }
        baseline_name = "raw libnacl: 2 signs + 2 verifies"
        rates: dict[str, list[float]] = {name: [] for name in [baseline_name, *variants]}
        ratios: dict[str, list[float]] = {name: [] for name in rates}
        for _ in range(args.rounds):
            baseline = args.payments / raw(args.payments)
            rates[baseline_name].append(baseline)
            ratios[baseline_name].append(1.0)
            for name, run in variants.items():
                rate = args.payments / run(args.payments)
                rates[name].append(rate)
                ratios[name].append(rate / baseline)
    print(f"{args.payments} payments per round, median of {args.rounds} rounds")
    print(f"| {'':40} | payments/s | of raw |")
    print(f"|{'-' * 42}|-----------:|-------:|")
    for name, measured in rates.items():
        print(f"| {name:40} | {statistics.median(measured):10.0f} | {statistics.median(ratios[name]):6.0%} |")


if __name__ == "__main__":
    main()
