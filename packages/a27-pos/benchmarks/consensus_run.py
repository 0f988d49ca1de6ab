"""Consensus on the in-memory bus: transactions per second from mempool to final and applied, and finality latency.

Every validator runs its own engine and chain in this process; the bus delivers messages after a uniform random
delay. Transfers arrive at a steady rate (in simulated time) in every validator's mempool, as gossip would put
them. Throughput counts transfers applied by every honest validator; latency runs from submission to a validator
applying the block (median and 90th percentile over transfers and validators), in simulated seconds.

Run: python benchmarks/consensus_run.py [--validators 4 20] [--rate 100] [--seconds 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from functools import partial

from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import MessageBus, Timeouts, make_engines
from a27_pos.testing import make_pos_genesis


def run(validators: int, arguments: argparse.Namespace) -> None:
    """One run; prints one line."""
    rate, seconds, seed = arguments.rate, arguments.seconds, arguments.seed
    keys = make_keys(validators + 50, seed=seed)
    genesis = make_pos_genesis(keys, [10_000] * validators, balance=10**9)
    bus = MessageBus(make_engines(keys[:validators], genesis, timeouts=Timeouts()), seed=seed, min_delay=0.01,
                     max_delay=arguments.max_delay, loss=arguments.loss)
    senders = keys[validators:]
    count = int(rate * seconds)
    for index in range(count):
        sender = senders[index % len(senders)]
        transfer = sign_transfer(sender, keys[index % validators].public_key, 1, index // len(senders), fee=1)
        bus.at(index / rate, partial(bus.submit, transfer))
    started = time.perf_counter()
    bus.run(seconds)
    wall = time.perf_counter() - started
    applied = min(len(bus.committed_at[index]) for index in bus.honest)
    latencies = sorted(bus.committed_at[index][tx_id] - submitted
                       for index in bus.honest for tx_id, submitted in bus.submitted_at.items()
                       if tx_id in bus.committed_at[index])
    height = bus.min_height()
    p90 = latencies[int(0.9 * (len(latencies) - 1))] if latencies else float("nan")
    median = statistics.median(latencies) if latencies else float("nan")
    print(f"{validators:10} {rate:8} {applied / seconds:10.1f} {median:12.2f} {p90:9.2f} {height:7} "
          f"{bus.messages_sent:9} {wall:7.1f}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run each validator count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--rate", type=int, default=100, help="transfers submitted per simulated second")
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated seconds")
    parser.add_argument("--max-delay", type=float, default=0.1, help="message delay is uniform in [0.01, this]")
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)
    print(f"{arguments.seconds:.0f} simulated seconds, delays 0.01..{arguments.max_delay} s, "
          f"loss {arguments.loss:.0%}, default timeouts (1 s between blocks)")
    print(f"{'validators':>10} {'offered':>8} {'final tx/s':>10} {'latency p50':>12} {'p90':>9} {'height':>7} "
          f"{'messages':>9} {'wall s':>7}")
    for validators in arguments.validators:
        run(validators, arguments)


if __name__ == "__main__":
    main()
