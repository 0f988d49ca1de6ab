"""
Scenarios: what a simulation runs, from command-line options or a TOML file with one section per concern.

``settings`` holds ``SimScenario`` and the checks of each setting, ``sections`` the file's sections and the mapping
of the older flat ``[sim]`` keys, ``faults`` the network faults and node selectors.
"""

from .errors import ScenarioError
from .faults import FAULT_ACTIONS, Fault, parse_faults, select_nodes
from .sections import SECTION_OF, SECTIONS, flatten_sections
from .settings import (
    MAX_COUNT,
    MAX_NODES,
    MAX_SECONDS,
    MAX_UINT64,
    MAX_VALIDATORS,
    MIN_INTERVAL,
    TOPOLOGIES,
    SimScenario,
    check_integer,
    check_number,
)

__all__ = [
    "FAULT_ACTIONS",
    "MAX_COUNT",
    "MAX_NODES",
    "MAX_SECONDS",
    "MAX_UINT64",
    "MAX_VALIDATORS",
    "MIN_INTERVAL",
    "SECTIONS",
    "SECTION_OF",
    "TOPOLOGIES",
    "Fault",
    "ScenarioError",
    "SimScenario",
    "check_integer",
    "check_number",
    "flatten_sections",
    "parse_faults",
    "select_nodes",
]
