"""a27's harness: composes the layers into full nodes, runs them in simulation or on real UDP, writes reports."""

from .__about__ import __version__
from .lab1 import Lab1Result, run_lab1
from .lab2 import Lab2Result, run_lab2
from .lab3 import Lab3Result, run_lab3
from .node import A27Node, NodeSpec, SimulatedRuntime, UdpRuntime, build_node, introduce_all, walk_to_all
from .scenario import ScenarioError, SimScenario
from .stake_experiment import StakeExperiment, StakeExperimentResult, run_stake_experiment

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
