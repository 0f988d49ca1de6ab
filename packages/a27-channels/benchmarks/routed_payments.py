"""
Routed payments per second over three hops (payer, two forwarding nodes, payee), beside the raw signature rate.

A routed payment is six channel updates: an HTLC added on each of the three channels, then fulfilled on each on the
way back, each update signed and verified by both of its parties, so twelve Ed25519 signatures and twelve
verifications, plus an invoice, a route search and the forwarding decisions. The baseline does those 24 libnacl
operations per payment and nothing else, in the same run. Rounds are interleaved and medians reported.

    python benchmarks/routed_payments.py [--payments 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import libnacl

from a27_channels import ChannelNetwork, PaymentSucceeded
from a27_ledger import KeyPair

KEY = KeyPair.from_seed(bytes([0x51]) * 32)


def raw(payments: int) -> float:
    """Twelve signatures and twelve verifications per payment, on a state-sized message."""
    message = bytes(80)
    started = time.perf_counter()
    for _ in range(payments * 12):
        signature = libnacl.crypto_sign_detached(message, KEY.secret_key)
        libnacl.crypto_sign_verify_detached(signature, message, KEY.public_key)
    return time.perf_counter() - started


def routed(payments: int) -> float:
    """Payments from node 0 to node 3 over the line 0 - 1 - 2 - 3 of in-memory channel nodes."""
    network = ChannelNetwork(4, seed=2, balance=10**12)
    network.open_edges([(0, 1), (1, 2), (2, 3)], 10**9)
    started = time.perf_counter()
    for index in range(payments):
        payment_hash = network.pay(0, 3, 1_000 + index)
        assert isinstance(network.outcome(payment_hash), PaymentSucceeded)
    return time.perf_counter() - started


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    baselines, rates, ratios = [], [], []
    for _ in range(args.rounds):
        baseline = args.payments / raw(args.payments)
        rate = args.payments / routed(args.payments)
        baselines.append(baseline)
        rates.append(rate)
        ratios.append(rate / baseline)
    print(f"{args.payments} payments per round, median of {args.rounds} rounds")
    print(f"| {'':44} | payments/s | of raw |")
    print(f"|{'-' * 46}|-----------:|-------:|")
    print(f"| {'raw libnacl: 12 signs + 12 verifies':44} | {statistics.median(baselines):10.0f} | {1:6.0%} |")
    print(f"| {'routed over 3 hops (ChannelNode, memory)':44} | {statistics.median(rates):10.0f} | "
          f"{statistics.median(ratios):6.0%} |")


if __name__ == "__main__":
    main()
