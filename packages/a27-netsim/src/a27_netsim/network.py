"""The simulated network: address book, latency, loss, partitions, churn, counters and an optional trace."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ipv8.messaging.interfaces.udp.endpoint import Address, UDPv4Address

from .endpoint import SimulatedEndpoint
from .latency import ConstantLatency, LatencyModel
from .loop import DiscreteEventLoop
from .random_streams import SeedStreams
from .stats import DOWN, DROP_CAUSES, LOSS, PARTITION, TOPOLOGY, UNKNOWN_ADDRESS, TrafficStats

if TYPE_CHECKING:
    import networkx as nx

ADDRESS_BLOCK = ipaddress.IPv4Network("198.18.0.0/15")
"""Node addresses come from the block reserved for benchmarking networks (RFC 2544), never a real host."""

DEFAULT_PORT = 8090

_NO_NEIGHBOURS: frozenset[int] = frozenset()


class NetworkConfigError(ValueError):
    """The network was configured with an impossible value (a probability outside [0, 1], overlapping groups...)."""


class UnknownAddressError(KeyError):
    """No endpoint of this network has the given address."""


class TraceEvent(NamedTuple):
    """One line of the event trace; ``msg_id`` is -1 for events that are not packets."""

    time: float
    event: str
    src: str
    dst: str
    size: int
    msg_id: int


def node_address(index: int, port: int = DEFAULT_PORT) -> UDPv4Address:
    """Return the address of the ``index``-th node created in a network (198.18.0.1 for node 0, and so on)."""
    if not 0 <= index < ADDRESS_BLOCK.num_addresses - 2:
        raise NetworkConfigError(f"node index {index} does not fit in {ADDRESS_BLOCK}")
    return UDPv4Address(str(ADDRESS_BLOCK.network_address + index + 1), port)


class SimulatedNetwork:
    """
    Carries packets between :class:`SimulatedEndpoint` instances on a (virtual-time) event loop.

    A packet is judged when sent: it is dropped if its sender is down, its destination unknown, a partition or a
    topology restriction separates the two nodes, or random loss strikes; otherwise it is delivered after a delay drawn
    from the latency model, unless the receiver is down by then. Every outcome is counted in :attr:`stats`. Loss and
    latency draw from their own named streams of :attr:`streams`, so one seed fixes them.
    """

    def __init__(
        self,
        seed: int,
        latency: LatencyModel | None = None,
        loss: float = 0.0,
        *,
        loop: DiscreteEventLoop | None = None,
        trace: bool = False,
        port: int = DEFAULT_PORT,
    ) -> None:
        """
        Create an empty network.

        ``latency`` defaults to a constant 1 ms, ``loop`` to a new strict :class:`DiscreteEventLoop`. ``loss`` is the
        probability that any packet is lost. With ``trace=True`` every packet event is recorded in :attr:`trace`.
        """
        self.streams = SeedStreams(seed)
        self.latency: LatencyModel = ConstantLatency(0.001) if latency is None else latency
        self.loop = DiscreteEventLoop() if loop is None else loop
        self.loss = _check_probability(loss)
        self.port = port
        self.stats = TrafficStats()
        self.endpoints: list[SimulatedEndpoint] = []
        self._by_address: dict[Address, SimulatedEndpoint] = {}
        self._names: set[str] = set()
        self._loss_rng = self.streams.stream("network.loss")
        self._latency_rng = self.streams.stream("network.latency")
        self._link_loss: dict[tuple[int, int], float] = {}
        self._group_of: dict[int, int] | None = None
        self._partitions_created = 0
        self._partition_in_force: int | None = None
        self._neighbours: dict[int, frozenset[int]] | None = None
        self._trace: list[TraceEvent] | None = [] if trace else None

    # Construction and lookup

    def create_endpoint(self, name: str | None = None, region: str | None = None) -> SimulatedEndpoint:
        """
        Create the endpoint of a new node, open, with the next address of the address block.

        ``name`` defaults to ``node-<index>`` and must be unique; ``region`` (used by region latency) defaults to the
        latency model's choice for this index.
        """
        index = len(self.endpoints)
        name = f"node-{index}" if name is None else name
        if name in self._names:
            raise NetworkConfigError(f"a node called {name!r} already exists")
        address = node_address(index, self.port)
        region = self.latency.assign_region(index) if region is None else region
        endpoint = SimulatedEndpoint(self, index, name, region, address)
        self.stats.add_node(name, f"{address.ip}:{address.port}")
        self.endpoints.append(endpoint)
        self._by_address[address] = endpoint
        self._names.add(name)
        return endpoint

    def endpoint_at(self, address: Address) -> SimulatedEndpoint:
        """Return the endpoint with ``address``, or raise :class:`UnknownAddressError`."""
        try:
            return self._by_address[address]
        except (KeyError, TypeError):
            raise UnknownAddressError(address) from None

    # Packet path

    def transmit(self, sender: SimulatedEndpoint, address: Address, packet: bytes) -> None:
        """Send ``packet`` from ``sender`` to ``address``: schedule its delivery or count its drop (for endpoints)."""
        size = len(packet)
        kind = packet[2:23]
        self.stats.record_sent(sender.index, kind, size)
        trace = self._trace
        receiver = self._by_address.get(address)
        if trace is not None:
            destination = receiver.name if receiver is not None else _format_address(address)
            trace.append(TraceEvent(self.loop.time(), "send", sender.name, destination, size, _msg_id(packet)))
        if not sender._open or sender._down:
            self._drop(sender, address, packet, kind, DOWN)
            return
        sender.bytes_up += size
        if receiver is None:
            self._drop(sender, address, packet, kind, UNKNOWN_ADDRESS)
            return
        group_of = self._group_of
        if group_of is not None and group_of.get(sender.index, -1) != group_of.get(receiver.index, -1):
            self._drop(sender, address, packet, kind, PARTITION)
            return
        neighbours = self._neighbours
        if (
            neighbours is not None
            and receiver is not sender
            and receiver.index not in neighbours.get(sender.index, _NO_NEIGHBOURS)
        ):
            self._drop(sender, address, packet, kind, TOPOLOGY)
            return
        loss = self.loss
        if self._link_loss:
            a, b = sender.index, receiver.index
            loss = self._link_loss.get((a, b) if a < b else (b, a), loss)
        if loss and self._loss_rng.random() < loss:
            self._drop(sender, address, packet, kind, LOSS)
            return
        delay = self.latency.sample(sender.region, receiver.region, self._latency_rng)
        self.loop.schedule_at(self.loop.time() + delay, self._deliver, sender, receiver, packet, kind)

    def _deliver(self, sender: SimulatedEndpoint, receiver: SimulatedEndpoint, packet: bytes, kind: bytes) -> None:
        if not receiver._open or receiver._down:
            self._drop(sender, receiver.wan_address, packet, kind, DOWN)
            return
        size = len(packet)
        self.stats.record_delivered(receiver.index, kind, size)
        receiver.bytes_down += size
        if self._trace is not None:
            self._trace.append(
                TraceEvent(self.loop.time(), "deliver", sender.name, receiver.name, size, _msg_id(packet))
            )
        receiver.notify_listeners((sender.wan_address, packet))

    def _drop(self, sender: SimulatedEndpoint, address: Address, packet: bytes, kind: bytes, cause: int) -> None:
        self.stats.record_dropped(sender.index, kind, len(packet), cause)
        if self._trace is not None:
            receiver = self._by_address.get(address)
            destination = receiver.name if receiver is not None else _format_address(address)
            self._trace.append(
                TraceEvent(
                    self.loop.time(),
                    f"drop:{DROP_CAUSES[cause]}",
                    sender.name,
                    destination,
                    len(packet),
                    _msg_id(packet),
                )
            )

    # Faults and restrictions

    def set_link_loss(self, a: Address, b: Address, probability: float) -> None:
        """Make packets between ``a`` and ``b`` (either way) get lost with ``probability`` instead of the global one."""
        i, j = self.endpoint_at(a).index, self.endpoint_at(b).index
        self._link_loss[(i, j) if i < j else (j, i)] = _check_probability(probability)

    def partition(
        self, groups: Sequence[Iterable[Address]], at: float | None = None, heal_at: float | None = None
    ) -> None:
        """
        Split the network into ``groups`` of addresses from virtual time ``at`` (default: now) until ``heal_at``.

        Packets sent between different groups are dropped. Nodes in no group form one more group together. A new
        partition replaces the one in force; ``heal_at`` ends only this partition, :meth:`heal` whichever is in force.
        """
        group_of: dict[int, int] = {}
        for number, group in enumerate(groups):
            for address in group:
                index = self.endpoint_at(address).index
                if group_of.setdefault(index, number) != number:
                    raise NetworkConfigError(f"{_format_address(address)} is in more than one group")
        start = self.loop.time() if at is None else at
        if heal_at is not None and heal_at <= start:
            raise NetworkConfigError(f"heal_at ({heal_at!r}) must come after the partition starts ({start!r})")
        self._partitions_created += 1
        token = self._partitions_created
        self._at(at, self._apply_partition, group_of, token)
        if heal_at is not None:
            self._at(heal_at, self._end_partition, token)

    def heal(self, at: float | None = None) -> None:
        """End the partition in force at virtual time ``at`` (default: now)."""
        self._at(at, self._end_partition, None)

    def set_down(self, address: Address, at: float | None = None) -> None:
        """Take the node with ``address`` down at ``at`` (default: now): it neither sends nor receives."""
        self._at(at, self._set_down, self.endpoint_at(address), True)

    def set_up(self, address: Address, at: float | None = None) -> None:
        """Bring the node with ``address`` back up at ``at`` (default: now)."""
        self._at(at, self._set_down, self.endpoint_at(address), False)

    def restrict_to(self, graph: nx.Graph | None, addresses: Sequence[Address] = ()) -> None:
        """
        Drop packets between nodes that are not neighbours in ``graph`` (cause ``topology``); ``None`` lifts this.

        Graph node ``i`` is the node with ``addresses[i]``. Nodes outside the graph can reach no one. Usually the
        topology only decides who is introduced to whom; this is for experiments that must also forbid other links.
        """
        if graph is None:
            self._neighbours = None
            return
        indices = [self.endpoint_at(address).index for address in addresses]
        neighbours: dict[int, set[int]] = {index: set() for index in indices}
        for u, v in graph.edges():
            try:
                a, b = indices[u], indices[v]
            except (IndexError, TypeError):
                raise NetworkConfigError(f"graph edge ({u!r}, {v!r}) names a node with no address") from None
            neighbours[a].add(b)
            neighbours[b].add(a)
        self._neighbours = {index: frozenset(linked) for index, linked in neighbours.items()}

    def _at(self, at: float | None, action: Callable[..., None], *args: Any) -> None:
        if at is None or at <= self.loop.time():
            action(*args)
        else:
            self.loop.call_at(at, action, *args)

    def _apply_partition(self, group_of: dict[int, int], token: int) -> None:
        self._group_of = group_of
        self._partition_in_force = token
        self._record_control("partition", "", len(set(group_of.values())))

    def _end_partition(self, token: int | None) -> None:
        if self._group_of is None or (token is not None and token != self._partition_in_force):
            return
        self._group_of = None
        self._partition_in_force = None
        self._record_control("heal", "", 0)

    def _set_down(self, endpoint: SimulatedEndpoint, down: bool) -> None:
        endpoint._down = down
        self._record_control("down" if down else "up", endpoint.name, 0)

    def _record_control(self, event: str, node: str, size: int) -> None:
        if self._trace is not None:
            self._trace.append(TraceEvent(self.loop.time(), event, node, "", size, -1))

    # Trace

    @property
    def trace(self) -> list[TraceEvent]:
        """The events recorded so far (empty unless the network was created with ``trace=True``)."""
        return self._trace if self._trace is not None else []

    def trace_digest(self) -> str:
        """Return the SHA-256 (hex) of a canonical serialisation of the trace; equal digests mean equal traces."""
        if self._trace is None:
            raise NetworkConfigError("the trace is off: create the network with trace=True")
        digest = hashlib.sha256()
        for event in self._trace:
            line = f"{event.time!r}\t{event.event}\t{event.src}\t{event.dst}\t{event.size}\t{event.msg_id}\n"
            digest.update(line.encode())
        return digest.hexdigest()


def _check_probability(probability: float) -> float:
    if not 0.0 <= probability <= 1.0:
        raise NetworkConfigError(f"a probability must lie in [0, 1], got {probability!r}")
    return probability


def _format_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) == 2:
        return f"{address[0]}:{address[1]}"
    return repr(address)


def _msg_id(packet: bytes) -> int:
    return packet[22] if len(packet) > 22 else -1
