"""Network faults at simulated times (``[[faults]]`` in a scenario file), and the node selectors they name."""

from __future__ import annotations

import math
from typing import Any

import attrs

from .errors import ScenarioError

FAULT_ACTIONS = ("partition", "heal", "down", "up", "loss")
"""What a ``[[faults]]`` entry can do; each entry names exactly one of these keys."""

_ROLE_WORDS = {"validators": "v", "validator": "v", "light": "l", "light nodes": "l"}


@attrs.frozen
class Fault:
    """
    One change to the simulated network at simulated time ``at`` (seconds after the run starts).

    ``partition`` splits the nodes into ``groups`` (nodes in no group form one more group together) until a ``heal``;
    ``down`` and ``up`` take ``nodes`` off the network and back; ``loss`` sets the loss probability, globally or, with
    ``between``, on every link between a node of the first selector and a node of the second. Nodes are named by
    selectors: a name (``v3``, ``l12``), a role (``validators``, ``light``) or a role with an index range
    (``validators 0-4``, ``light 25-49``, ``light 7``).
    """

    at: float
    action: str
    groups: tuple[tuple[str, ...], ...] = ()
    nodes: tuple[str, ...] = ()
    loss: float | None = None
    between: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fault as it is written in a scenario file."""
        value: Any = {"partition": [list(group) for group in self.groups], "heal": True, "down": list(self.nodes),
                      "up": list(self.nodes), "loss": self.loss}[self.action]
        data: dict[str, Any] = {"at": self.at, self.action: value}
        if self.between is not None:
            data["between"] = list(self.between)
        return data


def select_nodes(selector: str, validators: int, light_nodes: int, key: str = "selector") -> tuple[str, ...]:
    """
    The node names a selector stands for, in order, or a ScenarioError naming ``key``.

    ``v3`` and ``l12`` name one node; ``validators`` and ``light`` every node of that role; ``validators 0-4`` and
    ``light 7`` the nodes of that role with those indices (both ends included).
    """
    counts = {"v": validators, "l": light_nodes}
    text = " ".join(selector.split()).lower() if isinstance(selector, str) else None
    if not text:
        msg = f"{key}: a node selector must be a non-empty string, got {selector!r}"
        raise ScenarioError(msg)
    if text in _ROLE_WORDS:
        prefix = _ROLE_WORDS[text]
        return tuple(f"{prefix}{index}" for index in range(counts[prefix]))
    role, _, indices = text.rpartition(" ")
    if role in _ROLE_WORDS:
        prefix = _ROLE_WORDS[role]
        first, dash, last = indices.partition("-")
        bounds = (first, last if dash else first)
    elif text[:1] in counts and text[1:].isdigit():
        prefix, bounds = text[0], (text[1:], text[1:])
    else:
        msg = (f"{key}: unknown node selector {selector!r}; use a name (v0, l3), a role (validators, light) or a role "
               f"with indices (validators 0-4, light 7)")
        raise ScenarioError(msg)
    if not all(bound.isdigit() for bound in bounds):
        msg = f"{key}: {selector!r} must give indices as N or N-M"
        raise ScenarioError(msg)
    low, high = int(bounds[0]), int(bounds[1])
    role_name = "validators" if prefix == "v" else "light nodes"
    if low > high or high >= counts[prefix]:
        msg = (f"{key}: {selector!r} selects {role_name} {low}-{high}, but the scenario has {counts[prefix]} "
               f"(indices 0-{counts[prefix] - 1})")
        raise ScenarioError(msg)
    return tuple(f"{prefix}{index}" for index in range(low, high + 1))


def _selector_list(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        msg = f"{key} must be a non-empty list of node selectors, got {value!r}"
        raise ScenarioError(msg)
    for index, selector in enumerate(value):
        if not isinstance(selector, str) or not selector.strip():
            msg = f"{key}[{index}] must be a node selector (such as 'v0' or 'validators 0-4'), got {selector!r}"
            raise ScenarioError(msg)
    return tuple(value)


def _fault(entry: object, key: str) -> Fault:
    if isinstance(entry, Fault):
        return entry
    if not isinstance(entry, dict):
        msg = f"{key} must be a table with 'at' and one of {', '.join(FAULT_ACTIONS)}, got {entry!r}"
        raise ScenarioError(msg)
    unknown = sorted(set(entry) - {"at", "between", *FAULT_ACTIONS})
    if unknown:
        msg = f"{key}: unknown keys {', '.join(unknown)}; a fault has 'at' and one of {', '.join(FAULT_ACTIONS)}"
        raise ScenarioError(msg)
    actions = [action for action in FAULT_ACTIONS if action in entry]
    if len(actions) != 1:
        msg = f"{key} must have exactly one of {', '.join(FAULT_ACTIONS)}, got {', '.join(actions) or 'none'}"
        raise ScenarioError(msg)
    action = actions[0]
    at = entry.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) or at < 0:
        msg = f"{key}.at must be a simulated time in seconds (a number >= 0), got {at!r}"
        raise ScenarioError(msg)
    value = entry[action]
    if "between" in entry and action != "loss":
        msg = f"{key}.between only goes with loss"
        raise ScenarioError(msg)
    if action == "partition":
        if not isinstance(value, (list, tuple)) or not value:
            msg = f"{key}.partition must be a non-empty list of groups (lists of node selectors), got {value!r}"
            raise ScenarioError(msg)
        groups = tuple(_selector_list(group, f"{key}.partition[{index}]") for index, group in enumerate(value))
        return Fault(float(at), action, groups=groups)
    if action == "heal":
        if value is not True:
            msg = f"{key}.heal must be true, got {value!r}"
            raise ScenarioError(msg)
        return Fault(float(at), action)
    if action in ("down", "up"):
        return Fault(float(at), action, nodes=_selector_list(value, f"{key}.{action}"))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        msg = f"{key}.loss must be a probability in [0, 1], got {value!r}"
        raise ScenarioError(msg)
    between = None
    if "between" in entry:
        pair = _selector_list(entry["between"], f"{key}.between")
        if len(pair) != 2:
            msg = f"{key}.between must be two node selectors (the two ends of the links), got {len(pair)}"
            raise ScenarioError(msg)
        between = (pair[0], pair[1])
    return Fault(float(at), action, loss=float(value), between=between)


def parse_faults(value: object) -> tuple[Fault, ...]:
    """The faults of a scenario from ``Fault`` objects or ``[[faults]]`` tables (None is none).

    :raises ScenarioError: naming the first bad entry.
    """
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        msg = f"faults must be a list of tables ([[faults]] in a scenario file), got {value!r}"
        raise ScenarioError(msg)
    return tuple(_fault(entry, f"faults[{index}]") for index, entry in enumerate(value))
