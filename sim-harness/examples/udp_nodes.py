"""
Three a27 nodes on real UDP sockets on localhost: one validator, two light nodes, one transfer.

Run it with ``python examples/udp_nodes.py``. The node code is the same as in ``a27 sim``; only the runtime
differs.
"""

from __future__ import annotations

import asyncio

from a27_harness import NodeSpec, UdpRuntime, build_node, walk_to_all
from a27_ledger import Genesis, KeyPair, format_balances


async def main() -> None:
    keys = [KeyPair.generate() for _ in range(3)]
    specs = [NodeSpec("validator", keys[0], "validator"), NodeSpec("alice", keys[1], "light"),
             NodeSpec("bob", keys[2], "light")]
    genesis = Genesis.build("a27-example", {key.public_key: 1_000 for key in keys}, [keys[0].public_key])
    nodes = [await build_node(spec, genesis, UdpRuntime("127.0.0.1")) for spec in specs]
    try:
        walk_to_all(nodes)  # IPv8's introduction handshake over the sockets
        while not all(len(node.ledger.get_peers()) == 2 for node in nodes):
            await asyncio.sleep(0.05)
        alice, bob = nodes[1].ledger, nodes[2].ledger
        outcome = await alice.transfer(bob.account, 250, fee=1)
        print(f"alice -> bob 250: {'accepted' if outcome.accepted else 'rejected'} in {outcome.latency:.3f} s")
        while bob.state.balance(bob.account) != 1_250:
            await asyncio.sleep(0.05)
        names = {spec.key.public_key: spec.name for spec in specs}
        print(format_balances(bob.state.snapshot(), names))
    finally:
        for node in nodes:
            await node.stop()


if __name__ == "__main__":
    asyncio.run(main())
