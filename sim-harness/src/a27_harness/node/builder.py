"""
The node builder: composes a node from layers and a role, on a runtime's endpoint (simulated or real UDP).

The layers never learn which runtime they run in; only the endpoint handed to them (and the event loop the
caller runs) differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs
from ipv8.community import Community
from ipv8.messaging.interfaces.endpoint import Endpoint
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_channels import ChannelCommunity, ChannelSettings, channel_chain
from a27_ledger import Genesis, KeyPair, LedgerCommunity, LedgerSettings, LedgerState
from a27_pos import Chain, PosCommunity, PosGenesis, PosSettings

from .runtime import Runtime
from .stores import Stores

LAYERS = ("ledger", "pos", "channels")
"""The layers a node can be built with, bottom first."""

VALIDATOR = "validator"
LIGHT = "light"
ROLES = (VALIDATOR, LIGHT)


class UnknownLayer(ValueError):
    """A layer name that a27 does not have (yet)."""


class MissingLayer(ValueError):
    """A layer another one depends on is not in the node (every node runs ledger; channels runs on pos)."""


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


LayerSettings = Mapping[str, Mapping[str, object]]
"""Settings per layer, keyed by layer name: ``{"pos": {"timeouts": ...}, "channels": {"fee": 2}}``."""

SETTINGS_CLASSES: dict[str, type] = {"ledger": LedgerSettings, "pos": PosSettings, "channels": ChannelSettings}
"""The IPv8 settings class of each layer's community; a layer's entry in ``LayerSettings`` goes to it."""

BUILDER_OWNED = frozenset({"my_peer", "endpoint", "network", "genesis", "state", "chain", "pos", "store"})
"""Settings the builder fills in from the node's spec, stores and runtime; a caller cannot set them."""


class LayerSettingsError(ValueError):
    """Settings for a layer that would not reach its community: not run by the node, misspelled or builder-owned."""


def check_layer_settings(spec: NodeSpec, settings: LayerSettings) -> None:
    """
    Refuse settings that would not reach a community of the node ``spec`` describes.

    :raises UnknownLayer: for a key that names no layer.
    :raises MissingLayer: for a layer the node does not run.
    :raises LayerSettingsError: for ledger settings on a pos node (whose ledger is driven by its chain and runs no
        ledger community), a setting the layer's settings class does not have, or one the builder owns.
    """
    for layer, options in settings.items():
        if layer not in LAYERS:
            msg = f"settings for unknown layer {layer!r}; layers are {', '.join(LAYERS)}"
            raise UnknownLayer(msg)
        if layer not in spec.layers:
            runs = ", ".join(spec.layers)
            msg = f"settings for the {layer} layer, which node {spec.name} does not run (it runs {runs})"
            raise MissingLayer(msg)
        if layer == "ledger" and "pos" in spec.layers:
            msg = (f"ledger settings for node {spec.name}: with the pos layer its ledger follows the chain and runs no "
                   "ledger community; give the settings to the pos layer")
            raise LayerSettingsError(msg)
        known = {name for cls in SETTINGS_CLASSES[layer].__mro__ for name in vars(cls).get("__annotations__", {})}
        for name in options:
            if name in BUILDER_OWNED:
                msg = f"{layer} setting {name!r} is set by the node builder, not by the caller"
                raise LayerSettingsError(msg)
            if name not in known:
                allowed = ", ".join(sorted(known - BUILDER_OWNED))
                msg = f"unknown {layer} setting {name!r}; {layer} settings are {allowed}"
                raise LayerSettingsError(msg)


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
        if channels:
            chain = channel_chain(genesis, stores.ledger(spec), stores.chain(spec))
        else:
            chain = Chain.start(genesis, stores.ledger(spec), stores.chain(spec))
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

    For simulations; real nodes find each other with IPv8's introduction handshake (``walk_to_all``).
    """
    for index, node in enumerate(nodes):
        others = range(len(nodes)) if neighbours is None else neighbours(index)
        for other_index in others:
            if other_index == index:
                continue
            other = nodes[other_index]
            public = Peer(other.peer.public_key.key_to_bin(), other.address)
            node.network.add_verified_peer(public)
            node.network.discover_services(public, [overlay.community_id for overlay in other.overlays.values()])


def walk_to_all(nodes: Sequence[A27Node]) -> None:
    """Start IPv8's introduction handshake from every node to every other node's address."""
    for node in nodes:
        for other in nodes:
            if other is not node:
                for overlay in node.overlays.values():
                    overlay.walk_to(other.address)
