"""The node builder: layers and roles on a simulated runtime."""

from __future__ import annotations

import pytest

from a27_harness.node import LIGHT, VALIDATOR, NodeSpec, SimulatedRuntime, UnknownLayer, build_node, introduce_all
from a27_ledger import Genesis, LedgerCommunity
from a27_ledger.testing import make_keys
from a27_netsim import Simulation


def test_unknown_role_and_layer_are_refused() -> None:
    key = make_keys(1)[0]
    with pytest.raises(ValueError, match="unknown role"):
        NodeSpec("x", key, "miner")
    with pytest.raises(UnknownLayer, match="layers are ledger"):
        NodeSpec("x", key, LIGHT, layers=("ledger", "sharding"))


def test_built_nodes_know_each_other_and_their_roles() -> None:
    keys = make_keys(3, seed=5)
    specs = [NodeSpec("v0", keys[0], VALIDATOR), NodeSpec("l0", keys[1], LIGHT), NodeSpec("l1", keys[2], LIGHT)]
    genesis = Genesis.build("a27-test", {key.public_key: 100 for key in keys}, [keys[0].public_key])
    simulation = Simulation(seed=1)

    async def scenario() -> None:
        runtime = SimulatedRuntime(simulation.network)
        nodes = [await build_node(spec, genesis, runtime) for spec in specs]
        introduce_all(nodes)
        assert [node.ledger.is_validator for node in nodes] == [True, False, False]
        assert all(isinstance(node.ledger, LedgerCommunity) for node in nodes)
        assert all(len(node.ledger.get_peers()) == 2 for node in nodes)
        outcome = await nodes[1].ledger.transfer(keys[2].public_key, 30)
        assert outcome.accepted
        for node in nodes:
            await node.stop()

    try:
        simulation.run(scenario())
    finally:
        simulation.close()


def test_neighbour_function_limits_who_knows_whom() -> None:
    keys = make_keys(3, seed=6)
    specs = [NodeSpec(f"n{i}", key, VALIDATOR if i == 0 else LIGHT) for i, key in enumerate(keys)]
    genesis = Genesis.build("a27-test", {key.public_key: 100 for key in keys}, [keys[0].public_key])
    simulation = Simulation(seed=2)

    async def scenario() -> None:
        runtime = SimulatedRuntime(simulation.network)
        nodes = [await build_node(spec, genesis, runtime) for spec in specs]
        introduce_all(nodes, lambda index: [0] if index else [1, 2])
        assert [len(node.ledger.get_peers()) for node in nodes] == [2, 1, 1]
        for node in nodes:
            await node.stop()

    try:
        simulation.run(scenario())
    finally:
        simulation.close()
