"""
Route finding time on a 10 000-node Barabasi-Albert channel graph, beside networkx on the same graph and costs.

The graph has one channel per edge of ``networkx.barabasi_albert_graph(n, m)`` with seeded random capacities and
per-direction policies (`testing.graph_from_edges`). Each query asks for a route between two random nodes for a fixed
amount. Baselines, measured in the same run on the same pairs: networkx's bidirectional Dijkstra over a DiGraph
holding the same edge costs (a Python callable per edge, as `find_route` evaluates them), and networkx's unweighted
bidirectional breadth-first search (hop count only: a floor for any search in pure Python).

    python benchmarks/route_finding.py [--nodes 10000] [--m 3] [--queries 500] [--amount 50000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import networkx as nx

from a27_channels import NoRoute, RouteParams, find_route
from a27_channels.testing import graph_from_edges


def summary(times: list[float]) -> str:
    """Mean, median and 95th percentile in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.mean(times) * 1e3:8.2f} | {statistics.median(times) * 1e3:8.2f} | {p95 * 1e3:8.2f}"


def timed(function: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    """Build the graph, run the queries, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--m", type=int, default=3)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--amount", type=int, default=50_000)
    args = parser.parse_args()
    shape = nx.barabasi_albert_graph(args.nodes, args.m, seed=random.Random(2027))
    started = time.perf_counter()
    graph, accounts = graph_from_edges(shape.edges(), capacity=10_000_000, seed=2027)
    built = time.perf_counter() - started
    params = RouteParams()
    amount, risk = args.amount, params.risk_ppm_per_block
    reference = nx.DiGraph()
    for channel_id, node_a, node_b, _ in graph.channels():
        for source, target in ((node_a, node_b), (node_b, node_a)):
            edge = graph.edge(channel_id, source)
            assert edge is not None
            if edge.can_carry(amount):
                reference.add_edge(source, target, edge=edge)
    rng = random.Random(7)
    pairs = [tuple(accounts[node] for node in rng.sample(range(args.nodes), 2)) for _ in range(args.queries)]

    ours, dijkstra, bfs = [], [], []
    failures = 0
    for source, target in pairs:

        def cost(u: bytes, _v: bytes, data: dict[str, Any], source: bytes = source) -> int:
            edge = data["edge"]
            if u == source:
                return 1
            return 1 + edge.fee(amount) + edge.expiry_delta * amount * risk // 1_000_000

        def search(source: bytes = source, target: bytes = target) -> None:
            nonlocal failures
            try:
                find_route(graph, source, target, amount, 1_000, params=params)
            except NoRoute:
                failures += 1

        def weighted(source: bytes = source, target: bytes = target, cost: Callable[..., int] = cost) -> None:
            nx.bidirectional_dijkstra(reference, source, target, cost)

        def hops(source: bytes = source, target: bytes = target) -> None:
            nx.bidirectional_shortest_path(reference, source, target)

        ours.append(timed(search))
        dijkstra.append(timed(weighted))
        bfs.append(timed(hops))
    print(f"Barabasi-Albert n={args.nodes}, m={args.m}: {len(graph)} channels, built in {built:.1f} s; "
          f"{args.queries} routes for {amount}, {failures} without a route")
    print("| search | mean ms | median ms | p95 ms |")
    print("|---|---:|---:|---:|")
    print(f"| find_route (bidirectional Dijkstra, exact amounts and checks) | {summary(ours)} |")
    print(f"| networkx bidirectional_dijkstra, same costs | {summary(dijkstra)} |")
    print(f"| networkx bidirectional_shortest_path (hops only) | {summary(bfs)} |")


if __name__ == "__main__":
    main()
