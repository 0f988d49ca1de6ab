"""Fixtures shared by the harness tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from a27_netsim import Simulation


@pytest.fixture
def simulation() -> Iterator[Simulation]:
    """A simulation seeded with 1, closed after the test."""
    simulated = Simulation(seed=1)
    yield simulated
    simulated.close()
