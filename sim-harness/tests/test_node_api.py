"""What a real node's API does with a submitted transfer (``a27_harness.node.api``), driven on the simulated network:
the same node code, only the loop's clock is virtual.

A transfer submitted through a light node's API goes to the first validator in account order. When that validator
censors the sender (``a27_attacks.Censor``: admits, then neither relays nor includes), the API sees the transfer on
to finality as a light node sees its own (``PosCommunity.see_final``, ``pos.resubmit``): after ``resubmit_after``
seconds it submits it to the next validator, which relays it, and an honest proposer includes it. With
``pos.resubmit`` off the transfer stays pending: the check can fail.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from a27_attacks.censor import Censor
from a27_harness.node import LIGHT, VALIDATOR, A27Node, NodeSpec, SimulatedRuntime, build_node, introduce_all
from a27_harness.node.api import NodeApi
from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_netsim import Simulation
from a27_pos import PosDefences, PosGenesis

BALANCE = 50_000


async def _censored_network(simulation: Simulation, defences: PosDefences) -> tuple[list[A27Node], bytes]:
    """Three validators, the first in account order censoring the wallet ``keys[4]``, and a light node (last) whose
    PoS defences are ``defences``; the censor's account."""
    keys = make_keys(5, seed=43)
    validators = sorted(keys[:3], key=lambda key: key.public_key)
    censor, wallet = validators[0].public_key, keys[4].public_key
    genesis = PosGenesis.build("a27-api", {key.public_key: BALANCE for key in keys},
                               {key.public_key: 100_000 for key in validators})
    runtime = SimulatedRuntime(simulation.network)
    nodes = []
    for index, key in enumerate(validators):
        behaviour = {"behaviour": Censor([wallet])} if key.public_key == censor else {}
        nodes.append(await build_node(NodeSpec(f"v{index}", key, VALIDATOR, ("ledger", "pos")), genesis, runtime,
                                      settings={"pos": {"validator": True, **behaviour}}))
    nodes.append(await build_node(NodeSpec("l0", keys[3], LIGHT, ("ledger", "pos")), genesis, runtime,
                                  settings={"pos": {"validator": False, "defences": defences}}))
    introduce_all(nodes)
    return nodes, censor


def _submit_the_wallets_transfer(simulation: Simulation, defences: PosDefences) -> tuple[
        dict[str, object], dict[str, object], int, bytes]:
    """Submit one transfer of the wallet through the light node's API, wait up to 40 s for it to be final there; the
    API's first answer, its last, the light node's resubmissions and the censor's account."""
    async def scenario() -> tuple[dict[str, object], dict[str, object], int, bytes]:
        nodes, censor = await _censored_network(simulation, defences)
        light = nodes[-1]
        api = NodeApi(light)
        api.start()
        await asyncio.sleep(2.0)
        wallet = make_keys(5, seed=43)[4]
        transfer = sign_transfer(wallet, nodes[1].spec.key.public_key, 100, 0)
        first = await api.submit(transfer.encode())
        last = first
        for _ in range(4):  # the API waits at most MAX_WAIT seconds per request
            last = await api.wait_final(transfer.tx_id, 10.0)
        api.close()
        for node in nodes:
            await node.stop()
        return first, last, light.pos.stats["resubmitted"], censor

    return simulation.run(scenario())


def test_a_transfer_the_first_validator_censors_is_resubmitted_and_becomes_final(
        simulation: Simulation, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="a27_attacks.censor"):
        first, last, resubmitted, censor = _submit_the_wallets_transfer(simulation, PosDefences())
    assert (first["status"], first["validator"]) == ("pending", censor.hex())
    assert last["status"] == "final", last
    assert resubmitted == 1
    assert any("relayed to nobody" in record.getMessage() for record in caplog.records)


def test_without_resubmissions_the_censored_transfer_stays_pending(simulation: Simulation) -> None:
    first, last, resubmitted, censor = _submit_the_wallets_transfer(simulation, PosDefences(resubmit=False))
    assert first["validator"] == censor.hex()
    assert (last["status"], resubmitted) == ("pending", 0)


def test_the_status_names_the_peers_and_counts_the_validators_among_them_with_and_without_pos(
        simulation: Simulation) -> None:
    keys = make_keys(3, seed=44)
    genesis = PosGenesis.build("a27-status", {key.public_key: BALANCE for key in keys},
                               {key.public_key: 100_000 for key in keys[:1]})

    async def scenario() -> list[dict[str, object]]:
        runtime = SimulatedRuntime(simulation.network)
        statuses = []
        for layers in (("ledger", "pos"), ("ledger",)):
            options = {"pos": {"validator": False}} if "pos" in layers else {}
            nodes = [await build_node(NodeSpec(f"{name}-{len(layers)}", key, role, layers), genesis, runtime,
                                      settings={"pos": {"validator": True}} if "pos" in layers and role == VALIDATOR
                                      else options)
                     for name, key, role in (("v0", keys[0], VALIDATOR), ("l0", keys[1], LIGHT),
                                             ("l1", keys[2], LIGHT))]
            introduce_all(nodes)
            statuses.append(NodeApi(nodes[1]).status())
            for node in nodes:
                await node.stop()
        return statuses

    for status in simulation.run(scenario()):
        # l0's peers: the validator v0 and the light node l1, by account, sorted; one of them validates.
        assert status["peer_accounts"] == sorted([keys[0].public_key.hex(), keys[2].public_key.hex()])
        assert (status["peers"], status["validator_peers"]) == (2, 1)
