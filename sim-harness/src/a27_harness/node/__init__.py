"""
Node composition and runtimes: what a node is built from, where it runs, where it stores its state.

Everything a real node process needs lives here; nothing here imports report, plotting or statistics code.
"""

from .builder import (
    LAYERS,
    LIGHT,
    ROLES,
    VALIDATOR,
    A27Node,
    LayerSettings,
    LayerSettingsError,
    MissingLayer,
    NodeSpec,
    UnknownLayer,
    build_node,
    check_layer_settings,
    introduce_all,
    walk_to_all,
)
from .runtime import Runtime, SimulatedRuntime, UdpRuntime
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
