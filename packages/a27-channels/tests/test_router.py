"""Route finding: amounts and expiries, fee- and risk-awareness, capacity, exclusions, limits, optimality."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx
import pytest

from a27_channels import ChannelGraph, ChannelPolicy, NoRoute, RouteParams, find_route
from a27_channels.testing import graph_from_edges, node_account

HEIGHT = 100


def names(*nodes: str) -> list[bytes]:
    return [node_account(node) for node in nodes]


def test_amounts_and_expiries_are_computed_backwards_from_the_payee() -> None:
    graph, accounts = graph_from_edges([("a", "b"), ("b", "c"), ("c", "d")], policy=ChannelPolicy(10, 2_000, 7))
    route = find_route(graph, accounts["a"], accounts["d"], 50_000, HEIGHT)
    assert [hop.node for hop in route.hops] == names("b", "c", "d")
    assert [hop.amount for hop in route.hops] == [50_000 + 110 + 110, 50_000 + 110, 50_000]
    assert [hop.expiry for hop in route.hops] == [HEIGHT + 12 + 14, HEIGHT + 12 + 7, HEIGHT + 12]
    assert (route.fees, route.delivered, route.destination, route.nodes[0]) == (220, 50_000, accounts["d"],
                                                                              accounts["a"])


def diamond(fee_via_b: int, fee_via_c: int, *, delta_c: int = 10) -> tuple[ChannelGraph, dict[str, bytes]]:
    """a - b - d and a - c - d; b and c charge their own fee for forwarding to d."""
    graph = ChannelGraph()
    a, b, c, d = names("a", "b", "c", "d")
    cheap = ChannelPolicy(0, 0, 10)
    graph.add_channel(b"ab".ljust(32, b"\0"), a, b, 10**6, policy_a=cheap, policy_b=cheap)
    graph.add_channel(b"ac".ljust(32, b"\0"), a, c, 10**6, policy_a=cheap, policy_b=cheap)
    graph.add_channel(b"bd".ljust(32, b"\0"), b, d, 10**6, policy_a=ChannelPolicy(fee_via_b, 0, 10), policy_b=cheap)
    graph.add_channel(b"cd".ljust(32, b"\0"), c, d, 10**6, policy_a=ChannelPolicy(fee_via_c, 0, delta_c),
                      policy_b=cheap)
    return graph, dict(zip("abcd", (a, b, c, d), strict=True))


def test_the_cheaper_route_wins() -> None:
    for fee_b, fee_c, middle in ((5, 9, "b"), (9, 5, "c")):
        graph, nodes = diamond(fee_b, fee_c)
        route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT)
        assert route.hops[0].node == nodes[middle]


def test_with_equal_fees_the_shorter_lock_wins() -> None:
    graph, nodes = diamond(5, 5, delta_c=40)
    route = find_route(graph, nodes["a"], nodes["d"], 500_000, HEIGHT, params=RouteParams(risk_ppm_per_block=10))
    assert route.hops[0].node == nodes["b"]


def test_exclusions_and_known_balances_steer_the_route() -> None:
    graph, nodes = diamond(5, 9)
    route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, exclude_channels=[b"bd".ljust(32, b"\0")])
    assert route.hops[0].node == nodes["c"]
    route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, exclude_nodes=[nodes["b"]])
    assert route.hops[0].node == nodes["c"]
    graph.set_max_sendable(b"bd".ljust(32, b"\0"), nodes["b"], 999)
    assert find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT).hops[0].node == nodes["c"]
    assert find_route(graph, nodes["a"], nodes["d"], 900, HEIGHT).hops[0].node == nodes["b"]


def test_a_hop_that_cannot_carry_the_fees_on_top_is_repaired_around() -> None:
    graph, nodes = diamond(0, 50)
    graph.set_max_sendable(b"ab".ljust(32, b"\0"), nodes["a"], 1_000)
    expensive = ChannelPolicy(100, 0, 10)
    graph.edge(b"bd".ljust(32, b"\0"), nodes["b"]).set_policy(expensive)  # type: ignore[union-attr]
    graph.edge(b"cd".ljust(32, b"\0"), nodes["c"]).set_policy(ChannelPolicy(200, 0, 10))  # type: ignore[union-attr]
    route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT)
    assert route.hops[0].node == nodes["c"]
    assert route.amount == 1_200


def test_disabled_directions_are_not_used_for_forwarding() -> None:
    graph, nodes = diamond(5, 9)
    graph.edge(b"bd".ljust(32, b"\0"), nodes["b"]).set_policy(ChannelPolicy(5, 0, 10, disabled=True))  # type: ignore[union-attr]
    assert find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT).hops[0].node == nodes["c"]


def test_no_route_and_limits() -> None:
    graph, accounts = graph_from_edges([("a", "b"), ("b", "c"), ("c", "d")], capacity=10_000)
    a, d = accounts["a"], accounts["d"]
    for amount in (0, 10_001):
        with pytest.raises(NoRoute):
            find_route(graph, a, d, amount, HEIGHT)
    with pytest.raises(NoRoute):
        find_route(graph, a, a, 10, HEIGHT)
    with pytest.raises(NoRoute):
        find_route(graph, a, node_account("elsewhere"), 10, HEIGHT)
    with pytest.raises(NoRoute):
        find_route(graph, a, d, 10, HEIGHT, exclude_nodes=[accounts["c"]])
    for params in (RouteParams(max_hops=2), RouteParams(max_total_expiry_delta=20), RouteParams(max_fee=1)):
        with pytest.raises(NoRoute):
            find_route(graph, a, d, 5_000, HEIGHT, params=params)


@pytest.mark.parametrize("seed", range(5))
def test_the_route_is_as_cheap_as_dijkstra_finds(seed: int) -> None:
    edges = list(nx.barabasi_albert_graph(300, 2, seed=random.Random(seed)).edges())
    graph, accounts = graph_from_edges(edges, capacity=10**7, seed=seed)
    amount, risk = 40_000, 3
    reference = nx.DiGraph()
    for channel_id, node_a, node_b, _ in graph.channels():
        for source, target in ((node_a, node_b), (node_b, node_a)):
            edge = graph.edge(channel_id, source)
            assert edge is not None
            if edge.can_carry(amount):
                reference.add_edge(source, target, edge=edge)
    rng = random.Random(seed)
    for _ in range(20):
        source, target = (accounts[node] for node in rng.sample(range(300), 2))

        def cost(u: bytes, _v: bytes, data: dict[str, Any], source: bytes = source) -> int:
            edge = data["edge"]
            if u == source:
                return 1
            return 1 + edge.fee(amount) + edge.expiry_delta * amount * risk // 1_000_000

        expected = nx.dijkstra_path_length(reference, source, target, weight=cost)
        route = find_route(graph, source, target, amount, HEIGHT, params=RouteParams(risk_ppm_per_block=risk))
        hops = list(zip(route.nodes, route.nodes[1:], strict=False))
        found = sum(cost(u, v, reference.edges[u, v]) for u, v in hops)
        assert found == expected


def test_local_balances_limit_the_first_hop_exactly() -> None:
    graph, nodes = diamond(5, 9)
    ab, ac = b"ab".ljust(32, b"\0"), b"ac".ljust(32, b"\0")
    route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, local_balances={ab: 999, ac: 10**6})
    assert route.hops[0].channel_id == ac
    # 1 004 fits the amount but not the amount plus b's fee of 5.
    route = find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, local_balances={ab: 1_004, ac: 10**6})
    assert route.hops[0].channel_id == ac
    assert find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, local_balances={ab: 1_005}).amount == 1_005
    with pytest.raises(NoRoute):
        find_route(graph, nodes["a"], nodes["d"], 1_000, HEIGHT, local_balances={ab: 10, ac: 10})
