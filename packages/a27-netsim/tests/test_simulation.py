"""The Simulation context and introduce()."""

from __future__ import annotations

import asyncio
import hashlib
import random

import networkx as nx
import pytest
from ipv8.community import Community, CommunitySettings
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import DiscreteEventLoop, Simulation, TopologyError, introduce


class Plain(Community):
    """A community with no messages of its own."""

    community_id = hashlib.sha1(b"a27-netsim tests: plain").digest()


def build(simulation: Simulation, count: int) -> list[Plain]:
    overlays = []
    for _ in range(count):
        endpoint = simulation.network.create_endpoint()
        peer = Peer(simulation.streams.private_key(endpoint.name), endpoint.wan_address)
        overlays.append(Plain(CommunitySettings(my_peer=peer, endpoint=endpoint, network=Network())))
    return overlays


async def unload(overlays: list[Plain]) -> None:
    for overlay in overlays:
        await overlay.unload()


def test_run_returns_the_result_in_virtual_time(simulation: Simulation) -> None:
    async def main() -> tuple[float, bool]:
        await asyncio.sleep(12)
        return asyncio.get_running_loop().time(), asyncio.get_event_loop() is simulation.loop

    assert simulation.run(main()) == (12.0, True)
    assert simulation.run(asyncio.sleep(3, result="again")) == "again"
    assert simulation.loop.time() == 15.0


def test_run_sets_and_restores_the_current_event_loop() -> None:
    previous = DiscreteEventLoop()
    asyncio.set_event_loop(previous)
    try:
        with Simulation(1) as simulation:
            seen = simulation.run(_current_loop())
            assert seen is simulation.loop
            assert asyncio.get_event_loop() is previous
    finally:
        asyncio.set_event_loop(None)
        previous.close()


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_event_loop()


async def _draw() -> list[float]:
    return [random.random() for _ in range(3)]


def test_run_seeds_global_random_from_the_seed() -> None:
    with Simulation(11) as first, Simulation(11) as second, Simulation(12) as other:
        draws = [first.run(_draw()), first.run(_draw())]
        assert [second.run(_draw()), second.run(_draw())] == draws
        assert draws[0] != draws[1]
        assert other.run(_draw()) != draws[0]


def test_close_cancels_pending_tasks_and_closes_the_loop() -> None:
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(10**9)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def start() -> None:
        asyncio.get_running_loop().create_task(forever())

    simulation = Simulation(1)
    simulation.run(start())
    simulation.close()
    assert cancelled == [True]
    assert simulation.loop.is_closed()
    simulation.close()


def test_introduce_gives_full_visibility(simulation: Simulation) -> None:
    async def main() -> list[Plain]:
        overlays = build(simulation, 4)
        introduce(overlays)
        return overlays

    overlays = simulation.run(main())
    for overlay in overlays:
        others = {other.my_peer.public_key.key_to_bin() for other in overlays if other is not overlay}
        assert {peer.public_key.key_to_bin() for peer in overlay.get_peers()} == others
        assert overlay.my_estimated_wan == overlay.endpoint.wan_address
        assert overlay.my_estimated_lan == overlay.endpoint.lan_address
        for other in overlays:
            if other is not overlay:
                peer = overlay.network.get_verified_by_address(other.endpoint.wan_address)
                assert peer is not None
                assert peer.public_key.key_to_bin() == other.my_peer.public_key.key_to_bin()
    simulation.run(unload(overlays))


def test_introduce_follows_a_graph(simulation: Simulation) -> None:
    async def main() -> list[Plain]:
        overlays = build(simulation, 5)
        introduce(overlays, nx.star_graph(4))
        return overlays

    overlays = simulation.run(main())
    assert [len(overlay.get_peers()) for overlay in overlays] == [4, 1, 1, 1, 1]
    simulation.run(unload(overlays))


def test_introduce_rejects_graph_nodes_without_an_overlay(simulation: Simulation) -> None:
    async def main() -> None:
        overlays = build(simulation, 2)
        try:
            with pytest.raises(TopologyError):
                introduce(overlays, nx.path_graph(3))
        finally:
            await unload(overlays)

    simulation.run(main())
