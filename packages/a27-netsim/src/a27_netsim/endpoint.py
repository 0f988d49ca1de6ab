"""An IPv8 endpoint whose packets travel through a :class:`~a27_netsim.network.SimulatedNetwork`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ipv8.messaging.interfaces.endpoint import Endpoint, EndpointClosedException
from ipv8.messaging.interfaces.udp.endpoint import Address, UDPv4Address

if TYPE_CHECKING:
    from .network import SimulatedNetwork


class SimulatedEndpoint(Endpoint):
    """
    One node's network interface in a simulation; create it with :meth:`SimulatedNetwork.create_endpoint`.

    The endpoint has one address, so ``lan_address`` and ``wan_address`` are equal. It is open once created. While
    its node is down (:meth:`SimulatedNetwork.set_down`) or after :meth:`close`, it reports closed, and packets it
    sends or should receive are dropped and counted as such rather than raising, so that node code keeps running as
    it would on a machine whose link is gone.
    """

    def __init__(
        self, network: SimulatedNetwork, index: int, name: str, region: str | None, address: UDPv4Address
    ) -> None:
        """Create the endpoint of node ``index``; the network owns the address book."""
        super().__init__()
        self.network = network
        self.index = index
        self.name = name
        self.region = region
        self.wan_address = address
        self.lan_address = address
        self.bytes_up = 0
        self.bytes_down = 0
        self._open = True
        self._down = False

    def assert_open(self) -> None:
        """Raise ``EndpointClosedException`` if the endpoint is closed or its node is down."""
        if not self.is_open():
            raise EndpointClosedException(self)

    def is_open(self) -> bool:
        """Whether the endpoint is open and its node up."""
        return self._open and not self._down

    def get_address(self) -> Address:
        """Return the node's address."""
        return self.wan_address

    def send(self, socket_address: Address, packet: bytes) -> None:
        """Hand ``packet`` to the network for delivery to ``socket_address`` (or a counted drop)."""
        self.network.transmit(self, socket_address, packet)

    async def open(self) -> bool:
        """Open the endpoint (again); always succeeds."""
        self._open = True
        return True

    def close(self) -> None:
        """Close the endpoint: it neither sends nor receives until opened again."""
        self._open = False

    def reset_byte_counters(self) -> None:
        """Set ``bytes_up`` and ``bytes_down`` to zero."""
        self.bytes_up = 0
        self.bytes_down = 0

    def __repr__(self) -> str:
        """Show the node's name and address."""
        return f"<SimulatedEndpoint {self.name} {self.wan_address.ip}:{self.wan_address.port}>"
