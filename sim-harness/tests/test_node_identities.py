"""A real attacker node's in-process identities (``a27_harness.node.arena.Identities``): the attack's other attacker
nodes as nodes of their own in the same process, seen through the node's arena; on the simulated network (the same
node code, a virtual clock)."""

from __future__ import annotations

import asyncio

import pytest
from ipv8.messaging.interfaces.endpoint import Endpoint

from a27_attacks import AttackerNode, attack_named
from a27_harness.node import LIGHT, VALIDATOR, A27Node, NodeSpec, SimulatedRuntime, build_node, introduce_all
from a27_harness.node.arena import MAX_IDENTITIES, ArenaError, Identities, NodeArena, identity_key, run_act
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosGenesis


def _genesis() -> tuple[PosGenesis, list[NodeSpec]]:
    keys = make_keys(4, seed=43)
    names = ["b0", "b1", "b2", "red"]
    genesis = PosGenesis.build("a27-identities", {key.public_key: 1_000 for key in keys},
                               {key.public_key: 100_000 for key in keys[:3]},
                               names={key.public_key: name for key, name in zip(keys, names, strict=True)})
    return genesis, [NodeSpec(name, key, VALIDATOR if index < 3 else LIGHT, ("ledger", "pos"))
                     for index, (name, key) in enumerate(zip(names, keys, strict=True))]


def test_the_identities_play_the_attacks_other_nodes_and_send_sybil_votes_that_validators_refuse(
        simulation: Simulation) -> None:
    genesis, specs = _genesis()
    attack = attack_named("sybil").from_params(["sybils=3", "at=0.5", "hold=1.0"])
    played, *others = attack.attacker_nodes()
    walks: list[str] = []
    validators: list[A27Node] = []

    async def walk(identity: A27Node) -> None:
        """The node's walk, on the simulated network: to each validator's address."""
        walks.append(identity.name)
        for validator in validators:
            for overlay in identity.overlays.values():
                overlay.walk_to(validator.address)
        await asyncio.sleep(3600)

    async def scenario() -> tuple[NodeArena, dict[str, bytes], int, list[bool]]:
        runtime = SimulatedRuntime(simulation.network)
        nodes = [await build_node(spec, genesis, runtime, settings={"pos": {"validator": spec.role == VALIDATOR}})
                 for spec in specs]
        introduce_all(nodes)
        validators.extend(nodes[:3])
        red = nodes[-1]
        identities = await Identities.start(red, genesis, others, lambda spec, _node: {"pos": {"validator": False}},
                                            walk, runtime=runtime)
        keys = {name: node.spec.key.public_key for name, node in identities.nodes.items()}
        arena = NodeArena(red, genesis.ledger, attack, played, identities=identities.nodes)
        # Every attacker node is a handle with its own communities; the genesis validators are the honest ones.
        assert arena.attacker("a0").public_key == red.spec.key.public_key
        assert arena.attacker("a2").communities["pos"] is identities.nodes["a2"].pos
        assert arena.attacker_key("a1").public_key == keys["a1"]
        assert [handle.name for handle in arena.honest()] == sorted(["b0", "b1", "b2"],
                                                                    key=lambda name: dict(
                                                                        (spec.name, spec.key.public_key)
                                                                        for spec in specs)[name])
        with pytest.raises(ArenaError, match=r"attacker node 'a3' of sybil is not this process: this real node "
                                             r"plays a0, a1, a2"):
            arena.attacker("a3")
        acting = asyncio.ensure_future(run_act(arena, attack, "red"))
        await asyncio.sleep(3.0)  # the votes end after hold; the identities keep walking to light nodes they met
        assert not acting.done()
        acting.cancel()
        await asyncio.gather(acting, return_exceptions=True)
        refused = sum(node.pos.drops["not a validator"] for node in nodes[:3])
        open_before = [node.endpoint.is_open() for node in identities.nodes.values()]
        stopped = list(identities.nodes.values())
        await identities.stop()
        closed = [not node.endpoint.is_open() for node in stopped]
        for node in nodes:
            await node.stop()
        return arena, keys, refused, open_before + closed

    arena, keys, refused, open_then_closed = simulation.run(scenario())
    assert walks == ["red-a1", "red-a2"]
    # Each identity's key is derived from the owner's account and its name: the same on every run, its own.
    owner = specs[-1].key.public_key
    assert keys == {name: identity_key(owner, name).public_key for name in ("a1", "a2")}
    assert len({owner, *keys.values()}) == 3
    assert identity_key(owner, "a1").public_key != identity_key(specs[0].key.public_key, "a1").public_key
    # Each of the 3 nodes sent a prevote and a precommit to each of the 3 validators, every 0.5 s for 1 s (3 rounds);
    # the validators refused the ones at their current height (no stake), the later ones are stale.
    assert arena.notes["sybil votes sent"] == 3 * 2 * 3 * 3
    assert refused > 0
    assert all(open_then_closed)


def test_the_identities_are_bounded_and_one_that_fails_stops_those_started(simulation: Simulation) -> None:
    genesis, specs = _genesis()
    too_many = [AttackerNode(f"a{index}", LIGHT, "a stake-less identity") for index in range(1, MAX_IDENTITIES + 1)]
    opened: list[Endpoint] = []

    class Recording(SimulatedRuntime):
        """Notes every endpoint it opens."""

        async def open_endpoint(self, spec: NodeSpec) -> Endpoint:
            endpoint = await super().open_endpoint(spec)
            opened.append(endpoint)
            return endpoint

    async def walk(_identity: A27Node) -> None:
        await asyncio.sleep(3600)

    def settings_for(spec: NodeSpec, node: AttackerNode) -> dict[str, dict[str, object]]:
        if node.name == "a2":
            raise ValueError("a2 cannot be built")
        return {"pos": {"validator": False}}

    async def scenario() -> None:
        red = await build_node(specs[-1], genesis, SimulatedRuntime(simulation.network),
                               settings={"pos": {"validator": False}})
        runtime = Recording(simulation.network)
        with pytest.raises(ArenaError, match=rf"^{MAX_IDENTITIES + 1} attacker nodes in one process; at most "
                                             rf"{MAX_IDENTITIES}$"):
            await Identities.start(red, genesis, too_many, settings_for, walk, runtime=runtime)
        assert opened == []
        with pytest.raises(ValueError, match="a2 cannot be built"):
            await Identities.start(red, genesis, too_many[:3], settings_for, walk, runtime=runtime)
        # a1 was built, then stopped when a2 failed.
        assert len(opened) == 1 and not opened[0].is_open()
        await red.stop()

    simulation.run(scenario())
