"""Route finding over the channel graph: capacity- and fee-aware, with a risk term for long expiries.

The search is bidirectional Dijkstra (DESIGN.md explains why not a one-sided backwards search): hop costs are
evaluated at the payment amount, then the exact amounts and expiries are computed backwards from the payee along the
chosen path and checked against every hop; a hop that cannot carry its exact amount is excluded and the search runs
again.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping

import attrs

from a27_channels.errors import NoRoute
from a27_channels.graph import ChannelGraph, Edge

_REPAIRS = 8
"""Searches a route may take when exact amounts exceed a hop's capacity (each excludes that hop)."""


@attrs.frozen
class RouteParams:
    """What a payer asks of a route."""

    final_expiry_delta: int = 12
    """Blocks from now until the payee's HTLC expires."""
    max_total_expiry_delta: int = 500
    """Blocks the payer's own HTLC may be locked for at most."""
    max_hops: int = 20
    risk_ppm_per_block: int = 1
    """Cost, in millionths of the amount per block, of funds locked in an HTLC (LND's risk factor)."""
    max_fee: int | None = None
    """Most the payer pays in fees; None: no limit."""


DEFAULT_ROUTE_PARAMS = RouteParams()


@attrs.frozen
class RouteHop:
    """One HTLC of a route: on `channel_id`, to `node`, of `amount`, expiring at height `expiry`."""

    channel_id: bytes
    node: bytes
    amount: int
    expiry: int


@attrs.frozen
class Route:
    """The HTLCs a payment takes, from the payer's first channel to the payee's."""

    source: bytes
    hops: tuple[RouteHop, ...]

    @property
    def destination(self) -> bytes:
        """The payee."""
        return self.hops[-1].node

    @property
    def amount(self) -> int:
        """What the payer sends: the first HTLC."""
        return self.hops[0].amount

    @property
    def delivered(self) -> int:
        """What the payee receives: the last HTLC."""
        return self.hops[-1].amount

    @property
    def fees(self) -> int:
        """What the forwarding nodes keep."""
        return self.amount - self.delivered

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """Every node on the route, payer first."""
        return (self.source, *(hop.node for hop in self.hops))


def find_route(graph: ChannelGraph, source: bytes, destination: bytes, amount: int, height: int, *,
               params: RouteParams = DEFAULT_ROUTE_PARAMS, exclude_channels: Collection[bytes] = (),
               exclude_nodes: Collection[bytes] = (), local_balances: Mapping[bytes, int] | None = None) -> Route:
    """The cheapest usable route delivering `amount` to `destination` (fees, risk, one unit per hop).

    `height` is the current block height (expiries are absolute). `local_balances` are what the source can spend on
    each of its own channels, by channel id: the one balance a node knows exactly (kept out of the graph, so that
    simulations may share one graph between nodes). Raises NoRoute when there is none, or when the cheapest one
    breaks `params` (hops, total expiry delta, fee limit).
    """
    if amount <= 0:
        raise NoRoute("the amount must be positive")
    start, goal = graph.node_number(source), graph.node_number(destination)
    if start is None or goal is None:
        raise NoRoute("the payer or the payee has no channel")
    if start == goal:
        raise NoRoute("the payer is the payee")
    excluded_channels = set(exclude_channels)
    local = {} if local_balances is None else local_balances
    # An own channel that cannot carry even the amount is no start; the first hop's exact amount (the amount plus
    # every fee) is checked once a route is built.
    excluded_channels.update(channel_id for channel_id, balance in local.items() if balance < amount)
    excluded_nodes = {number for node in exclude_nodes if (number := graph.node_number(node)) is not None}
    excluded_nodes.discard(start)
    excluded_nodes.discard(goal)
    for _ in range(_REPAIRS):
        path = _search(graph, start, goal, amount, risk_ppm=params.risk_ppm_per_block,
                       excluded_channels=excluded_channels, excluded_nodes=excluded_nodes)
        if path is None:
            raise NoRoute(f"no route to {destination.hex()[:8]} for {amount}")
        route, overloaded = _build(graph, source, path, amount, height=height, params=params)
        first = route.hops[0]
        if overloaded is None and first.amount > local.get(first.channel_id, first.amount):
            overloaded = first.channel_id
        if overloaded is None:
            return route
        excluded_channels.add(overloaded)
    raise NoRoute(f"no route to {destination.hex()[:8]} for {amount} after {_REPAIRS} repairs")


def _build(graph: ChannelGraph, source: bytes, path: list[Edge], amount: int, *, height: int,
           params: RouteParams) -> tuple[Route, bytes | None]:
    """Amounts and expiries backwards from the payee; the route and the first hop that cannot carry its amount."""
    if len(path) > params.max_hops:
        raise NoRoute(f"the cheapest route has {len(path)} hops, more than {params.max_hops}")
    hops: list[RouteHop] = []
    forwarded, expiry = amount, height + params.final_expiry_delta
    overloaded = None
    for index in range(len(path) - 1, -1, -1):
        edge = path[index]
        if overloaded is None and not edge.can_carry(forwarded):
            overloaded = edge.channel_id
        hops.append(RouteHop(edge.channel_id, graph.nodes[edge.target], forwarded, expiry))
        if index:
            forwarded += edge.fee(forwarded)
            expiry += edge.expiry_delta
    route = Route(source, tuple(reversed(hops)))
    if expiry - height > params.max_total_expiry_delta:
        raise NoRoute(f"the cheapest route locks funds for {expiry - height} blocks, more than "
                      f"{params.max_total_expiry_delta}")
    if params.max_fee is not None and route.fees > params.max_fee:
        raise NoRoute(f"the cheapest route costs {route.fees} in fees, more than {params.max_fee}")
    return route, overloaded


def _search(graph: ChannelGraph, start: int, goal: int, amount: int, *, risk_ppm: int,
            excluded_channels: set[bytes], excluded_nodes: set[int]) -> list[Edge] | None:
    """Bidirectional Dijkstra from `start` (over outgoing edges) and `goal` (over incoming edges)."""
    outgoing, incoming = graph.outgoing, graph.incoming
    risk = amount * risk_ppm

    def cost(edge: Edge) -> int:
        if edge.source == start:
            return 1
        return 1 + edge.fee_base + amount * edge.fee_ppm // 1_000_000 + edge.expiry_delta * risk // 1_000_000

    def usable(edge: Edge, other: int) -> bool:
        return (not (edge.disabled and edge.source != start) and other not in excluded_nodes
                and edge.channel_id not in excluded_channels and edge.can_carry(amount))

    forward_distance = {start: 0}
    backward_distance = {goal: 0}
    forward_via: dict[int, Edge] = {}
    backward_via: dict[int, Edge] = {}
    forward_done: set[int] = set()
    backward_done: set[int] = set()
    forward_heap = [(0, start)]
    backward_heap = [(0, goal)]
    best = None
    meeting = -1
    while forward_heap and backward_heap:
        if best is not None and forward_heap[0][0] + backward_heap[0][0] >= best:
            break
        if len(forward_heap) <= len(backward_heap):
            distance, node = heapq.heappop(forward_heap)
            if node in forward_done:
                continue
            forward_done.add(node)
            for edge in outgoing[node]:
                target = edge.target
                if target in forward_done or not usable(edge, target):
                    continue
                reached = distance + cost(edge)
                if reached < forward_distance.get(target, reached + 1):
                    forward_distance[target] = reached
                    forward_via[target] = edge
                    heapq.heappush(forward_heap, (reached, target))
                    other = backward_distance.get(target)
                    if other is not None and (best is None or reached + other < best):
                        best, meeting = reached + other, target
        else:
            distance, node = heapq.heappop(backward_heap)
            if node in backward_done:
                continue
            backward_done.add(node)
            for edge in incoming[node]:
                source = edge.source
                if source in backward_done or not usable(edge, source):
                    continue
                reached = distance + cost(edge)
                if reached < backward_distance.get(source, reached + 1):
                    backward_distance[source] = reached
                    backward_via[source] = edge
                    heapq.heappush(backward_heap, (reached, source))
                    other = forward_distance.get(source)
                    if other is not None and (best is None or reached + other < best):
                        best, meeting = reached + other, source
    if best is None:
        return None
    path: list[Edge] = []
    node = meeting
    while node != start:
        edge = forward_via[node]
        path.append(edge)
        node = edge.source
    path.reverse()
    node = meeting
    while node != goal:
        edge = backward_via[node]
        path.append(edge)
        node = edge.target
    return path
