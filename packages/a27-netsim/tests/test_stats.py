"""Traffic counters and their summaries."""

from __future__ import annotations

import json

from netsim_helpers import COMMUNITY_A, COMMUNITY_B, packet

from a27_netsim import DROP_CAUSES, TrafficStats, message_kind
from a27_netsim.stats import DOWN, LOSS, UNKNOWN_ADDRESS


def test_message_kind_is_community_id_and_message_id() -> None:
    assert message_kind(packet(9, COMMUNITY_B)) == COMMUNITY_B + b"\x09"
    assert message_kind(b"\x00\x02ab") == b"ab"


def test_counts_add_up_and_in_flight_is_the_rest() -> None:
    stats = TrafficStats()
    a = stats.add_node("a", "198.18.0.1:8090")
    b = stats.add_node("b", "198.18.0.2:8090")
    kind = message_kind(packet(1))
    for _ in range(4):
        stats.record_sent(a, kind, 10)
    stats.record_delivered(b, kind, 10)
    stats.record_dropped(a, kind, 10, LOSS)
    stats.record_dropped(a, kind, 10, DOWN)
    totals = stats.totals()
    assert totals["sent"] == {"messages": 4, "bytes": 40}
    assert totals["delivered"] == {"messages": 1, "bytes": 10}
    assert totals["dropped"] == {"messages": 2, "bytes": 20}
    assert totals["in_flight"] == 1
    assert set(totals["dropped_by_cause"]) == set(DROP_CAUSES)
    assert totals["dropped_by_cause"]["loss"] == {"messages": 1, "bytes": 10}
    nodes = stats.nodes()
    assert [node["node"] for node in nodes] == ["a", "b"]
    assert nodes[0]["sent"]["messages"] == 4
    assert nodes[0]["dropped"]["messages"] == 2
    assert nodes[1]["received"]["messages"] == 1


def test_message_types_are_sorted_and_describe_odd_packets() -> None:
    stats = TrafficStats()
    node = stats.add_node("a", "x")
    for data in (packet(2, COMMUNITY_B), packet(7, COMMUNITY_A), packet(1, COMMUNITY_B), b"\x00\x02short"):
        stats.record_sent(node, message_kind(data), len(data))
    stats.record_dropped(node, message_kind(b"\x00\x02short"), 7, UNKNOWN_ADDRESS)
    described = [(kind["community_id"], kind["message_id"]) for kind in stats.message_types()]
    assert described == [(COMMUNITY_A.hex(), 7), (COMMUNITY_B.hex(), 1), (COMMUNITY_B.hex(), 2), (None, None)]
    assert stats.message_types()[-1]["raw_prefix"] == b"short".hex()


def test_summary_is_plain_json() -> None:
    stats = TrafficStats()
    stats.record_sent(stats.add_node("a", "x"), message_kind(packet()), 30)
    summary = stats.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert list(summary) == ["totals", "nodes", "message_types"]
