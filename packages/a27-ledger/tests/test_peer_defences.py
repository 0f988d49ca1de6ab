"""The peer defences' pure core: switches, token buckets, address groups and peer-table admission."""

from __future__ import annotations

import pytest

from a27_ledger import (
    LedgerSettings,
    PeerAdmission,
    PeerDefences,
    PeerLimits,
    TokenBuckets,
    address_group,
    decide_admission,
)


def test_every_defence_is_on_by_default_and_none_turns_all_off() -> None:
    assert PeerDefences().enabled() == ["peers.rate_limit", "peers.max_packet_size", "peers.cheap_checks_first",
                                        "peers.diversity", "peers.anchors", "peers.validator_pinning"]
    assert PeerDefences.none().enabled() == []
    assert LedgerSettings.peer_defences == PeerDefences()
    assert LedgerSettings.peer_limits == PeerLimits()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        PeerLimits(rate=0)
    with pytest.raises(ValueError, match="max_packet_size"):
        PeerLimits(max_packet_size=-1)


def test_a_bucket_admits_its_burst_then_its_rate() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(rate=10.0, burst=5.0, max_tracked=100)
    assert [buckets.admit("a", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert buckets.admit("b", 0.0)  # another key has its own bucket
    assert not buckets.admit("a", 0.05)  # half a token
    assert buckets.admit("a", 0.1)
    assert not buckets.admit("a", 0.1)
    assert sum(buckets.admit("a", 100.0) for _ in range(10)) == 5  # refilled to the burst, not beyond


def test_a_clock_going_back_adds_no_tokens() -> None:
    buckets: TokenBuckets[str] = TokenBuckets(rate=10.0, burst=1.0, max_tracked=10)
    assert buckets.admit("a", 5.0)
    assert not buckets.admit("a", 1.0)
    assert not buckets.admit("a", 5.0)


def test_buckets_are_bounded_least_recently_used_first() -> None:
    buckets: TokenBuckets[int] = TokenBuckets(rate=1.0, burst=1.0, max_tracked=3)
    for key in range(10_000):
        buckets.admit(key, 0.0)
    assert len(buckets) == 3
    assert not buckets.admit(9_999, 0.0)  # still tracked: empty
    assert buckets.admit(0, 0.0)  # forgotten: starts full again


def test_address_groups() -> None:
    assert address_group("10.66.6.1") == address_group("10.66.6.200") == "10.66.6.0/24"
    assert address_group("10.66.7.1") != address_group("10.66.6.1")
    assert address_group("10.66.6.1", 16) == "10.66.0.0/16"
    assert address_group("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert address_group("not an address") == "not an address"


def table(*rows: tuple[str, str, bool]) -> list[tuple[str, str, bool]]:
    return list(rows)


SYBILS = table(("s1", "10.0.0.0/24", False), ("s2", "10.0.0.0/24", False), ("s3", "10.0.0.0/24", False))


def test_below_capacity_everyone_is_admitted() -> None:
    assert decide_admission("x", "10.0.0.0/24", False, SYBILS, max_peers=4, defences=PeerDefences()).admitted
    assert decide_admission("s1", "10.0.0.0/24", False, SYBILS, max_peers=3, defences=PeerDefences()).admitted


def test_a_full_table_without_defences_admits_nobody() -> None:
    for newcomer_is_anchor in (False, True):
        decision = decide_admission("v", "1.2.3.0/24", newcomer_is_anchor, SYBILS, max_peers=3,
                                    defences=PeerDefences.none())
        assert decision == PeerAdmission(False, reason="the peer table is full")


def test_an_anchor_takes_the_newest_slot_of_the_largest_group() -> None:
    rows = [("h1", "1.1.1.0/24", False), *SYBILS]
    decision = decide_admission("v", "1.2.3.0/24", True, rows, max_peers=4, defences=PeerDefences(diversity=False))
    assert decision.admitted
    assert decision.evict == "s3"


def test_anchors_are_never_evicted() -> None:
    rows = table(("v1", "10.0.0.0/24", True), ("v2", "10.0.0.0/24", True))
    decision = decide_admission("v3", "1.2.3.0/24", True, rows, max_peers=2, defences=PeerDefences())
    assert decision == PeerAdmission(False, reason="the peer table is full of anchors")
    rows_off = decide_admission("x", "1.2.3.0/24", False, rows, max_peers=2, defences=PeerDefences(anchors=False))
    assert rows_off.admitted and rows_off.evict == "v2"  # without anchors they are peers like any other


def test_diversity_admits_a_smaller_group_in_place_of_the_largest() -> None:
    decision = decide_admission("h", "1.2.3.0/24", False, SYBILS, max_peers=3, defences=PeerDefences(anchors=False))
    assert decision.admitted and decision.evict == "s3"
    # One more from the Sybils' own group, or a group as large as the largest, is refused.
    assert not decide_admission("s4", "10.0.0.0/24", False, SYBILS, max_peers=3, defences=PeerDefences()).admitted
    balanced = table(("a", "1.0.0.0/24", False), ("b", "2.0.0.0/24", False))
    assert not decide_admission("c", "3.0.0.0/24", False, balanced, max_peers=2, defences=PeerDefences()).admitted


def test_ties_between_groups_evict_the_newest_peer() -> None:
    rows = table(("a", "1.0.0.0/24", False), ("b", "2.0.0.0/24", False), ("c", "3.0.0.0/24", False))
    assert decide_admission("v", "9.0.0.0/24", True, rows, max_peers=3, defences=PeerDefences()).evict == "c"
