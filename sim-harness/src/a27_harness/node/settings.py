"""Per-layer settings for the node builder: each layer's entry goes to that layer's community settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from a27_channels import ChannelSettings
from a27_ledger import LedgerSettings
from a27_pos import PosSettings

from .layers import LAYERS, MissingLayer, UnknownLayer

if TYPE_CHECKING:
    from .builder import NodeSpec

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
