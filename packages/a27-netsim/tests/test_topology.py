"""Topologies: shapes, determinism, bridges."""

from __future__ import annotations

import networkx as nx
import pytest

from a27_netsim import (
    TopologyError,
    barabasi_albert,
    bottleneck,
    bottlenecks,
    bridge_nodes,
    complete,
    topology_by_name,
)


def test_complete_graph() -> None:
    graph = complete(10)
    assert sorted(graph.nodes) == list(range(10))
    assert graph.number_of_edges() == 45
    assert bridge_nodes(graph) == []


def test_barabasi_albert_shape_and_determinism() -> None:
    graph = barabasi_albert(100, 3, seed=1)
    assert sorted(graph.nodes) == list(range(100))
    assert graph.number_of_edges() == 3 * (100 - 3)
    assert nx.is_connected(graph)
    assert sorted(graph.edges) == sorted(barabasi_albert(100, 3, seed=1).edges)
    assert sorted(graph.edges) != sorted(barabasi_albert(100, 3, seed=2).edges)


@pytest.mark.parametrize("inner", ["ba", "complete"])
def test_bottleneck_clusters_meet_only_through_the_bridge(inner: str) -> None:
    graph = bottleneck(41, seed=4, inner=inner, m=2)
    left, right = graph.graph["clusters"]
    (bridge,) = graph.graph["bridges"]
    assert (len(left), len(right), bridge) == (20, 20, 20)
    assert sorted(graph.nodes) == list(range(41))
    assert nx.is_connected(graph)
    assert bridge in bridge_nodes(graph)
    assert graph.nodes[bridge]["cluster"] is None
    assert {graph.nodes[node]["cluster"] for node in left} == {0}
    cut = graph.copy()
    cut.remove_node(bridge)
    components = sorted(sorted(component) for component in nx.connected_components(cut))
    assert components == [left, right]
    assert graph.degree(bridge) == 4


def test_bottlenecks_form_a_chain() -> None:
    graph = bottlenecks(50, 4, seed=8, m=2, bridge_degree=1)
    clusters, bridges = graph.graph["clusters"], graph.graph["bridges"]
    assert [len(cluster) for cluster in clusters] == [12, 12, 12, 11]
    assert len(bridges) == 3
    assert sorted(graph.nodes) == list(range(50))
    assert nx.is_connected(graph)
    assert set(bridges) <= set(bridge_nodes(graph))
    for k, bridge in enumerate(bridges):
        neighbours = set(graph.neighbors(bridge))
        assert neighbours <= set(clusters[k]) | set(clusters[k + 1])
        assert neighbours & set(clusters[k])
        assert neighbours & set(clusters[k + 1])
        cut = graph.copy()
        cut.remove_node(bridge)
        assert not nx.has_path(cut, clusters[k][0], clusters[k + 1][0])
    assert sorted(graph.edges) == sorted(bottlenecks(50, 4, seed=8, m=2, bridge_degree=1).edges)


def test_topology_by_name() -> None:
    assert topology_by_name("complete", 5, seed=0).number_of_edges() == 10
    assert topology_by_name("ba", 20, seed=0, m=2).number_of_edges() == 2 * 18
    assert len(topology_by_name("bottleneck", 21, seed=0, m=2).graph["bridges"]) == 1
    assert len(topology_by_name("bottlenecks", 32, seed=0, m=2).graph["bridges"]) == 2
    assert len(topology_by_name("bottlenecks", 32, seed=0, clusters=4, m=2).graph["bridges"]) == 3


@pytest.mark.parametrize(
    ("name", "n", "params"),
    [
        ("ring", 5, {}),
        ("ba", 3, {"m": 3}),
        ("bottleneck", 5, {}),
        ("bottlenecks", 30, {"clusters": 0}),
        ("bottleneck", 30, {"inner": "star"}),
        ("complete", 0, {}),
        ("complete", 5, {"m": 2}),
        ("bottleneck", 30, {"bridge_degree": 0}),
    ],
)
def test_impossible_topologies_are_rejected(name: str, n: int, params: dict[str, object]) -> None:
    with pytest.raises(TopologyError):
        topology_by_name(name, n, seed=0, **params)
