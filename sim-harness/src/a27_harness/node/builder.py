"""
The node builder: composes a node from layers and a role, on a simulated or a real UDP endpoint.

The layers never learn which runtime they run in; only the endpoint handed to them (and the event loop the
caller runs) differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs
from ipv8.community import Community
from ipv8.messaging.interfaces.endpoint import Endpoint
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_channels import ChannelCommunity, ChannelSettings
from a27_ledger import Genesis, KeyPair, LedgerCommunity, LedgerSettings, LedgerState
from a27_pos import PosCommunity, PosGenesis, PosSettings

from .layers import LAYERS, MissingLayer, UnknownLayer
from .settings import LayerSettings, check_layer_settings
from .stores import Stores, open_chain

VALIDATOR = "validator"
LIGHT = "light"
ROLES = (VALIDATOR, LIGHT)


@attrs.frozen
class NodeSpec:
    """What to build: a named node with a key, a role and the layers it runs."""

    name: str
    key: KeyPair = attrs.field(repr=False)
    role: str
    layers: tuple[str, ...] = ("ledger",)
    region: str | None = None

    def __attrs_post_init__(self) -> None:
        """Reject unknown roles and layers, and layers missing what they run on, early and by name."""
        if self.role not in ROLES:
            msg = f"unknown role {self.role!r}; roles are {', '.join(ROLES)}"
            raise ValueError(msg)
        for layer in self.layers:
            if layer not in LAYERS:
                msg = f"unknown layer {layer!r}; layers are {', '.join(LAYERS)}"
                raise UnknownLayer(msg)
        if "ledger" not in self.layers:
            msg = "every node runs the ledger layer"
            raise MissingLayer(msg)
        if "channels" in self.layers and "pos" not in self.layers:
            msg = "the channels layer runs on the pos layer (channel deadlines are block heights)"
            raise MissingLayer(msg)


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
        """
        Open a UDP endpoint bound to this runtime's host, on the next port of ``base_port`` (any with 0).

        :raises OSError: when that port is taken: IPv8's endpoint would quietly bind a later port, where the peers
            that know the node's address would never reach it.
        """
        port = self.base_port + self._opened if self.base_port else 0
        endpoint = UDPEndpoint(port=port, ip=self.host)
        if not await endpoint.open():
            msg = f"could not bind a UDP socket on {self.host}:{port} for {spec.name}"
            raise OSError(msg)
        if port and endpoint.get_address()[1] != port:
            closing = endpoint.close()
            if closing is not None:
                await closing
            msg = f"UDP port {self.host}:{port} for {spec.name} is in use"
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


@attrs.define
class A27Node:
    """A built node: its identity, its endpoint and IPv8 network, and one overlay per layer."""

    spec: NodeSpec
    peer: Peer
    endpoint: Endpoint
    network: Network
    overlays: dict[str, Community]

    @property
    def name(self) -> str:
        """The node's name."""
        return self.spec.name

    @property
    def ledger(self) -> LedgerCommunity:
        """The node's ledger community."""
        overlay = self.overlays["ledger"]
        assert isinstance(overlay, LedgerCommunity)
        return overlay

    @property
    def pos(self) -> PosCommunity:
        """The node's proof-of-stake community."""
        overlay = self.overlays["pos"]
        assert isinstance(overlay, PosCommunity)
        return overlay

    @property
    def channels(self) -> ChannelCommunity:
        """The node's payment-channel community."""
        overlay = self.overlays["channels"]
        assert isinstance(overlay, ChannelCommunity)
        return overlay

    @property
    def address(self) -> tuple[str, int]:
        """The endpoint's address."""
        return self.endpoint.get_address()

    async def stop(self) -> None:
        """Unload the overlays and close the endpoint."""
        for overlay in reversed(list(self.overlays.values())):
            await overlay.unload()
        closing = self.endpoint.close()
        if closing is not None:
            await closing


async def build_node(spec: NodeSpec, genesis: Genesis | PosGenesis, runtime: Runtime, *,
                     stores: Stores | None = None, settings: LayerSettings | None = None) -> A27Node:
    """
    Open an endpoint and start the node's layers on it.

    With the ``pos`` layer the ledger is driven by finalized blocks (``genesis`` must be a ``PosGenesis``); with the
    ledger alone, by the Lab 1 validators' logs. With ``channels`` the chain also accepts the channel transaction
    kinds and a ``ChannelCommunity`` runs on the node's ``PosCommunity``. ``settings[layer]`` go to that layer's
    community settings, whatever layers run above it (see ``check_layer_settings`` for what is refused, before any
    endpoint is opened).
    """
    settings = settings if settings is not None else {}
    check_layer_settings(spec, settings)
    stores = stores if stores is not None else Stores()
    endpoint = await runtime.open_endpoint(spec)
    peer = Peer(spec.key.ipv8_key(), endpoint.get_address())
    network = Network()
    overlays: dict[str, Community] = {}
    if "pos" in spec.layers:
        if not isinstance(genesis, PosGenesis):
            msg = "a node with the pos layer needs a PosGenesis (stakes and chain parameters)"
            raise TypeError(msg)
        channels = "channels" in spec.layers
        chain = open_chain(spec.layers, genesis, stores.ledger(spec), stores.chain(spec))
        pos_options = dict(settings.get("pos", {}))
        clock = runtime.pos_clock()
        if clock is not None:
            pos_options["clock"] = clock
        pos = overlays["pos"] = PosCommunity(PosSettings(my_peer=peer, endpoint=endpoint, network=network,
                                                         genesis=genesis, chain=chain, **pos_options))
        if channels:
            overlays["channels"] = ChannelCommunity(ChannelSettings(my_peer=peer, endpoint=endpoint, network=network,
                                                                    pos=pos, store=stores.channels(spec),
                                                                    **settings.get("channels", {})))
    else:
        ledger_genesis = genesis.ledger if isinstance(genesis, PosGenesis) else genesis
        state = LedgerState.from_genesis(ledger_genesis, stores.ledger(spec))
        overlays["ledger"] = LedgerCommunity(LedgerSettings(my_peer=peer, endpoint=endpoint, network=network,
                                                            genesis=ledger_genesis, state=state,
                                                            **settings.get("ledger", {})))
    return A27Node(spec, peer, endpoint, network, overlays)


def introduce_all(nodes: Sequence[A27Node], neighbours: Callable[[int], Sequence[int]] | None = None) -> None:
    """
    Full visibility without a handshake: every node learns every other (or its ``neighbours(i)``) as verified.

    For simulations; real nodes find each other with IPv8's introduction handshake (``walk_to_all``). The peers are
    added by ``a27_netsim.introduce_members``, which also sizes IPv8's address cache so that a node with more than
    500 peers does not scan them all for every packet it receives.
    """
    # Imported here: a real node process builds nodes with this module but never introduces them by fiat, and need
    # not load the simulator (and networkx with it).
    from a27_netsim import Member, introduce_members  # noqa: PLC0415

    members = [Member(node.network, node.peer.public_key, node.address,
                      tuple(overlay.community_id for overlay in node.overlays.values())) for node in nodes]
    everyone = range(len(nodes))
    introduce_members(members, [everyone if neighbours is None else neighbours(index)
                                for index in range(len(nodes))])


def walk_to_all(nodes: Sequence[A27Node]) -> None:
    """Start IPv8's introduction handshake from every node to every other node's address."""
    for node in nodes:
        for other in nodes:
            if other is not node:
                for overlay in node.overlays.values():
                    overlay.walk_to(other.address)
