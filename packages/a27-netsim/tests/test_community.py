"""IPv8 communities with curve25519 keys running on the simulator: messages, periodic tasks, introductions."""

from __future__ import annotations

import asyncio
import hashlib

from ipv8.community import Community, CommunitySettings
from ipv8.keyvault.crypto import default_eccrypto
from ipv8.lazy_community import lazy_wrapper
from ipv8.messaging.lazy_payload import VariablePayload, vp_compile
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import LogNormalLatency, Simulation, introduce


@vp_compile
class Note(VariablePayload):
    """A short signed note."""

    msg_id = 1
    format_list = ["varlenH"]
    names = ["text"]


class Notes(Community):
    """Sends a note to every peer on a timer and records the notes it receives, with their arrival time."""

    community_id = hashlib.sha1(b"a27-netsim tests: notes").digest()

    def __init__(self, settings: CommunitySettings) -> None:
        super().__init__(settings)
        self.inbox: list[tuple[float, bytes, bytes]] = []
        self.add_message_handler(Note, self.on_note)

    def broadcast(self) -> None:
        for peer in self.get_peers():
            self.ez_send(peer, Note(b"hello from " + self.my_peer.mid[:4]))

    @lazy_wrapper(Note)
    def on_note(self, peer: Peer, payload: Note) -> None:
        self.inbox.append((asyncio.get_running_loop().time(), peer.mid, payload.text))


def make_notes(simulation: Simulation, count: int) -> list[Notes]:
    nodes = []
    for _ in range(count):
        endpoint = simulation.network.create_endpoint()
        peer = Peer(default_eccrypto.generate_key("curve25519"), endpoint.wan_address)
        nodes.append(Notes(CommunitySettings(my_peer=peer, endpoint=endpoint, network=Network())))
    return nodes


def test_signed_messages_and_a_periodic_task() -> None:
    with Simulation(3, latency=LogNormalLatency(0.04, 0.3)) as simulation:

        async def main() -> list[Notes]:
            nodes = make_notes(simulation, 3)
            introduce(nodes)
            for node in nodes:
                node.register_task("broadcast", node.broadcast, interval=1.0, delay=0.5)
            await asyncio.sleep(3.25)
            for node in nodes:
                await node.unload()
            return nodes

        nodes = simulation.run(main())
        totals = simulation.network.stats.totals()
    for node in nodes:
        assert len(node.inbox) == 3 * 2
        senders = {mid for _, mid, _ in node.inbox}
        assert senders == {other.my_peer.mid for other in nodes if other is not node}
        assert all(text.startswith(b"hello from ") for _, _, text in node.inbox)
        assert all(0.5 < time < 3.25 for time, _, _ in node.inbox)
    assert totals["sent"]["messages"] == totals["delivered"]["messages"] == 18


def test_ipv8_introduction_requests_work_over_the_simulated_network() -> None:
    with Simulation(4) as simulation:

        async def main() -> list[Notes]:
            nodes = make_notes(simulation, 3)
            introduce(nodes[:1])
            introduce(nodes[1:2])
            introduce(nodes[2:])
            nodes[0].walk_to(nodes[1].endpoint.wan_address)
            nodes[2].walk_to(nodes[1].endpoint.wan_address)
            await asyncio.sleep(1)
            for node in nodes:
                await node.unload()
            return nodes

        nodes = simulation.run(main())
    middle = {peer.mid for peer in nodes[1].get_peers()}
    assert middle == {nodes[0].my_peer.mid, nodes[2].my_peer.mid}
    assert nodes[1].my_peer.mid in {peer.mid for peer in nodes[0].get_peers()}
    assert nodes[0].my_estimated_wan == nodes[0].endpoint.wan_address
