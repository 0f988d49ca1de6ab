"""Lab 3 in one page: the same random payments over four channel topologies, and what becomes of them.

Each node opens a channel (both sides deposit 50 000) along every edge of the shape, on a PoS chain in memory; then
80 payments between random pairs are routed, and the outcomes are counted.
"""

from __future__ import annotations

import random
from collections import Counter

import networkx as nx

from a27_channels import ChannelNetwork, PaymentFailed, PaymentSucceeded

NODES = 12
SHAPES = {
    "complete": nx.complete_graph(NODES),
    "barabasi-albert (m=2)": nx.barabasi_albert_graph(NODES, 2, seed=random.Random(3)),
    "one bottleneck": nx.barbell_graph(6, 0),
    "several bottlenecks": nx.connected_caveman_graph(4, 3),
}


def run(shape: nx.Graph, seed: int = 2027) -> tuple[int, Counter[str], float, int]:
    """Open the shape's channels, route the payments; (channels, outcomes, mean hops, fees paid)."""
    network = ChannelNetwork(NODES, seed=seed)
    network.open_edges(shape.edges(), 50_000)
    rng = random.Random(seed)
    for _ in range(80):
        payer, payee = rng.sample(range(NODES), 2)
        network.pay(payer, payee, rng.randint(1_000, 30_000))
    outcomes: Counter[str] = Counter()
    hops, fees = [], 0
    for _, event in network.events:
        if isinstance(event, PaymentSucceeded) and event.route is not None:
            outcomes["settled"] += 1
            hops.append(len(event.route.hops))
            fees += event.route.fees
        elif isinstance(event, PaymentFailed):
            outcomes[event.failure.cause.label] += 1
    network.chain.check_invariants()
    return shape.number_of_edges(), outcomes, sum(hops) / max(len(hops), 1), fees


def main() -> None:
    """Print one line per topology."""
    print(f"{'topology':24} {'channels':>8} {'settled':>7} {'hops':>5} {'fees':>6}  failures")
    for name, shape in SHAPES.items():
        channels, outcomes, hops, fees = run(shape)
        failures = ", ".join(f"{cause} {count}" for cause, count in sorted(outcomes.items()) if cause != "settled")
        print(f"{name:24} {channels:8} {outcomes['settled']:7} {hops:5.2f} {fees:6}  {failures or '-'}")


if __name__ == "__main__":
    main()
