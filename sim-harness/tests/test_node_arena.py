"""The arena of one real attacker node (``a27_harness.node.arena``), driven on the simulated network: the same node
code, only the loop's clock is virtual."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

import pytest

from a27_attacks import Arena, Attack, AttackerNode, account_key, attack_named
from a27_harness.node import LIGHT, VALIDATOR, A27Node, NodeSpec, SimulatedRuntime, build_node, introduce_all
from a27_harness.node.arena import PEER_WAIT, ArenaError, NodeArena, run_act
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosGenesis

BALANCE = 50_000


def _network(simulation: Simulation, unbuilt_validator: bool = False) -> tuple[
        Callable[[], Awaitable[list[A27Node]]], PosGenesis]:
    """Three validators (b0, b1, b2 in the genesis; b2 never built when ``unbuilt_validator``) and the attacker light
    node ``red``, introduced to each other; red last."""
    keys = make_keys(4, seed=41)
    names = ["b0", "b1", "b2", "red"]
    genesis = PosGenesis.build("a27-arena", {key.public_key: BALANCE for key in keys},
                               {key.public_key: 100_000 for key in keys[:3]},
                               names={key.public_key: name for key, name in zip(keys, names, strict=True)})
    built = [0, 1, 3] if unbuilt_validator else [0, 1, 2, 3]

    async def build() -> list[A27Node]:
        runtime = SimulatedRuntime(simulation.network)
        nodes = [await build_node(NodeSpec(names[index], keys[index], VALIDATOR if index < 3 else LIGHT,
                                           ("ledger", "pos")), genesis, runtime,
                                  settings={"pos": {"validator": index < 3}}) for index in built]
        introduce_all(nodes)
        return nodes
    return build, genesis


def _arena(node: A27Node, genesis: PosGenesis) -> tuple[NodeArena, Attack]:
    attack = attack_named("double-spend-pos").from_params(["at=1.0"])
    attacker = next(node for node in attack.attacker_nodes() if node.role == LIGHT)
    return NodeArena(node, genesis.ledger, attack, attacker), attack


def test_the_arena_shows_this_node_its_keys_and_the_genesis_validators(simulation: Simulation) -> None:
    build, genesis = _network(simulation)

    async def scenario() -> None:
        nodes = await build()
        red = nodes[-1]
        arena, _attack = _arena(red, genesis)
        assert arena.now() == 0.0
        await arena.sleep(2.5)
        assert arena.now() == 2.5
        # The validators but itself, by public key, named by the genesis.
        honest = arena.honest()
        by_key = sorted((node.spec.key.public_key, node.name) for node in nodes[:3])
        assert [(handle.public_key, handle.name) for handle in honest] == by_key
        assert {handle.role for handle in honest} == {VALIDATOR}
        with pytest.raises(ArenaError, match="node b0 runs in another process: a real node cannot read its pos"):
            next(handle for handle in honest if handle.name == "b0").communities["pos"]
        me = arena.attacker("a0")
        assert (me.public_key, me.role, me.communities["pos"]) == (red.spec.key.public_key, LIGHT, red.pos)
        assert arena.attacker_key("a0") is red.spec.key
        assert arena.attacker_key("sink-a").public_key == account_key("sink-a").public_key
        assert account_key("sink-a").public_key != account_key("sink-b").public_key
        with pytest.raises(ArenaError, match="attacker node 'a1' of double-spend-pos is not this process"):
            arena.attacker("a1")
        with pytest.raises(ArenaError, match="attacker node 'nobody'"):
            arena.attacker_key("nobody")
        # Raw packets go from red's endpoint to a validator's address.
        assert arena.send_packets("a0", "b1", [b"junk", b"more junk"]) == 2
        with pytest.raises(ArenaError, match="no validator 'red' in the genesis"):
            arena.send_packets("a0", "red", [b"junk"])
        # What only the simulator can arrange is refused by name.
        for action, call in (("set_max_peers", lambda: arena.set_max_peers("b0", 3)),
                             ("late_node", lambda: arena.late_node("x"))):
            with pytest.raises(ArenaError, match=f"double-spend-pos: {action} arranges other nodes"):
                call()
        for action, waiting in (("take_offline", arena.take_offline("b0", 1.0)),
                                ("introduce_first", arena.introduce_first("b0", ["a0"])),
                                ("join_late", arena.join_late("x"))):
            with pytest.raises(ArenaError, match=f"{action} arranges other nodes"):
                await waiting
        for node in nodes:
            await node.stop()

    simulation.run(scenario())


def test_double_spend_pos_acts_on_the_arena_and_one_transfer_becomes_final(
        simulation: Simulation, caplog: pytest.LogCaptureFixture) -> None:
    build, genesis = _network(simulation)

    async def scenario() -> tuple[list[A27Node], NodeArena]:
        nodes = await build()
        red = nodes[-1]
        arena, attack = _arena(red, genesis)
        with caplog.at_level(logging.INFO, logger="a27.node"):
            await run_act(arena, attack, "red")
            await asyncio.sleep(10.0)
        for node in nodes:
            await node.stop()
        return nodes, arena

    nodes, arena = simulation.run(scenario())
    first, second = (handle.name for handle in arena.honest()[:2])
    assert arena.notes["amount signed twice"] == BALANCE
    verdicts = [str(arena.notes[f"to {sink} via {validator}"]) for sink, validator in
                (("sink-a", first), ("sink-b", second))]
    assert verdicts.count("accepted") >= 1, verdicts
    lines = [record.getMessage() for record in caplog.records]
    assert sum("double-spend-pos sends transaction" in line and f" to {name} at " in line
               for line in lines for name in (first, second)) == 2
    assert sum(f"double-spend-pos: {name} answered transaction" in line
               for line in lines for name in (first, second)) == 2
    assert any("double-spend-pos: act finished at" in line for line in lines)
    sinks = [account_key(name).public_key for name in ("sink-a", "sink-b")]
    for node in nodes:
        state = node.pos.chain.state
        assert sorted(state.balance(sink) for sink in sinks) == [0, BALANCE], node.name
        assert state.balance(nodes[-1].spec.key.public_key) == 0


class _Failing(Attack):
    """An attack whose act fails after a first note."""

    name = "failing"
    lab = "pos"
    family = "flooding"
    summary = "Fails."
    success = "never"
    defences: ClassVar[tuple[str, ...]] = ()

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        return (AttackerNode("a0", LIGHT, "fails"),)

    async def act(self, arena: Arena) -> None:
        arena.note("before", 1)
        arena.at(1.0, lambda: arena.send_transaction("a0", None, "b2"))  # type: ignore[arg-type]
        await arena.sleep(0.5)


def test_a_failing_act_is_one_log_line_and_an_unknown_validator_is_waited_for_then_refused(
        simulation: Simulation, caplog: pytest.LogCaptureFixture) -> None:
    build, genesis = _network(simulation, unbuilt_validator=True)

    async def scenario() -> float:
        nodes = await build()
        red = nodes[-1]
        attack = _Failing()
        arena = NodeArena(red, genesis.ledger, attack, attack.attacker_nodes()[0])
        with caplog.at_level(logging.INFO, logger="a27.node"):
            await run_act(arena, attack, "red")
        for node in nodes:
            await node.stop()
        return arena.now()

    ended = simulation.run(scenario())
    lines = [record.getMessage() for record in caplog.records]
    assert any(f"failing: validators not verified peers after {PEER_WAIT:g} s: b2; acting anyway" in line
               for line in lines), lines
    assert any("failing: before: 1" in line for line in lines)
    failed = [line for line in lines if "act failed" in line]
    assert len(failed) == 1 and "\n" not in failed[0], lines
    assert f"ArenaError: validator b2 is not a verified peer of red after {PEER_WAIT:g} s" in failed[0]
    # Waited for the validators, then for b2 again when sending to it.
    assert ended >= 2 * PEER_WAIT
