"""A small gossip run that exercises every random choice of a simulation; used by the determinism tests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random

from ipv8.community import Community, CommunitySettings
from ipv8.lazy_community import lazy_wrapper
from ipv8.messaging.lazy_payload import VariablePayload, vp_compile
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import LogNormalLatency, Simulation, barabasi_albert, introduce


@vp_compile
class Rumour(VariablePayload):
    """A rumour with a hop count."""

    msg_id = 3
    format_list = ["Q", "B"]
    names = ["rumour", "hops"]


class Gossip(Community):
    """Starts rumours at random times and forwards the ones it hears, to random neighbours."""

    community_id = hashlib.sha1(b"a27-netsim tests: gossip").digest()

    def __init__(self, settings: CommunitySettings, rng: random.Random) -> None:
        super().__init__(settings)
        self.rng = rng
        self.neighbours: list[Peer] = []
        self.add_message_handler(Rumour, self.on_rumour)

    def start(self) -> None:
        self.neighbours = sorted(self.get_peers(), key=lambda peer: peer.address)
        self.register_task("rumour", self.start_rumour, interval=0.5, delay=self.rng.random())

    def start_rumour(self) -> None:
        # Draws from the global random too, as IPv8 code does.
        self.ez_send(self.rng.choice(self.neighbours), Rumour(random.getrandbits(32), 0))

    @lazy_wrapper(Rumour)
    def on_rumour(self, peer: Peer, payload: Rumour) -> None:
        if payload.hops < 3 and self.rng.random() < 0.7:
            self.ez_send(self.rng.choice(self.neighbours), Rumour(payload.rumour, payload.hops + 1))


def gossip_run(seed: int, nodes: int = 12, seconds: float = 15.0) -> tuple[str, str]:
    """Run the gossip and return its trace digest and its counters as canonical JSON."""
    with Simulation(seed, latency=LogNormalLatency(0.03, 0.6), loss=0.05, trace=True) as simulation:
        graph = barabasi_albert(nodes, 2, seed)

        async def main() -> None:
            overlays = []
            for index in range(nodes):
                endpoint = simulation.network.create_endpoint()
                peer = Peer(simulation.streams.private_key(endpoint.name), endpoint.wan_address)
                settings = CommunitySettings(my_peer=peer, endpoint=endpoint, network=Network())
                overlays.append(Gossip(settings, simulation.streams.stream(f"node-{index}")))
            introduce(overlays, graph)
            addresses = [overlay.endpoint.wan_address for overlay in overlays]
            simulation.network.partition([addresses[: nodes // 2]], at=4.0, heal_at=7.0)
            simulation.network.set_down(addresses[1], at=2.0)
            simulation.network.set_up(addresses[1], at=9.0)
            for overlay in overlays:
                overlay.start()
            await asyncio.sleep(seconds)
            for overlay in overlays:
                await overlay.unload()

        simulation.run(main())
        return simulation.network.trace_digest(), json.dumps(simulation.network.stats.summary(), sort_keys=True)
