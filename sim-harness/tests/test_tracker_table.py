"""The tracker's peer table (``a27_harness.tracker.table``): py-ipv8's behaviour without quotas, and each quota."""

from __future__ import annotations

import random
import time

import pytest

from a27_harness.tracker import PEERS_PER_OVERLAY, TrackerQuotas, TrackerTable

OVERLAY = b"o" * 20
OTHER = b"p" * 20


def _key(number: int) -> bytes:
    return number.to_bytes(8, "big") * 4


def _register(table: TrackerTable, number: int, address: tuple[str, int], now: float = 0.0,
              overlay: bytes = OVERLAY) -> None:
    assert table.register(overlay, _key(number), address, address, now).stored


def _honest_and_sybils(quotas: TrackerQuotas, sybils: int = 150) -> TrackerTable:
    table = TrackerTable(quotas, rng=random.Random(1))
    for number in range(4):
        _register(table, number, (f"10.0.{number}.1", 9000))
    for number in range(100, 100 + sybils):
        _register(table, number, ("192.0.2.66", 7000), now=1.0)
    return table


def test_without_quotas_150_sybil_keys_from_one_address_push_every_honest_peer_out() -> None:
    table = _honest_and_sybils(TrackerQuotas.none())
    kept = {peer.key for peer in table.peers(OVERLAY, 1.0)}
    assert len(kept) == PEERS_PER_OVERLAY
    assert not kept & {_key(number) for number in range(4)}
    introduced = {table.introduce(OVERLAY, _key(99), 1.0).address for _ in range(200)}  # type: ignore[union-attr]
    assert introduced == {("192.0.2.66", 7000)}
    assert table.counters["evicted (newest 100)"] == 54


def test_with_quotas_the_sybils_share_one_slot_and_the_honest_peers_keep_theirs() -> None:
    table = _honest_and_sybils(TrackerQuotas())
    assert {peer.key for peer in table.peers(OVERLAY, 1.0)} == {*map(_key, range(4)), _key(249)}
    introduced = {table.introduce(OVERLAY, _key(99), 1.0).address for _ in range(200)}  # type: ignore[union-attr]
    assert introduced == {(f"10.0.{number}.1", 9000) for number in range(4)} | {("192.0.2.66", 7000)}
    assert table.counters["evicted (per-endpoint quota)"] == 149


def test_many_ports_of_one_ip_or_one_subnet_get_at_most_their_quota_and_evict_only_their_own() -> None:
    quotas = TrackerQuotas(per_ip=20, per_subnet=40)
    table = TrackerTable(quotas)
    _register(table, 0, ("10.0.0.1", 9000))
    for number in range(1, 101):
        _register(table, number, ("192.0.2.66", 10_000 + number))
    assert sum(peer.address[0] == "192.0.2.66" for peer in table.peers(OVERLAY, 0.0)) == 20
    for number in range(200, 300):
        _register(table, number, (f"192.0.2.{number - 150}", 9000))
    peers = table.peers(OVERLAY, 0.0)
    assert sum(peer.subnet == "192.0.2.0/24" for peer in peers) == 40
    assert _key(0) in {peer.key for peer in peers}


def test_a_key_holds_one_slot_and_refreshing_makes_it_the_newest() -> None:
    table = TrackerTable(TrackerQuotas(per_endpoint=0, per_ip=0, per_subnet=0), peers_per_overlay=3)
    for number in range(3):
        _register(table, number, ("10.0.0.1", 9000 + number), now=number)
    _register(table, 0, ("10.0.0.1", 9100), now=5.0)  # re-registered from a new port: moved, not added
    assert [peer.key for peer in table.peers(OVERLAY, 5.0)] == [_key(1), _key(2), _key(0)]
    assert table.peers(OVERLAY, 5.0)[-1].address == ("10.0.0.1", 9100)
    _register(table, 3, ("10.0.0.1", 9003), now=6.0)
    assert [peer.key for peer in table.peers(OVERLAY, 6.0)] == [_key(2), _key(0), _key(3)]


def test_without_key_refresh_a_returning_key_keeps_its_age_as_in_py_ipv8() -> None:
    table = TrackerTable(TrackerQuotas.none(), peers_per_overlay=3)
    for number in range(3):
        _register(table, number, ("10.0.0.1", 9000 + number), now=number)
    _register(table, 0, ("10.0.0.1", 9000), now=5.0)
    _register(table, 3, ("10.0.0.1", 9003), now=6.0)
    assert [peer.key for peer in table.peers(OVERLAY, 6.0)] == [_key(1), _key(2), _key(3)]


def test_peers_past_their_age_are_not_introduced_and_are_forgotten_with_their_overlay() -> None:
    table = TrackerTable(TrackerQuotas(max_age=60.0))
    _register(table, 0, ("10.0.0.1", 9000), now=0.0)
    _register(table, 1, ("10.0.1.1", 9000), now=30.0, overlay=OTHER)
    assert table.introduce(OVERLAY, _key(9), 60.0) is not None
    assert table.introduce(OVERLAY, _key(9), 60.5) is None
    assert table.expire(61.0) == 1
    assert list(table.overlays) == [OTHER]
    assert table.expire(91.0) == 1
    assert table.overlays == {}
    assert TrackerTable(TrackerQuotas.none()).expire(1e9) == 0


def test_nobody_is_introduced_to_themselves_and_an_unknown_overlay_has_nobody() -> None:
    table = TrackerTable()
    assert table.introduce(OVERLAY, _key(0), 0.0) is None
    _register(table, 0, ("10.0.0.1", 9000))
    assert table.introduce(OVERLAY, _key(0), 0.0) is None
    assert table.introduce(OVERLAY, _key(1), 0.0).key == _key(0)  # type: ignore[union-attr]


def test_10000_community_ids_and_keys_from_an_attacker_stay_within_the_bounds_at_bounded_cost() -> None:
    table = TrackerTable(TrackerQuotas(max_overlays=50))
    started = time.perf_counter()
    for number in range(10_000):
        host = f"198.51.{number % 256}.{number // 256}"
        table.register(number.to_bytes(20, "big") if number % 2 else OVERLAY, _key(number), (host, number),
                       (host, number), number / 1_000)
        table.introduce(OVERLAY, _key(number), number / 1_000)
    assert len(table.overlays) == 50
    assert len(table) <= 50 * PEERS_PER_OVERLAY
    assert table.counters["refused (too many overlays)"] == 5_000 - 49
    assert len(table.overlays[OVERLAY]) == PEERS_PER_OVERLAY
    # Generous: each request scans at most one overlay's 100 peers (about 0.1 s in all on the machines we use).
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("field", ["per_endpoint", "per_ip", "per_subnet", "max_overlays", "max_age", "rate"])
@pytest.mark.parametrize("value", [-1, float("nan"), "3"])
def test_a_quota_that_is_not_a_non_negative_number_is_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrackerQuotas(**{field: value})


def test_a_table_needs_room_for_a_peer() -> None:
    with pytest.raises(ValueError, match="peers_per_overlay must be at least 1"):
        TrackerTable(peers_per_overlay=0)


def test_the_rate_quota_refuses_a_flood_from_one_ip_and_not_another_host() -> None:
    table = TrackerTable(TrackerQuotas(rate=10))
    admitted = [table.admit("192.0.2.66", 0.0) for _ in range(1_000)]
    assert admitted.count(True) == 20  # the bucket: twice the rate
    assert table.admit("10.0.0.1", 0.0)
    assert not table.admit("192.0.2.66", 0.05)
    assert table.admit("192.0.2.66", 0.1)  # a token a tenth of a second later
    assert table.counters["refused (rate)"] == 981
    assert all(TrackerTable(TrackerQuotas.none()).admit("192.0.2.66", 0.0) for _ in range(1_000))
