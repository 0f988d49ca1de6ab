"""
Transactions per second through the whole PoS pipeline on the full stack, and finality latency.

Every node is an IPv8 PosCommunity on the a27-netsim simulator: light nodes submit transfers to validators'
mempools, validators decide blocks, every node applies the final blocks. Throughput counts transfers final on
every node per simulated second; latency runs from submission until the sender applied the final block.
Wall time per simulated second is printed beside a baseline measured in the same run: the same network with
the ledger layer alone (Lab 1, no blocks), so the ratio shows what consensus costs.

Run: python sim-harness/benchmarks/pos_pipeline.py [--validators 4 20] [--seconds 60] [--latency regions]
"""

from __future__ import annotations

import argparse
import sys
import time

from a27_harness import SimScenario, run_lab1
from a27_harness.labs.common import latency_summary
from a27_harness.labs.lab2 import run_lab2


def measure(validators: int, light_nodes: int, seconds: float, latency: str, interval: float) -> dict[str, float]:
    """One PoS run and one Lab 1 baseline run of the same shape; figures of both."""
    shape = {"validators": validators, "light_nodes": light_nodes, "duration": seconds, "latency": latency,
             "transfer_interval": interval, "overdraft_probability": 0.0, "seed": 1}
    started = time.perf_counter()
    pos = run_lab2(SimScenario(**shape))
    pos_wall = time.perf_counter() - started
    started = time.perf_counter()
    baseline = run_lab1(SimScenario(layers="ledger", **shape))
    baseline_wall = time.perf_counter() - started
    final = [record.latency for record in pos.transfers if record.latency is not None]
    blocks = [block.finality for block in pos.blocks if block.finality is not None]
    return {
        "agreed": float(pos.agreed and baseline.agreed),
        "final_tps": len(final) / seconds,
        "latency_p50": latency_summary(final).get("median", float("nan")),
        "latency_p95": latency_summary(final).get("p95", float("nan")),
        "block_finality_p50": latency_summary(blocks).get("median", float("nan")),
        "blocks": float(len(pos.blocks)),
        "wall_per_sim_s": pos_wall / pos.end_time,
        "baseline_wall_per_sim_s": baseline_wall / baseline.end_time,
    }


def main() -> None:
    """Parse options, run each shape, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validators", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--light-nodes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency", default="regions")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="mean seconds between a light node's transfers (each waits for finality first)")
    arguments = parser.parse_args()
    print(f"{arguments.light_nodes} light nodes, {arguments.seconds:g} simulated s, latency {arguments.latency}")
    print(f"{'validators':>10} {'final tx/s':>10} {'latency p50':>11} {'p95':>6} {'block finality':>14} "
          f"{'blocks':>6} {'wall/sim s':>10} {'Lab 1 wall/sim s':>16} {'ratio':>6}")
    for validators in arguments.validators:
        print(f"  running {validators} validators ...", file=sys.stderr)
        figures = measure(validators, arguments.light_nodes, arguments.seconds, arguments.latency,
                          arguments.interval)
        ratio = figures["wall_per_sim_s"] / figures["baseline_wall_per_sim_s"]
        agreed = "" if figures["agreed"] else "  (NODES DISAGREE)"
        print(f"{validators:>10} {figures['final_tps']:>10.1f} {figures['latency_p50']:>10.2f}s "
              f"{figures['latency_p95']:>5.2f}s {figures['block_finality_p50']:>13.2f}s {figures['blocks']:>6.0f} "
              f"{figures['wall_per_sim_s']:>10.3f} {figures['baseline_wall_per_sim_s']:>16.3f} {ratio:>6.1f}"
              f"{agreed}")


if __name__ == "__main__":
    main()
