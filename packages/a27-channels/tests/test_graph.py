"""The channel graph: adding, updating and removing channels; balance bounds."""

from __future__ import annotations

from a27_channels import ChannelGraph, ChannelPolicy, ChannelUpdate
from a27_ledger import KeyPair

A = KeyPair.from_seed(bytes([1]) * 32)
B = KeyPair.from_seed(bytes([2]) * 32)
C = KeyPair.from_seed(bytes([3]) * 32)
AB, BC = bytes([0xAB]) * 32, bytes([0xBC]) * 32


def graph() -> ChannelGraph:
    graph = ChannelGraph()
    assert graph.add_channel(AB, A.public_key, B.public_key, 1_000)
    assert graph.add_channel(BC, B.public_key, C.public_key, 2_000, policy_b=ChannelPolicy(fee_base=7))
    return graph


def test_channels_become_directed_edges() -> None:
    channels = graph()
    assert (len(channels), AB in channels, bytes(32) in channels) == (2, True, False)
    assert not channels.add_channel(AB, A.public_key, B.public_key, 5)
    assert sorted(channels.neighbours(B.public_key)) == sorted([A.public_key, C.public_key])
    assert channels.neighbours(bytes(32)) == []
    edge = channels.edge(BC, C.public_key)
    assert edge is not None and (edge.fee_base, edge.capacity) == (7, 2_000)
    assert channels.edge(BC, A.public_key) is None
    assert sorted(channel_id for channel_id, *_ in channels.channels()) == [AB, BC]


def test_policy_updates_apply_in_serial_order() -> None:
    channels = graph()
    newer = ChannelUpdate.create(B, BC, 5, ChannelPolicy(3, 40, 9))
    assert channels.apply_update(newer)
    assert not channels.apply_update(ChannelUpdate.create(B, BC, 4, ChannelPolicy(99, 99, 99)))
    assert not channels.apply_update(ChannelUpdate.create(A, BC, 9, ChannelPolicy(99, 99, 99)))
    edge = channels.edge(BC, B.public_key)
    assert edge is not None and edge.policy == ChannelPolicy(3, 40, 9)
    assert edge.fee(1_000_000) == 43


def test_balance_bounds_and_removal() -> None:
    channels = graph()
    channels.set_max_sendable(AB, A.public_key, 300)
    edge = channels.edge(AB, A.public_key)
    assert edge is not None
    assert (edge.can_carry(300), edge.can_carry(301)) == (True, False)
    channels.set_max_sendable(AB, A.public_key, None)
    assert edge.can_carry(1_000) and not edge.can_carry(1_001)
    assert channels.remove_channel(AB)
    assert not channels.remove_channel(AB)
    assert channels.neighbours(A.public_key) == []
    assert channels.outgoing[channels.node_number(B.public_key)] == [channels.edge(BC, B.public_key)]  # type: ignore[index]
