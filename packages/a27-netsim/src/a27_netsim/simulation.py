"""A simulation context (loop, network, seeded streams) and peer introduction along a topology."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ipv8.peer import Peer

from .endpoint import SimulatedEndpoint
from .latency import LatencyModel
from .loop import DiscreteEventLoop
from .network import SimulatedNetwork
from .random_streams import SeedStreams, derive_seed, seed_global_random
from .topology import TopologyError

if TYPE_CHECKING:
    import networkx as nx
    from ipv8.community import Community
    from ipv8.keyvault.keys import Key
    from ipv8.messaging.interfaces.udp.endpoint import Address
    from ipv8.peerdiscovery.network import Network

_T = TypeVar("_T")


def _current_event_loop() -> asyncio.AbstractEventLoop | None:
    # asyncio.get_event_loop() may create a selector loop (with a socket pair) or warn when none is set; the default
    # policy keeps the current loop in a thread-local, which is all there is to read.
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    return getattr(local, "_loop", None)


class Simulation:
    """
    One seeded simulation: a :class:`DiscreteEventLoop`, a :class:`SimulatedNetwork` on it, and its streams.

    Use it as a context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        seed: int,
        latency: LatencyModel | None = None,
        loss: float = 0.0,
        trace: bool = False,
        strict: bool = True,
    ) -> None:
        """Create the loop and the network; ``latency`` defaults to a constant 1 ms."""
        self.seed = seed
        self.loop = DiscreteEventLoop(strict=strict)
        self.network = SimulatedNetwork(seed, latency=latency, loss=loss, loop=self.loop, trace=trace)
        self.streams: SeedStreams = self.network.streams
        self._runs = 0

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """
        Run ``coro`` to completion in virtual time and return its result.

        While it runs the loop is the current event loop and Python's global ``random`` is seeded from the seed (and
        the number of earlier runs, so that consecutive runs do not repeat draws). The previous current loop is
        restored afterwards; the loop itself stays open for further runs.
        """
        previous = _current_event_loop()
        asyncio.set_event_loop(self.loop)
        seed_global_random(derive_seed(self.seed, f"run {self._runs}"))
        self._runs += 1
        try:
            return self.loop.run_until_complete(coro)
        finally:
            asyncio.set_event_loop(previous)

    def close(self) -> None:
        """Cancel the tasks still pending, let them finish in virtual time, and close the loop."""
        if self.loop.is_closed():
            return
        try:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(_gather_quietly(pending))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def __enter__(self) -> Simulation:
        """Return the simulation itself."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close the simulation."""
        self.close()


async def _gather_quietly(tasks: list[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class Member(NamedTuple):
    """One node as :func:`introduce_members` sees it: its IPv8 ``Network``, identity, address and communities."""

    network: Network
    """The IPv8 ``Network`` the node's overlays share (each learned peer is added here once)."""
    public_key: Key
    """The node's public key (one key object, shared by every ``Peer`` made for it)."""
    address: Address
    """The address the others reach it at."""
    community_ids: Sequence[bytes]
    """The communities it offers, as ``discover_services`` takes them."""


def introduce_members(members: Sequence[Member], links: Sequence[Sequence[int]]) -> None:
    """
    Make each member know the members ``links[i]`` names as verified peers, as if their introductions had completed.

    Member ``i`` learns member ``j`` for each ``j`` in ``links[i]``, in that order (which is the order IPv8's
    ``get_peers`` returns them in); ``i`` itself is skipped. Each learned peer offers the other member's communities.
    IPv8's ``Network`` looks up the sender of every packet in a cache of 500 addresses and scans all its peers on a
    miss (and ``Peer.addresses`` on every hit it refreshes); the cache is grown to hold, and filled with, every
    introduced peer, so a node with more than 500 peers pays no scan per packet.

    :raises TopologyError: when ``links`` does not have one entry per member or names a member outside the list.
    """
    count = len(members)
    if len(links) != count:
        raise TopologyError(f"{len(links)} link lists for {count} members")
    key_bins = [member.public_key.key_to_bin() for member in members]
    # Introductions create n * degree long-lived objects; with the collector on, it rescans the growing heap again
    # and again, which slows a large introduction down by a quarter.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for i, member in enumerate(members):
            network = member.network
            for j in links[i]:
                if not 0 <= j < count:
                    raise TopologyError(f"member {i} is linked to {j}, outside 0..{count - 1}")
                if j == i:
                    continue
                other = members[j]
                # A Peer holds what one node observed of another (last response, pings): each node gets its own.
                peer = Peer(other.public_key, other.address)
                network.add_verified_peer(peer)
                network.discover_services(peer, list(other.community_ids))
                known = network.verified_by_public_key_bin.get(key_bins[j])
                if known is not None:
                    network.reverse_ip_lookup[other.address] = known
            network.reverse_ip_cache_size = max(network.reverse_ip_cache_size, len(network.reverse_ip_lookup))
    finally:
        if collecting:
            gc.enable()


def introduce(overlays: Sequence[Community], graph: nx.Graph | None = None) -> None:
    """
    Make overlays know each other as verified peers, as if their introductions had completed.

    Without ``graph`` every overlay learns every other; with it, overlay ``i`` learns overlay ``j`` only when ``(i, j)``
    is an edge (graph nodes are indices into ``overlays``). Each learned peer is added to the overlay's ``network`` as
    a verified peer offering the other overlay's community (see :func:`introduce_members`, which also sizes IPv8's
    address cache). Overlays on a :class:`SimulatedEndpoint` also learn their own address (IPv8 would otherwise guess
    it from the real machine's interfaces).
    """
    count = len(overlays)
    addresses = [overlay.endpoint.get_address() for overlay in overlays]
    for overlay, address in zip(overlays, addresses, strict=True):
        if isinstance(overlay.endpoint, SimulatedEndpoint):
            overlay.my_estimated_lan = overlay.endpoint.lan_address
            overlay.my_estimated_wan = overlay.endpoint.wan_address
            overlay.my_peer.address = address
    if graph is None:
        links: list[list[int]] = [[j for j in range(count) if j != i] for i in range(count)]
    else:
        links = [[] for _ in range(count)]
        for u, v in sorted(graph.edges()):
            if not (0 <= u < count and 0 <= v < count):
                raise TopologyError(f"graph edge ({u}, {v}) names a node outside 0..{count - 1}")
            if u != v:
                links[u].append(v)
                links[v].append(u)
    members = [Member(overlay.network, overlay.my_peer.public_key, address, (overlay.community_id,))
               for overlay, address in zip(overlays, addresses, strict=True)]
    introduce_members(members, links)
