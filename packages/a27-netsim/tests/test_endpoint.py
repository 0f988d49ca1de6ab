"""SimulatedEndpoint: the IPv8 Endpoint interface, addresses and byte counters."""

from __future__ import annotations

import ipaddress

import pytest
from ipv8.messaging.interfaces.endpoint import Endpoint, EndpointClosedException
from ipv8.messaging.interfaces.udp.endpoint import UDPv4Address
from netsim_helpers import Recorder, packet

from a27_netsim import ADDRESS_BLOCK, DEFAULT_PORT, SimulatedNetwork


def test_endpoint_implements_the_ipv8_interface() -> None:
    network = SimulatedNetwork(1)
    endpoint = network.create_endpoint()
    assert isinstance(endpoint, Endpoint)
    assert not Endpoint.__abstractmethods__ - set(vars(type(endpoint)))


def test_addresses_are_deterministic_and_in_the_benchmark_block() -> None:
    first = SimulatedNetwork(1).create_endpoint()
    network = SimulatedNetwork(2)
    endpoints = [network.create_endpoint() for _ in range(300)]
    assert first.wan_address == endpoints[0].wan_address == UDPv4Address("198.18.0.1", DEFAULT_PORT)
    assert endpoints[299].wan_address == UDPv4Address("198.18.1.44", DEFAULT_PORT)
    assert len({endpoint.wan_address for endpoint in endpoints}) == 300
    for endpoint in endpoints:
        assert isinstance(endpoint.wan_address, UDPv4Address)
        assert endpoint.lan_address == endpoint.wan_address == endpoint.get_address()
        assert ipaddress.IPv4Address(endpoint.wan_address.ip) in ADDRESS_BLOCK


def test_open_close_and_assert_open() -> None:
    network = SimulatedNetwork(1)
    endpoint = network.create_endpoint("alice")
    assert endpoint.is_open()
    endpoint.assert_open()
    endpoint.close()
    assert not endpoint.is_open()
    with pytest.raises(EndpointClosedException):
        endpoint.assert_open()
    assert network.loop.run_until_complete(endpoint.open()) is True
    assert endpoint.is_open()
    assert "alice" in repr(endpoint)


def test_byte_counters_and_reset() -> None:
    network = SimulatedNetwork(1)
    alice, bob = network.create_endpoint(), network.create_endpoint()
    recorder = Recorder(bob, network.loop)
    data = packet(body=b"x" * 77)
    alice.send(bob.wan_address, data)
    network.loop.run_for(1)
    assert alice.bytes_up == bob.bytes_down == len(data)
    assert recorder.received == [(0.001, alice.wan_address, data)]
    alice.reset_byte_counters()
    bob.reset_byte_counters()
    assert (alice.bytes_up, alice.bytes_down, bob.bytes_up, bob.bytes_down) == (0, 0, 0, 0)


def test_a_closed_endpoint_neither_sends_nor_receives() -> None:
    network = SimulatedNetwork(1)
    alice, bob = network.create_endpoint(), network.create_endpoint()
    recorder = Recorder(bob, network.loop)
    alice.close()
    alice.send(bob.wan_address, packet())
    network.loop.run_until_complete(alice.open())
    bob.close()
    alice.send(bob.wan_address, packet())
    network.loop.run_for(1)
    assert recorder.received == []
    assert alice.bytes_up == len(packet())
    assert network.stats.totals()["dropped_by_cause"]["down"]["messages"] == 2
