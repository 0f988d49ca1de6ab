"""
Topologies: who knows whom. Each is a ``networkx.Graph`` on the integer nodes ``0..n-1``, built from a seed.

Graph node ``i`` stands for the ``i``-th node of a simulation; :func:`a27_netsim.simulation.introduce` turns edges
into IPv8 peer introductions.
"""

from __future__ import annotations

import random
from typing import Any

import networkx as nx


class TopologyError(ValueError):
    """A topology was asked for with impossible parameters or an unknown name."""


INNER_SHAPES = ("ba", "complete")
"""How the inside of a cluster is wired: Barabasi-Albert (``ba``) or every pair linked (``complete``)."""


def complete(n: int) -> nx.Graph:
    """Every node linked to every other: ``n * (n - 1) / 2`` edges."""
    _require(n >= 1, f"n must be at least 1, got {n}")
    return nx.complete_graph(n)


def barabasi_albert(n: int, m: int, seed: int) -> nx.Graph:
    """A scale-free graph: each new node links to ``m`` existing nodes chosen by preferential attachment."""
    _require(1 <= m < n, f"Barabasi-Albert needs 1 <= m < n, got m={m}, n={n}")
    return nx.barabasi_albert_graph(n, m, seed=random.Random(seed))


def bottlenecks(n: int, clusters: int, seed: int, *, inner: str = "ba", m: int = 3, bridge_degree: int = 2) -> nx.Graph:
    """
    A chain of ``clusters`` clusters in which consecutive clusters meet only through a single bridge node.

    Layout, in node numbers: cluster 0, bridge 0, cluster 1, bridge 1, ..., cluster ``clusters - 1``. The
    ``n - (clusters - 1)`` cluster members are shared out as evenly as possible, earlier clusters taking the
    remainder. Inside a cluster the wiring is ``inner``: Barabasi-Albert with ``m`` links per new node (each cluster
    needs more than ``m`` members) or complete. Bridge ``k`` links to ``bridge_degree`` seeded-random members of
    cluster ``k`` and as many of cluster ``k + 1``, so removing it disconnects the two.

    The graph records its shape: ``graph.graph["clusters"]`` (lists of members), ``graph.graph["bridges"]``, and
    each node's attribute ``"cluster"`` (its cluster number, or ``None`` for a bridge).
    """
    _require(clusters >= 1, f"clusters must be at least 1, got {clusters}")
    _require(inner in INNER_SHAPES, f"inner must be one of {INNER_SHAPES}, got {inner!r}")
    _require(bridge_degree >= 1, f"bridge_degree must be at least 1, got {bridge_degree}")
    members = n - (clusters - 1)
    smallest = members // clusters if members > 0 else 0
    needed = m + 1 if inner == "ba" else 1
    _require(
        smallest >= max(needed, bridge_degree),
        f"n={n} leaves clusters of {smallest} node(s); {clusters} cluster(s) of at least "
        f"{max(needed, bridge_degree)} are needed for inner={inner!r}, m={m}, bridge_degree={bridge_degree}",
    )
    rng = random.Random(seed)
    sizes = [members // clusters + (1 if k < members % clusters else 0) for k in range(clusters)]
    graph = nx.Graph()
    cluster_members: list[list[int]] = []
    bridges: list[int] = []
    next_node = 0
    for k, size in enumerate(sizes):
        nodes = list(range(next_node, next_node + size))
        inside = nx.complete_graph(size) if inner == "complete" else nx.barabasi_albert_graph(size, m, seed=rng)
        graph.add_nodes_from(nodes, cluster=k)
        graph.add_edges_from((nodes[u], nodes[v]) for u, v in inside.edges())
        cluster_members.append(nodes)
        next_node += size
        if k < clusters - 1:
            bridges.append(next_node)
            graph.add_node(next_node, cluster=None)
            next_node += 1
    for k, bridge in enumerate(bridges):
        for side in (cluster_members[k], cluster_members[k + 1]):
            graph.add_edges_from((bridge, member) for member in sorted(rng.sample(side, bridge_degree)))
    graph.graph["clusters"] = cluster_members
    graph.graph["bridges"] = bridges
    return graph


def bottleneck(n: int, seed: int, *, inner: str = "ba", m: int = 3, bridge_degree: int = 2) -> nx.Graph:
    """Two clusters joined only through one bridge node; :func:`bottlenecks` with two clusters (same layout)."""
    return bottlenecks(n, 2, seed, inner=inner, m=m, bridge_degree=bridge_degree)


def bridge_nodes(graph: nx.Graph) -> list[int]:
    """Return the articulation points of ``graph`` (nodes whose removal disconnects it), sorted."""
    return sorted(nx.articulation_points(graph))


def topology_by_name(name: str, n: int, seed: int, **params: Any) -> nx.Graph:
    """
    Build a topology from its command-line name: ``complete``, ``ba``, ``bottleneck`` or ``bottlenecks``.

    ``params`` go to the builder: ``m`` for ``ba`` (default 3); ``inner``, ``m``, ``bridge_degree`` for the
    bottleneck shapes, plus ``clusters`` (default 3) for ``bottlenecks``.
    """
    try:
        if name == "complete":
            return complete(n, **params)
        if name == "ba":
            return barabasi_albert(n, params.pop("m", 3), seed, **params)
        if name == "bottleneck":
            return bottleneck(n, seed, **params)
        if name == "bottlenecks":
            return bottlenecks(n, params.pop("clusters", 3), seed, **params)
    except TypeError as exc:
        raise TopologyError(f"topology {name!r}: {exc}") from None
    raise TopologyError(f"unknown topology {name!r}; use complete, ba, bottleneck or bottlenecks")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise TopologyError(message)
