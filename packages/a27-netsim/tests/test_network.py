"""SimulatedNetwork: latency, loss, partitions, churn, unknown addresses, restrictions, counters and the trace."""

from __future__ import annotations

import networkx as nx
import pytest
from ipv8.messaging.interfaces.udp.endpoint import UDPv4Address
from netsim_helpers import COMMUNITY_A, COMMUNITY_B, Recorder, packet

from a27_netsim import (
    ConstantLatency,
    DiscreteEventLoop,
    NetworkConfigError,
    RegionLatency,
    SimulatedEndpoint,
    SimulatedNetwork,
    UniformLatency,
    UnknownAddressError,
    node_address,
)


def make(count: int, **kwargs: object) -> tuple[SimulatedNetwork, list[SimulatedEndpoint], list[Recorder]]:
    network = SimulatedNetwork(3, **kwargs)  # type: ignore[arg-type]
    endpoints = [network.create_endpoint() for _ in range(count)]
    return network, endpoints, [Recorder(endpoint, network.loop) for endpoint in endpoints]


def test_latency_is_applied_per_packet() -> None:
    network, (alice, bob), (_, at_bob) = make(2, latency=ConstantLatency(0.25))
    alice.send(bob.wan_address, packet())
    network.loop.run_for(0.2)
    assert at_bob.received == []
    network.loop.run_for(0.1)
    assert at_bob.received == [(0.25, alice.wan_address, packet())]


def test_random_latency_stays_in_its_bounds_and_is_seeded() -> None:
    arrivals = []
    for _ in range(2):
        network, (alice, bob), (_, at_bob) = make(2, latency=UniformLatency(0.01, 0.05))
        for _ in range(200):
            alice.send(bob.wan_address, packet())
        network.loop.run_for(1)
        arrivals.append([time for time, _, _ in at_bob.received])
    assert arrivals[0] == arrivals[1]
    assert len(arrivals[0]) == 200
    assert all(0.01 <= time <= 0.05 for time in arrivals[0])


def test_region_latency_uses_the_regions_of_both_ends() -> None:
    network = SimulatedNetwork(
        1, latency=RegionLatency({("eu", "eu"): 0.01, ("eu", "us"): 0.04, ("us", "us"): 0.02}, jitter=0.0)
    )
    eu = network.create_endpoint(region="eu")
    us = network.create_endpoint(region="us")
    recorder = Recorder(us, network.loop)
    eu.send(us.wan_address, packet())
    network.loop.run_for(1)
    assert recorder.received[0][0] == 0.04
    assert network.create_endpoint().region == "eu"


def test_loss_rate_is_close_to_the_probability() -> None:
    network, (alice, bob), (_, at_bob) = make(2, loss=0.3)
    for _ in range(5000):
        alice.send(bob.wan_address, packet())
    network.loop.run_for(1)
    totals = network.stats.totals()
    lost = totals["dropped_by_cause"]["loss"]["messages"]
    assert 0.27 < lost / 5000 < 0.33
    assert len(at_bob.received) == totals["delivered"]["messages"] == 5000 - lost
    assert totals["in_flight"] == 0


def test_link_loss_overrides_the_global_probability_both_ways() -> None:
    network, (a, b, c), recorders = make(3, loss=0.0)
    network.set_link_loss(b.wan_address, a.wan_address, 1.0)
    a.send(b.wan_address, packet())
    b.send(a.wan_address, packet())
    a.send(c.wan_address, packet())
    network.loop.run_for(1)
    assert [len(recorder.received) for recorder in recorders] == [0, 0, 1]
    with pytest.raises(NetworkConfigError):
        network.set_link_loss(a.wan_address, b.wan_address, 1.5)


def test_partition_splits_and_heals_at_the_given_times() -> None:
    network, (a, b, c, d), recorders = make(4)
    network.partition([{a.wan_address, b.wan_address}, {c.wan_address}], at=1.0, heal_at=2.0)

    def everyone_sends() -> None:
        for sender in (a, b, c, d):
            for receiver in (a, b, c, d):
                if sender is not receiver:
                    sender.send(receiver.wan_address, packet())

    for when in (0.5, 1.5, 2.5):
        network.loop.call_at(when, everyone_sends)
    network.loop.run_for(3)
    during = [{source for time, source, _ in recorder.received if 1.0 < time < 2.0} for recorder in recorders]
    assert during == [{b.wan_address}, {a.wan_address}, set(), set()]
    before_and_after = [
        sum(1 for time, _, _ in recorder.received if time < 1.0 or time > 2.0) for recorder in recorders
    ]
    assert before_and_after == [6, 6, 6, 6]
    assert network.stats.totals()["dropped_by_cause"]["partition"]["messages"] == 12 - 2


def test_a_scheduled_heal_ends_only_its_own_partition() -> None:
    network, (a, b), _ = make(2)
    network.partition([[a.wan_address], [b.wan_address]], heal_at=5.0)
    network.partition([[a.wan_address], [b.wan_address]], at=3.0)
    network.loop.run_for(6)
    a.send(b.wan_address, packet())
    network.heal()
    b.send(a.wan_address, packet())
    network.loop.run_for(1)
    dropped = network.stats.totals()["dropped_by_cause"]["partition"]["messages"]
    assert dropped == 1


def test_partition_rejects_overlapping_groups_and_unknown_addresses() -> None:
    network, (a, b), _ = make(2)
    with pytest.raises(NetworkConfigError):
        network.partition([[a.wan_address], [a.wan_address, b.wan_address]])
    with pytest.raises(UnknownAddressError):
        network.partition([[UDPv4Address("10.0.0.1", 1)]])
    with pytest.raises(NetworkConfigError):
        network.partition([[a.wan_address]], at=2.0, heal_at=1.0)


def test_a_down_node_neither_sends_nor_receives_and_comes_back() -> None:
    network, (a, b), (at_a, at_b) = make(2)
    network.set_down(b.wan_address, at=1.0)
    network.set_up(b.wan_address, at=2.0)
    network.loop.run_until(1.5)
    assert not b.is_open()
    a.send(b.wan_address, packet())
    b.send(a.wan_address, packet())
    network.loop.run_until(2.5)
    assert b.is_open()
    a.send(b.wan_address, packet())
    network.loop.run_for(1)
    assert at_a.received == []
    assert [time for time, _, _ in at_b.received] == [2.501]
    assert network.stats.totals()["dropped_by_cause"]["down"]["messages"] == 2


def test_a_node_that_goes_down_loses_packets_in_flight() -> None:
    network, (a, b), (_, at_b) = make(2, latency=ConstantLatency(1.0))
    a.send(b.wan_address, packet())
    network.set_down(b.wan_address, at=0.5)
    network.loop.run_for(2)
    assert at_b.received == []
    assert network.stats.nodes()[0]["dropped_by_cause"]["down"]["messages"] == 1


def test_sending_to_an_unknown_address_is_a_counted_drop() -> None:
    network, (a,), _ = make(1)
    a.send(UDPv4Address("203.0.113.9", 4), packet())
    a.send(("198.18.0.1", 1), packet())
    network.loop.run_for(1)
    totals = network.stats.totals()
    assert totals["dropped_by_cause"]["unknown_address"]["messages"] == 2
    assert totals["sent"]["messages"] == 2


def test_restrict_to_drops_packets_between_non_neighbours() -> None:
    network, endpoints, recorders = make(3)
    addresses = [endpoint.wan_address for endpoint in endpoints]
    network.restrict_to(nx.path_graph(3), addresses)
    endpoints[0].send(addresses[1], packet())
    endpoints[0].send(addresses[2], packet())
    endpoints[0].send(addresses[0], packet())
    network.loop.run_for(1)
    assert [len(recorder.received) for recorder in recorders] == [1, 1, 0]
    assert network.stats.totals()["dropped_by_cause"]["topology"]["messages"] == 1
    network.restrict_to(None)
    endpoints[0].send(addresses[2], packet())
    network.loop.run_for(1)
    assert len(recorders[2].received) == 1
    with pytest.raises(NetworkConfigError):
        network.restrict_to(nx.path_graph(4), addresses)


def test_counters_per_node_and_per_message_type() -> None:
    network, (a, b), _ = make(2)
    a.send(b.wan_address, packet(1, COMMUNITY_A, b"12345"))
    a.send(b.wan_address, packet(2, COMMUNITY_A, b"1"))
    b.send(a.wan_address, packet(1, COMMUNITY_B, b""))
    network.loop.run_for(1)
    summary = network.stats.summary()
    assert summary["totals"]["sent"] == {"messages": 3, "bytes": 23 * 3 + 6}
    alice, bob = summary["nodes"]
    assert (alice["node"], alice["address"]) == ("node-0", "198.18.0.1:8090")
    assert alice["sent"]["messages"] == 2
    assert alice["received"] == {"messages": 1, "bytes": 23}
    assert bob["received"] == {"messages": 2, "bytes": 23 * 2 + 6}
    kinds = [
        (kind["community_id"], kind["message_id"], kind["delivered"]["messages"]) for kind in summary["message_types"]
    ]
    assert kinds == [(COMMUNITY_A.hex(), 1, 1), (COMMUNITY_A.hex(), 2, 1), (COMMUNITY_B.hex(), 1, 1)]


def test_trace_records_packets_and_faults() -> None:
    network, (a, b), _ = make(2, trace=True)
    a.send(b.wan_address, packet(5))
    network.set_down(b.wan_address, at=0.5)
    network.loop.run_for(1)
    a.send(b.wan_address, packet(6))
    events = [(event.time, event.event, event.src, event.dst, event.msg_id) for event in network.trace]
    assert events == [
        (0.0, "send", "node-0", "node-1", 5),
        (0.001, "deliver", "node-0", "node-1", 5),
        (0.5, "down", "node-1", "", -1),
        (1.0, "send", "node-0", "node-1", 6),
    ]
    assert len(network.trace_digest()) == 64


def test_trace_digest_requires_the_trace() -> None:
    network = SimulatedNetwork(1)
    assert network.trace == []
    with pytest.raises(NetworkConfigError):
        network.trace_digest()


def test_configuration_errors() -> None:
    with pytest.raises(NetworkConfigError):
        SimulatedNetwork(1, loss=-0.1)
    network = SimulatedNetwork(1)
    network.create_endpoint("same")
    with pytest.raises(NetworkConfigError):
        network.create_endpoint("same")
    with pytest.raises(UnknownAddressError):
        network.endpoint_at(("198.18.0.99", 8090))
    with pytest.raises(NetworkConfigError):
        node_address(200_000)


def test_network_creates_its_own_loop_when_given_none() -> None:
    network = SimulatedNetwork(1)
    assert isinstance(network.loop, DiscreteEventLoop)
    loop = DiscreteEventLoop()
    assert SimulatedNetwork(1, loop=loop).loop is loop
