"""
Node composition and runtimes: what a node is built from, where it runs, where it stores its state.

Everything a real node process needs lives here; nothing here imports report, plotting or statistics code.
"""

from .builder import (
    LIGHT,
    ROLES,
    VALIDATOR,
    A27Node,
    NodeSpec,
    Runtime,
    SimulatedRuntime,
    UdpRuntime,
    build_node,
    introduce_all,
    walk_to_all,
)
from .layers import LAYERS, MissingLayer, UnknownLayer
from .settings import LayerSettings, LayerSettingsError, check_layer_settings
from .stores import Stores

__all__ = [
    "LAYERS",
    "LIGHT",
    "ROLES",
    "VALIDATOR",
    "A27Node",
    "LayerSettings",
    "LayerSettingsError",
    "MissingLayer",
    "NodeSpec",
    "Runtime",
    "SimulatedRuntime",
    "Stores",
    "UdpRuntime",
    "UnknownLayer",
    "build_node",
    "check_layer_settings",
    "introduce_all",
    "walk_to_all",
]
