"""a27's harness: composes the layers into full nodes, runs them in simulation or on real UDP, writes reports."""

from .__about__ import __version__
from .experiments.stake import StakeExperiment, StakeExperimentResult, run_stake_experiment
from .labs import Lab1Result, Lab2Result, Lab3Result, run_lab1, run_lab2, run_lab3
from .node import A27Node, NodeSpec, SimulatedRuntime, UdpRuntime, build_node, introduce_all, walk_to_all
from .scenario import ScenarioError, SimScenario

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
