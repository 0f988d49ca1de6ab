"""Fixtures shared by the harness tests."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from a27_attacks import ATTACKS, Attack, AttackerNode, register
from a27_netsim import Simulation


@attrs.frozen
class _SimulationOnly(Attack):
    """An attack whose attacker acts only through the simulator's arena (``real_node`` False), as a student's own
    attack may: every registered attack runs on real nodes, so the refusals are tested with this one."""

    name = "test-simulation-only"
    lab = "pos"
    family = "byzantine"
    summary = "A probe that needs the simulator."
    success = "never"
    defences = ()

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One validator and one light node, both idle."""
        return (AttackerNode("a0", "validator", "idle"), AttackerNode("a1", "light", "idle"))


@pytest.fixture
def simulation_only() -> Iterator[str]:
    """The name of a registered attack that needs the simulator, registered only while the test runs."""
    register(_SimulationOnly)
    yield _SimulationOnly.name
    del ATTACKS[_SimulationOnly.name]


@pytest.fixture
def simulation() -> Iterator[Simulation]:
    """A simulation seeded with 1, closed after the test."""
    simulated = Simulation(seed=1)
    yield simulated
    simulated.close()
