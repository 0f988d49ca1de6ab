"""The fixtures: graphs from networkx shapes, signing helpers."""

from __future__ import annotations

import random

import networkx as nx

from a27_channels import NoRoute, find_route
from a27_channels.testing import graph_from_edges, node_account, sign_channel_open
from a27_ledger import KeyPair


def test_graphs_from_networkx_shapes() -> None:
    complete, accounts = graph_from_edges(nx.complete_graph(6).edges())
    assert (len(complete), len(accounts)) == (15, 6)
    scale_free, _ = graph_from_edges(nx.barabasi_albert_graph(200, 3, seed=random.Random(1)).edges(), seed=1)
    assert len(scale_free) == 3 * 197
    again, _ = graph_from_edges(nx.barabasi_albert_graph(200, 3, seed=random.Random(1)).edges(), seed=1)
    assert [edge.fee_ppm for edges in scale_free.outgoing for edge in edges] == \
        [edge.fee_ppm for edges in again.outgoing for edge in edges]


def test_a_bottleneck_carries_every_route_between_its_clusters() -> None:
    left, right = nx.complete_graph(5), nx.relabel_nodes(nx.complete_graph(5), lambda node: node + 6)
    shape = nx.union(left, right)
    shape.add_edges_from([(5, 0), (5, 1), (5, 6), (5, 7)])
    graph, accounts = graph_from_edges(shape.edges(), capacity=10_000)
    for source in range(5):
        for target in range(6, 11):
            route = find_route(graph, accounts[source], accounts[target], 1_000, 0)
            assert accounts[5] in route.nodes
    graph.remove_channel(next(channel_id for channel_id, a, b, _ in graph.channels() if {a, b} == {
        accounts[5], accounts[6]}))
    graph.remove_channel(next(channel_id for channel_id, a, b, _ in graph.channels() if {a, b} == {
        accounts[5], accounts[7]}))
    try:
        find_route(graph, accounts[0], accounts[8], 1_000, 0)
    except NoRoute:
        pass
    else:
        raise AssertionError("the clusters should be cut apart")


def test_given_accounts_are_used() -> None:
    graph, accounts = graph_from_edges([("x", "y")], accounts={"x": b"x" * 32, "y": b"y" * 32})
    assert accounts == {"x": b"x" * 32, "y": b"y" * 32}
    assert graph.neighbours(b"x" * 32) == [b"y" * 32]
    assert node_account("x") != node_account("y")


def test_sign_channel_open_builds_a_consented_open() -> None:
    alice, bob = KeyPair.from_seed(bytes([1]) * 32), KeyPair.from_seed(bytes([2]) * 32)
    transaction, terms = sign_channel_open(alice, bob, 10, 20, nonce=3, salt=9)
    assert transaction.verify_signature() and transaction.nonce == 3
    assert terms.verify_funding_signature(transaction.body.signature_b)  # type: ignore[attr-defined]
