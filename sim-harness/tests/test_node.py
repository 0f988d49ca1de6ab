"""The node builder: layers and roles on a simulated runtime."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest
from ipv8.messaging.interfaces.endpoint import Endpoint

from a27_harness.node import (
    LAYERS,
    LIGHT,
    VALIDATOR,
    A27Node,
    LayerSettingsError,
    MissingLayer,
    NodeSpec,
    SimulatedRuntime,
    Stores,
    UdpRuntime,
    UnknownLayer,
    build_node,
    introduce_all,
)
from a27_ledger import Genesis, LedgerCommunity
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosGenesis, Timeouts


def test_unknown_role_and_layer_are_refused() -> None:
    key = make_keys(1)[0]
    with pytest.raises(ValueError, match="unknown role"):
        NodeSpec("x", key, "miner")
    with pytest.raises(UnknownLayer, match="layers are ledger"):
        NodeSpec("x", key, LIGHT, layers=("ledger", "sharding"))


def test_a_layer_without_what_it_runs_on_is_a_missing_layer_not_an_unknown_one() -> None:
    key = make_keys(1)[0]
    for layers, message in ((("pos",), "every node runs the ledger layer"),
                            (("ledger", "channels"), "the channels layer runs on the pos layer")):
        with pytest.raises(MissingLayer, match=message) as refused:
            NodeSpec("x", key, LIGHT, layers=layers)
        assert not isinstance(refused.value, UnknownLayer)


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


def _pos_specs_and_genesis(layers: tuple[str, ...]) -> tuple[list[NodeSpec], PosGenesis]:
    keys = make_keys(2, seed=8)
    specs = [NodeSpec("v0", keys[0], VALIDATOR, layers), NodeSpec("l0", keys[1], LIGHT, layers)]
    genesis = PosGenesis.build("a27-test", {key.public_key: 1_000 for key in keys}, {keys[0].public_key: 1_000})
    return specs, genesis


@pytest.mark.parametrize("layers", [("ledger", "pos"), ("ledger", "pos", "channels")])
def test_simulated_pos_nodes_read_the_simulated_clock_not_the_layer_default(layers: tuple[str, ...]) -> None:
    specs, genesis = _pos_specs_and_genesis(layers)
    simulation = Simulation(seed=3)

    async def scenario() -> None:
        runtime = SimulatedRuntime(simulation.network, epoch=5_000.0)
        nodes = [await build_node(spec, genesis, runtime) for spec in specs]
        await asyncio.sleep(2.5)
        for node in nodes:
            # Passed explicitly, so a default of Unix time in PosSettings cannot reach a simulated node.
            assert node.pos.settings.clock == runtime.now
            assert node.pos.now() == simulation.loop.time() + 5_000.0
        for node in nodes:
            await node.stop()

    try:
        simulation.run(scenario())
    finally:
        simulation.close()


def test_udp_runtime_leaves_the_pos_clock_to_the_layer_default() -> None:
    assert UdpRuntime().pos_clock() is None


def test_simulated_clock_epoch_must_be_a_non_negative_number() -> None:
    with pytest.raises(ValueError, match="epoch"):
        SimulatedRuntime(object(), epoch=-1.0)
    with pytest.raises(ValueError, match="epoch"):
        SimulatedRuntime(object(), epoch=float("nan"))


def test_resume_epoch_starts_after_the_latest_stored_block(tmp_path: Path) -> None:
    specs, genesis = _pos_specs_and_genesis(("ledger", "pos"))
    stores = Stores(tmp_path)
    assert stores.resume_epoch(specs) == 0.0
    assert Stores().resume_epoch(specs) == 0.0
    simulation = Simulation(seed=4)

    async def scenario() -> int:
        runtime = SimulatedRuntime(simulation.network)
        nodes = [await build_node(spec, genesis, runtime, stores=stores) for spec in specs]
        introduce_all(nodes)
        while nodes[1].pos.chain.height < 3:
            await asyncio.sleep(0.5)
        timestamp = max(node.pos.chain.head.timestamp for node in nodes)
        for node in nodes:
            await node.stop()
            node.pos.chain.state.close()
            node.pos.chain.store.close()
        return timestamp

    try:
        latest = simulation.run(scenario())
    finally:
        simulation.close()
    assert latest > 0
    assert Stores(tmp_path).resume_epoch(specs) == latest / 1000 + 1.0


def test_every_layer_gets_its_own_settings_under_the_layers_above_it(simulation: Simulation) -> None:
    keys = make_keys(2, seed=9)
    specs = [NodeSpec("v0", keys[0], VALIDATOR, layers=LAYERS), NodeSpec("l0", keys[1], LIGHT, layers=LAYERS)]
    genesis = PosGenesis.build("a27-test", {key.public_key: 10_000 for key in keys}, {keys[0].public_key: 100_000})
    timeouts = Timeouts(propose=7.0, prevote=3.0, precommit=3.0)
    settings = {"pos": {"timeouts": timeouts, "submit_attempts": 5}, "channels": {"fee": 3}}
    runtime = SimulatedRuntime(simulation.network)

    async def build_and_stop() -> list[A27Node]:
        nodes = [await build_node(spec, genesis, runtime, settings=settings) for spec in specs]
        await asyncio.gather(*(node.stop() for node in nodes))
        return nodes

    validator, light = nodes = simulation.run(build_and_stop())
    assert validator.pos.engine is not None
    assert validator.pos.engine.timeouts is timeouts
    assert [node.pos.settings.submit_attempts for node in nodes] == [5, 5]
    assert [node.channels.settings.fee for node in nodes] == [3, 3]
    assert light.pos.settings.clock == runtime.now


class _CountingRuntime(UdpRuntime):
    """A UDP runtime that counts the endpoints it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    async def open_endpoint(self, spec: NodeSpec) -> Endpoint:
        self.asked += 1
        return await super().open_endpoint(spec)


@pytest.mark.parametrize(("layers", "settings", "error", "message"), [
    (LAYERS, {"consensus": {"timeouts": None}}, UnknownLayer, "settings for unknown layer 'consensus'; layers are"),
    (("ledger", "pos"), {"channels": {"fee": 2}}, MissingLayer, "the channels layer, which node n0 does not run"),
    (LAYERS, {"ledger": {"retry_interval": 1.0}}, LayerSettingsError, "runs no ledger community"),
    (LAYERS, {"pos": {"timeout": 1.0}}, LayerSettingsError, "unknown pos setting 'timeout'; pos settings are"),
    (("ledger",), {"ledger": {"state": None}}, LayerSettingsError, "'state' is set by the node builder"),
])
def test_settings_that_would_reach_no_community_are_refused_before_any_endpoint_opens(
        layers: tuple[str, ...], settings: dict[str, dict[str, object]], error: type[Exception], message: str) -> None:
    keys = make_keys(1, seed=10)
    genesis = PosGenesis.build("a27-test", {keys[0].public_key: 10_000}, {keys[0].public_key: 100_000})
    runtime = _CountingRuntime()
    with pytest.raises(error, match=re.escape(message)):
        asyncio.run(build_node(NodeSpec("n0", keys[0], VALIDATOR, layers=layers), genesis, runtime,
                               settings=settings))
    assert runtime.asked == 0


def test_introduced_peers_fill_ipv8s_address_cache_so_no_packet_scans_every_peer(simulation: Simulation) -> None:
    keys = make_keys(4, seed=9)
    genesis = Genesis.build("a27-test", {key.public_key: 100 for key in keys}, [keys[0].public_key])
    runtime = SimulatedRuntime(simulation.network)
    nodes = [simulation.run(build_node(NodeSpec(f"n{i}", key, LIGHT if i else VALIDATOR), genesis, runtime))
             for i, key in enumerate(keys)]
    introduce_all(nodes)
    for node in nodes:
        # IPv8 keeps 500 addresses by default and scans every verified peer on a miss: the harness's introduction
        # must size the cache to the peers it adds and fill it with them.
        lookup = node.network.reverse_ip_lookup
        assert {address: peer.public_key.key_to_bin() for address, peer in lookup.items()} == {
            other.address: other.peer.public_key.key_to_bin() for other in nodes if other is not node}
        assert node.network.reverse_ip_cache_size >= len(lookup)
    for node in nodes:
        simulation.run(node.stop())


def test_stores_close_every_sqlite_store_they_handed_out(tmp_path: Path) -> None:
    spec = NodeSpec("c0", make_keys(1)[0], LIGHT, layers=LAYERS)
    stores = Stores(tmp_path)
    opened = [stores.ledger(spec), stores.chain(spec), stores.channels(spec)]
    stores.close()
    for store in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
            store._connection.execute("SELECT 1")  # type: ignore[attr-defined]
    stores.close()  # a second close does nothing
    Stores().close()  # memory stores hold nothing to close
