"""
Two IPv8 nodes play ping-pong over a simulated 50 ms link; a partition cuts them apart for three seconds.

Run it with ``python examples/ping_pong.py``: ten simulated seconds take a fraction of a second.
"""

from __future__ import annotations

import asyncio
import hashlib

from ipv8.community import Community, CommunitySettings
from ipv8.lazy_community import lazy_wrapper
from ipv8.messaging.lazy_payload import VariablePayload, vp_compile
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import ConstantLatency, Simulation, introduce


@vp_compile
class Ping(VariablePayload):
    """A ping carrying a sequence number."""

    msg_id = 1
    format_list = ["Q"]
    names = ["number"]


@vp_compile
class Pong(VariablePayload):
    """The answer to a ping, echoing its number."""

    msg_id = 2
    format_list = ["Q"]
    names = ["number"]


class PingPong(Community):
    """Answers pings with pongs and records when pongs arrive."""

    community_id = hashlib.sha1(b"a27-netsim example: ping-pong").digest()

    def __init__(self, settings: CommunitySettings) -> None:
        """Register the message handlers."""
        super().__init__(settings)
        self.sent = 0
        self.pong_times: list[float] = []
        self.add_message_handler(Ping, self.on_ping)
        self.add_message_handler(Pong, self.on_pong)

    def send_ping(self) -> None:
        """Ping every known peer."""
        self.sent += 1
        for peer in self.get_peers():
            self.ez_send(peer, Ping(self.sent))

    @lazy_wrapper(Ping)
    def on_ping(self, peer: Peer, payload: Ping) -> None:
        """Answer a ping."""
        self.ez_send(peer, Pong(payload.number))

    @lazy_wrapper(Pong)
    def on_pong(self, peer: Peer, payload: Pong) -> None:
        """Record the virtual time at which a pong arrived."""
        self.pong_times.append(asyncio.get_running_loop().time())


async def play(simulation: Simulation) -> list[float]:
    """Build two nodes, ping once a second for ten seconds, and return the pong arrival times."""
    nodes = []
    for _ in range(2):
        endpoint = simulation.network.create_endpoint()
        # Keys derived from the seed: the whole run, keys included, is reproducible.
        peer = Peer(simulation.streams.private_key(endpoint.name), endpoint.wan_address)
        nodes.append(PingPong(CommunitySettings(my_peer=peer, endpoint=endpoint, network=Network())))
    introduce(nodes)
    pinger, ponger = nodes
    simulation.network.partition([[pinger.endpoint.wan_address], [ponger.endpoint.wan_address]], at=5.5, heal_at=8.5)
    pinger.register_task("ping", pinger.send_ping, interval=1.0, delay=0.0)
    await asyncio.sleep(10.5)
    for node in nodes:
        await node.unload()
    return pinger.pong_times


def main() -> None:
    """Run the example and print what happened."""
    with Simulation(seed=42, latency=ConstantLatency(0.050)) as simulation:
        pong_times = simulation.run(play(simulation))
        totals = simulation.network.stats.totals()
    print("pongs at t =", ", ".join(f"{t:.2f}" for t in pong_times))
    print(
        f"sent {totals['sent']['messages']}, delivered {totals['delivered']['messages']}, "
        f"dropped by the partition {totals['dropped_by_cause']['partition']['messages']}"
    )


if __name__ == "__main__":
    main()
