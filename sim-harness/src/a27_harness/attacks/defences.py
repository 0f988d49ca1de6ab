"""
Switching defences off by name: ``<layer>.<field>`` onto the ``defences`` setting of that layer's settings class.

Each layer keeps its defences in a frozen attrs class, every field a bool defaulting to True: ``a27_ledger.
LedgerDefences``, ``a27_pos.PosDefences``, ``a27_channels.ChannelDefences``, and the overlay-wide
``a27_ledger.PeerDefences`` (names ``peers.<field>``). The mapping here is generic: a layer whose class is not there
(yet) has no defences to switch off, and says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

DEFENCE_CLASSES: dict[str, tuple[str, str, str]] = {
    "ledger": ("a27_ledger", "LedgerDefences", "defences"),
    "pos": ("a27_pos", "PosDefences", "defences"),
    "channels": ("a27_channels", "ChannelDefences", "defences"),
    "peers": ("a27_ledger", "PeerDefences", "peer_defences"),
}
"""Per defence layer: the module and class of its defences, and the settings field that takes them."""

SETTINGS_LAYERS: dict[str, tuple[str, ...]] = {"ledger": ("ledger",), "pos": ("pos",), "channels": ("channels",),
                                               "peers": ("ledger", "pos", "channels")}
"""The node layers whose settings take each defence layer's object (peer defences: every community a node runs)."""


class UnknownDefence(ValueError):
    """A defence name whose layer or field does not exist."""


def defence_class(layer: str) -> type | None:
    """The defences class of ``layer`` (a key of ``DEFENCE_CLASSES``), or None if this build has none."""
    module, name, _field = DEFENCE_CLASSES[layer]
    cls = getattr(importlib.import_module(module), name, None)
    return cls if cls is not None and attrs.has(cls) else None


def available_defences() -> tuple[str, ...]:
    """Every defence of this build, by full name, sorted."""
    names = []
    for layer in DEFENCE_CLASSES:
        cls = defence_class(layer)
        if cls is not None:
            names += [f"{layer}.{field.name}" for field in attrs.fields(cls)]
    return tuple(sorted(names))


def check_defence(name: str) -> str:
    """
    ``name`` if it is ``<layer>.<field>`` of an existing defences class.

    :raises UnknownDefence: one line naming what exists.
    """
    layer, _dot, field = name.partition(".")
    existing = ", ".join(available_defences()) or "none in this build"
    if layer not in DEFENCE_CLASSES:
        msg = f"unknown defence {name!r}: no defence layer {layer!r} (layers: {', '.join(DEFENCE_CLASSES)}; " \
              f"defences: {existing})"
        raise UnknownDefence(msg)
    cls = defence_class(layer)
    if cls is None or field not in attrs.fields_dict(cls):
        msg = f"unknown defence {name!r}: the {layer} layer has no such defence (defences: {existing})"
        raise UnknownDefence(msg)
    return name


def defence_settings(switched_off: Iterable[str], node_layers: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """
    Layer settings that switch ``switched_off`` defences off (the rest stay on) for a node running ``node_layers``:
    ``{"ledger": {"defences": LedgerDefences(conflicting_nonces=False)}}``. Empty when nothing is switched off, so an
    honest configuration passes no setting at all.
    """
    off: dict[str, dict[str, bool]] = {}
    for name in switched_off:
        layer, _dot, field = check_defence(name).partition(".")
        off.setdefault(layer, {})[field] = False
    settings: dict[str, dict[str, Any]] = {}
    for layer, fields in off.items():
        cls = defence_class(layer)
        assert cls is not None  # checked above
        _module, _name, setting = DEFENCE_CLASSES[layer]
        value = attrs.evolve(cls(), **fields)
        for node_layer in SETTINGS_LAYERS[layer]:
            if node_layer in node_layers and not (layer == "peers" and node_layer == "ledger" and "pos" in node_layers):
                settings.setdefault(node_layer, {})[setting] = value
    return settings


def merge_settings(*parts: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, object]]:
    """Layer settings merged left to right (a later part's option wins)."""
    merged: dict[str, dict[str, object]] = {}
    for part in parts:
        for layer, options in part.items():
            merged.setdefault(layer, {}).update(options)
    return merged
