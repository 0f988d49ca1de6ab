"""
What the defences cost when nobody attacks: the default full-stack simulation run with every defence on and off.

For each network size and seed, ``a27 sim``'s default run (Lab 2: the ledger and pos layers, 4 validators, the
scenario defaults otherwise) runs twice: with every defence on (each layer's ``XDefences()`` and ``PeerDefences()``,
the defaults: no setting passed) and with every defence off (``none()`` everywhere, through the attack runner's
mapping ``a27_harness.attacks.defences.defence_settings`` over ``available_defences()``). It prints, side by side:
honest throughput (transfers final per simulated second of workload), finality latency (submission until the sender
applied the final block) median and p95, packets sent, and wall seconds per simulated second (the whole run, settling
included, set-up not). Simulated figures are deterministic per seed; wall seconds depend on the machine and its load.

    python sim-harness/benchmarks/defences_cost.py                          # seeds 1 2 3; 16 and 48 light nodes
    python sim-harness/benchmarks/defences_cost.py --seeds 7 --light-nodes 16 --seconds 60
    python sim-harness/benchmarks/defences_cost.py --light-nodes 16 --without pos.vote_relay   # one defence's cost
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import attrs

from a27_harness.attacks.defences import available_defences, defence_settings
from a27_harness.labs.lab2 import Lab2Result, run_lab2
from a27_harness.node import A27Node, NodeSpec
from a27_harness.scenario import SimScenario
from a27_netsim import Simulation

DEFAULT_SEEDS = (1, 2, 3)
DEFAULT_LIGHT_NODES = (16, 48)
DEFAULT_SECONDS = 30.0


class DefenceSwitch:
    """The lab's ``Guests`` hook used only to set every node's defences: no guest node, nothing run."""

    def __init__(self, switched_off: Sequence[str]) -> None:
        """Switch ``switched_off`` (full defence names) off on every node; an empty list passes no setting."""
        self.switched_off = tuple(switched_off)

    def specs(self, simulation: Simulation, scenario: SimScenario) -> list[NodeSpec]:
        """No extra nodes."""
        return []

    def settings(self, spec: NodeSpec) -> dict[str, dict[str, Any]]:
        """The defences settings of the node's layers (empty when nothing is switched off). With the pos layer a
        node runs no ledger community (its ledger follows the chain), so the ledger's switches have nothing to set."""
        settings = defence_settings(self.switched_off, spec.layers)
        if "pos" in spec.layers:
            settings.pop("ledger", None)
        return settings

    def validator_stakes(self, scenario: SimScenario) -> Sequence[int] | None:
        """No guest validators: the default stakes."""
        return None

    async def run(self, nodes: Sequence[A27Node], start: float, stop_at: float) -> None:
        """Nothing runs besides the workload."""

    def finish(self, nodes: Sequence[A27Node]) -> None:
        """Nothing to record."""


@attrs.frozen
class Figures:
    """One run's figures."""

    throughput: float
    latency_median: float | None
    latency_p95: float | None
    packets: int
    wall_per_simulated: float


def measure(scenario: SimScenario, switched_off: Sequence[str]) -> Figures:
    """Run ``scenario`` with ``switched_off`` defences off and measure it."""
    started = time.perf_counter()
    result: Lab2Result = run_lab2(scenario, guests=DefenceSwitch(switched_off))
    wall = time.perf_counter() - started
    latencies = sorted(record.latency for record in result.transfers
                       if record.outcome == "final" and record.latency is not None)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[-1] if len(latencies) > 1 else None
    return Figures(throughput=len(latencies) / scenario.duration,
                   latency_median=statistics.median(latencies) if latencies else None, latency_p95=p95,
                   packets=int(result.network["totals"]["sent"]["messages"]),  # type: ignore[index]
                   wall_per_simulated=wall / result.end_time)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> None:
    """Run every (size, seed) with the defences on and off and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--light-nodes", type=int, nargs="+", default=list(DEFAULT_LIGHT_NODES))
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="simulated seconds of transfers")
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="also run with every defence on but NAME (repeatable): that defence's own cost")
    args = parser.parse_args(argv)
    every_defence = available_defences()
    print(f"defences switched off in the 'off' runs: {', '.join(every_defence)}")
    print(f"default full-stack run (ledger, pos; 4 validators), {args.seconds:g} simulated s of transfers\n")
    measure(SimScenario(seed=0, light_nodes=4, duration=2.0), ())  # warm-up: imports and caches, not measured
    print("| light nodes | seed | defences | final tx/s | latency median s | latency p95 s | packets "
          "| wall s / sim s |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for light_nodes in args.light_nodes:
        for seed in args.seeds:
            scenario = SimScenario(seed=seed, light_nodes=light_nodes, duration=args.seconds)
            builds = [("on", ()), ("off", every_defence), *((f"on but {name}", (name,)) for name in args.without)]
            for label, off in builds:
                figures = measure(scenario, off)
                print(f"| {light_nodes} | {seed} | {label} | {figures.throughput:.2f} | "
                      f"{_seconds(figures.latency_median)} | {_seconds(figures.latency_p95)} | "
                      f"{figures.packets:,} | {figures.wall_per_simulated:.3f} |", flush=True)


if __name__ == "__main__":
    main()
