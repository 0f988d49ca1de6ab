"""
What the channel defences cost when nobody attacks: routed payments per second in memory, all defences on
(`ChannelDefences()`) beside all off (`ChannelDefences.none()`), in the same run.

Payments go from node 0 to node 3 over the line 0 - 1 - 2 - 3 (two forwarding nodes, so the slot quota is counted at
each), one at a time, plus one block per 50 payments so that the chain watch runs. Rounds alternate on and off;
medians are reported.

    python benchmarks/defences_cost.py [--payments 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from a27_channels import ChannelDefences, ChannelNetwork, NodeParams, PaymentSucceeded


def routed(payments: int, defences: ChannelDefences) -> float:
    """Seconds for `payments` routed payments over three hops with `defences`."""
    network = ChannelNetwork(4, seed=2, balance=10**12,
                             params=NodeParams(accept_deposit_up_to=10**12, defences=defences))
    network.open_edges([(0, 1), (1, 2), (2, 3)], 10**9)
    started = time.perf_counter()
    for index in range(payments):
        payment_hash = network.pay(0, 3, 1_000 + index)
        assert isinstance(network.outcome(payment_hash), PaymentSucceeded)
        if index % 50 == 49:
            network.mine()
    return time.perf_counter() - started


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    on_rates, off_rates = [], []
    for _ in range(args.rounds):
        on_rates.append(args.payments / routed(args.payments, ChannelDefences()))
        off_rates.append(args.payments / routed(args.payments, ChannelDefences.none()))
    on, off = statistics.median(on_rates), statistics.median(off_rates)
    print(f"{args.payments} routed payments (3 hops, memory) per round, median of {args.rounds} rounds")
    print("| defences                 | payments/s |")
    print("|--------------------------|-----------:|")
    print(f"| ChannelDefences() (on)   | {on:10.0f} |")
    print(f"| ChannelDefences.none()   | {off:10.0f} |")
    print(f"on / off: {on / off:.1%}")


if __name__ == "__main__":
    main()
