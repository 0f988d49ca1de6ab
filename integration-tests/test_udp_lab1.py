"""The same node code on real IPv8 UDP sockets on localhost: Lab 1's exchange reaches the same agreement."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from a27_harness import NodeSpec, UdpRuntime, build_node, walk_to_all
from a27_harness.node import LIGHT, VALIDATOR, A27Node
from a27_ledger import Genesis
from a27_ledger.testing import make_keys

FAST = {"retry_interval": 0.3, "head_interval": 0.3, "sync_interval": 0.3}


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` on the real clock (these are real sockets) until it holds or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _lab1_on_udp() -> tuple[list[A27Node], Genesis]:
    keys = make_keys(5, seed=27)
    specs = [NodeSpec(f"v{i}", keys[i], VALIDATOR) for i in range(2)]
    specs += [NodeSpec(f"l{i}", keys[2 + i], LIGHT) for i in range(3)]
    genesis = Genesis.build("a27-udp-test", {spec.key.public_key: 1_000 for spec in specs},
                            [spec.key.public_key for spec in specs if spec.role == VALIDATOR])
    runtime = UdpRuntime("127.0.0.1")
    nodes = [await build_node(spec, genesis, runtime, settings={"ledger": FAST}) for spec in specs]
    try:
        # Real nodes find each other through IPv8's introduction handshake, not by being told.
        walk_to_all(nodes)
        await _until(lambda: all(len(node.ledger.get_peers()) == len(nodes) - 1 for node in nodes), 15,
                     "every node to verify every other")
        light = [node for node in nodes if node.spec.role == LIGHT]
        for round_number in range(3):
            outcomes = await asyncio.gather(*(
                node.ledger.transfer(light[(index + 1) % len(light)].spec.key.public_key, 10 + round_number, fee=1)
                for index, node in enumerate(light)))
            assert all(outcome.accepted for outcome in outcomes), outcomes
        overdraft = await light[0].ledger.transfer(light[1].spec.key.public_key, 1_000_000)
        assert not overdraft.accepted
        assert "insufficient" in overdraft.reason
        await _until(lambda: len({node.ledger.state.snapshot().digest() for node in nodes}) == 1
                     and all(node.ledger.state.snapshot().applied == 9 for node in nodes), 15,
                     "every node to apply the nine transfers")
    except BaseException:
        for node in nodes:
            await node.stop()
        raise
    return nodes, genesis


def test_lab1_exchange_on_real_udp_sockets_reaches_agreement() -> None:
    async def scenario() -> None:
        nodes, genesis = await _lab1_on_udp()
        try:
            for node in nodes:
                state = node.ledger.state
                state.check_invariants()
                assert state.total_supply == genesis.total_supply
                assert node.endpoint.get_address()[0] == "127.0.0.1"
            light = [node for node in nodes if node.spec.role == LIGHT]
            # Each light node sent 10+11+12 and paid 3 in fees, and received the same 33 from its neighbour.
            for node in light:
                assert nodes[0].ledger.state.balance(node.spec.key.public_key) == 1_000 - 3
            balance = await light[2].ledger.query_balance(light[0].spec.key.public_key)
            assert balance.balance == 997
            assert balance.next_nonce == 3
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(scenario())
