"""
a27's harness: composes the layers into full nodes, runs them in simulation or on real UDP, writes reports.

The names below are imported on first use, so that importing the node code (``a27_harness.node``), as a real node
process does, does not import the labs, the experiments or the reports (and with them matplotlib and scipy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .__about__ import __version__

if TYPE_CHECKING:
    from .experiments.stake import StakeExperiment, StakeExperimentResult, run_stake_experiment
    from .labs import Lab1Result, Lab2Result, Lab3Result, run_lab1, run_lab2, run_lab3
    from .node import A27Node, NodeSpec, SimulatedRuntime, UdpRuntime, build_node, introduce_all, walk_to_all
    from .scenario import ScenarioError, SimScenario

_HOMES = {
    "A27Node": "node",
    "NodeSpec": "node",
    "SimulatedRuntime": "node",
    "UdpRuntime": "node",
    "build_node": "node",
    "introduce_all": "node",
    "walk_to_all": "node",
    "ScenarioError": "scenario",
    "SimScenario": "scenario",
    "Lab1Result": "labs",
    "Lab2Result": "labs",
    "Lab3Result": "labs",
    "run_lab1": "labs",
    "run_lab2": "labs",
    "run_lab3": "labs",
    "StakeExperiment": "experiments.stake",
    "StakeExperimentResult": "experiments.stake",
    "run_stake_experiment": "experiments.stake",
}
"""Each public name and the subpackage it is imported from."""


def __getattr__(name: str) -> Any:
    """Import a public name from its subpackage the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "A27Node",
    "Lab1Result",
    "Lab2Result",
    "Lab3Result",
    "NodeSpec",
    "ScenarioError",
    "SimScenario",
    "SimulatedRuntime",
    "StakeExperiment",
    "StakeExperimentResult",
    "UdpRuntime",
    "__version__",
    "build_node",
    "introduce_all",
    "run_lab1",
    "run_lab2",
    "run_lab3",
    "run_stake_experiment",
    "walk_to_all",
]
