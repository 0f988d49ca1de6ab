"""What the PoS defences cost when nobody attacks: the same seeded run with `PosDefences()` and `PosDefences.none()`.

Every validator runs its own engine and chain in this process on the in-memory bus; transfers arrive at a steady
rate (in simulated time) in every mempool. Two runs per setting:
- latency: default timeouts (1 s between blocks); median and 90th percentile from submission to a validator applying
  the block, in simulated seconds (the protocol's own delays dominate; a defence could only add rounds);
- speed: no pause between blocks (`commit=0`); blocks every honest validator finalized per second of wall-clock time
  (the CPU the defences take: evidence bookkeeping, the dry run of a proposal's transactions), best of 3 runs.

Run: python benchmarks/defences_cost.py [--validators 4] [--rate 100] [--seconds 30] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from functools import partial

from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import MessageBus, PosDefences, Timeouts, make_engines
from a27_pos.testing import make_pos_genesis


def bus_for(defences: PosDefences, timeouts: Timeouts, arguments: argparse.Namespace) -> MessageBus:
    """A loaded bus of `arguments.validators` validators, nothing run yet."""
    validators, rate, seconds, seed = arguments.validators, arguments.rate, arguments.seconds, arguments.seed
    keys = make_keys(validators + 50, seed=seed)
    genesis = make_pos_genesis(keys, [10_000] * validators, balance=10**9)
    bus = MessageBus(make_engines(keys[:validators], genesis, timeouts=timeouts, defences=defences), seed=seed)
    senders = keys[validators:]
    for index in range(int(rate * seconds)):
        sender = senders[index % len(senders)]
        transfer = sign_transfer(sender, keys[index % validators].public_key, 1, index // len(senders), fee=1)
        bus.at(index / rate, partial(bus.submit, transfer))
    return bus


def latency(defences: PosDefences, arguments: argparse.Namespace) -> tuple[float, float, int]:
    """Median and p90 finality latency (simulated s) and the height reached, default timeouts."""
    bus = bus_for(defences, Timeouts(), arguments)
    bus.run(arguments.seconds)
    latencies = sorted(bus.committed_at[index][tx_id] - submitted
                       for index in bus.honest for tx_id, submitted in bus.submitted_at.items()
                       if tx_id in bus.committed_at[index])
    return statistics.median(latencies), latencies[int(0.9 * (len(latencies) - 1))], bus.min_height()


def speed(defences: PosDefences, arguments: argparse.Namespace) -> tuple[float, int]:
    """Blocks finalized per wall-clock second with no pause between blocks (the best of `--repeat` runs, as the
    machine is shared), and the height reached."""
    best = 0.0
    for _ in range(arguments.repeat):
        bus = bus_for(defences, Timeouts(commit=0.0), arguments)
        started = time.perf_counter()
        bus.run(arguments.seconds)
        best = max(best, bus.min_height() / (time.perf_counter() - started))
    return best, bus.min_height()


def main(argv: Sequence[str] | None = None) -> None:
    """Print both settings side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--rate", type=int, default=100, help="transfers submitted per simulated second")
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated seconds per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="speed runs per setting; the best counts")
    arguments = parser.parse_args(argv)
    print(f"{arguments.validators} validators, {arguments.rate} transfers/s, {arguments.seconds:.0f} simulated s, "
          f"seed {arguments.seed}")
    print(f"{'defences':>10} {'latency p50':>12} {'p90':>6} {'height':>7} {'blocks/s (wall)':>16} {'height':>7}")
    for name, defences in (("all on", PosDefences()), ("none", PosDefences.none())):
        median, p90, height = latency(defences, arguments)
        rate, fast_height = speed(defences, arguments)
        print(f"{name:>10} {median:12.2f} {p90:6.2f} {height:7} {rate:16.1f} {fast_height:7}")


if __name__ == "__main__":
    main()
