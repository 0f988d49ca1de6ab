"""Where nodes live: a simulated network or real UDP sockets, and the clock their PoS layer reads."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ipv8.messaging.interfaces.endpoint import Endpoint
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint

if TYPE_CHECKING:
    from .builder import NodeSpec


class Runtime(Protocol):
    """Where nodes live: hands out opened endpoints, and says which clock their PoS layer reads."""

    async def open_endpoint(self, spec: NodeSpec) -> Endpoint:
        """An open endpoint for the node ``spec`` describes."""

    def pos_clock(self) -> Callable[[], float] | None:
        """The clock (seconds) for the nodes' PoS layer; None leaves the layer's default (Unix time)."""


class UdpRuntime:
    """Real IPv8 UDP sockets on one host (``127.0.0.1`` by default), one port per node."""

    def __init__(self, host: str = "127.0.0.1", base_port: int = 0) -> None:
        """Bind to ``host``; ``base_port`` 0 lets the system pick free ports, else ports count up from it."""
        self.host = host
        self.base_port = base_port
        self._opened = 0

    async def open_endpoint(self, spec: NodeSpec) -> Endpoint:
        """Open a UDP endpoint bound to this runtime's host."""
        port = self.base_port + self._opened if self.base_port else 0
        endpoint = UDPEndpoint(port=port, ip=self.host)
        if not await endpoint.open():
            msg = f"could not bind a UDP socket on {self.host}:{port} for {spec.name}"
            raise OSError(msg)
        self._opened += 1
        return endpoint

    def pos_clock(self) -> Callable[[], float] | None:
        """None: real nodes on different machines stamp blocks with the PoS layer's default, Unix time."""
        return None


class SimulatedRuntime:
    """Endpoints on an a27-netsim simulated network, and the simulated clock for every node's PoS layer."""

    def __init__(self, network: object, epoch: float = 0.0) -> None:
        """
        Use ``network`` (an ``a27_netsim.SimulatedNetwork``) for every node.

        The PoS clock reads the network's virtual loop time plus ``epoch`` seconds: 0 for a fresh run; for a run
        that resumes stored chains, a time after their latest block (see ``Stores.resume_epoch``), so that new blocks
        are stamped after the stored ones.
        """
        if not math.isfinite(epoch) or epoch < 0:
            msg = f"the simulated clock's epoch must be a non-negative number of seconds, got {epoch!r}"
            raise ValueError(msg)
        self.network = network
        self.epoch = epoch

    def now(self) -> float:
        """The simulated PoS clock: virtual loop time plus the epoch, in seconds."""
        return float(self.network.loop.time()) + self.epoch  # type: ignore[attr-defined]

    def pos_clock(self) -> Callable[[], float] | None:
        """The simulated clock (``now``), never the host's: every simulated node shares it."""
        return self.now

    async def open_endpoint(self, spec: NodeSpec) -> Endpoint:
        """A simulated endpoint named after the node."""
        endpoint: Endpoint = self.network.create_endpoint(name=spec.name, region=spec.region)  # type: ignore[attr-defined]
        await endpoint.open()
        return endpoint
