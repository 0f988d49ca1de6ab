"""Shared fixtures: a fresh loop or simulation per test, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from a27_netsim import DiscreteEventLoop, Simulation


@pytest.fixture
def loop() -> Iterator[DiscreteEventLoop]:
    """A strict discrete-event loop."""
    event_loop = DiscreteEventLoop()
    yield event_loop
    event_loop.close()


@pytest.fixture
def simulation() -> Iterator[Simulation]:
    """A simulation with seed 7 and the default 1 ms latency."""
    with Simulation(7, trace=True) as sim:
        yield sim
