"""What every a27 community inherits from ``A27Community``: junk on IPv8's own message ids is a counted drop, and
drop logs stay bounded under a flood."""

from __future__ import annotations

import logging
import random

import pytest
from ipv8.community import CommunitySettings
from ipv8.messaging.interfaces.udp.endpoint import Address, UDPv4Address
from ipv8.messaging.payload import IntroductionResponsePayload
from ipv8.messaging.payload_headers import GlobalTimeDistributionPayload
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import (
    DropLogLimiter,
    DroppedMessage,
    Genesis,
    LedgerCommunity,
    LedgerSettings,
    LogHead,
    PeerDefences,
    PeerLimits,
    encode_signed,
)
from a27_ledger.testing import make_keys

BUILTIN_IDS = (231, 232, 233, 234, 245, 246, 249, 250)
"""IPv8's introduction (245, 246, 233, 234), puncture (249, 250, 231, 232) message ids."""


class CapturedLog(logging.Handler):
    """Every record logged anywhere while installed, formatted the way a node's log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def __enter__(self) -> CapturedLog:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *_: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


class TwoNodeBase(TestBase[LedgerCommunity]):
    """Node 0 validates, node 1 is a light node; packets are delivered to node 0 by hand."""

    def setUp(self) -> None:
        super().setUp()
        self.keys = make_keys(2, seed=41)
        self.genesis = Genesis.build("a27-test", {key.public_key: 1_000 for key in self.keys},
                                     [self.keys[0].public_key])
        self._unbuilt = list(self.keys)
        self.initialize(LedgerCommunity, 2)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        return MockIPv8(Peer(self._unbuilt.pop(0).ipv8_key()), LedgerCommunity, self.ledger_settings())

    def ledger_settings(self) -> LedgerSettings:
        return LedgerSettings(genesis=self.genesis)

    def junk(self, msg_id: int, body: bytes = b"\xff" * 5) -> bytes:
        return self.overlay(0).get_prefix() + bytes([msg_id]) + body

    def receive(self, data: bytes) -> None:
        """Deliver to node 0 on the production path (TestBase's own callback skips ``on_packet`` overrides)."""
        LedgerCommunity.on_packet(self.overlay(0), (self.address(1), data))


class TestJunkOnIPv8MessageIds(TwoNodeBase):
    async def test_junk_on_every_builtin_id_is_one_drop_and_at_most_one_log_line(self) -> None:
        overlay = self.overlay(0)
        for msg_id in BUILTIN_IDS:
            with self.subTest(msg_id=msg_id), CapturedLog() as log:
                before = sum(overlay.drops.values())
                self.receive(self.junk(msg_id))
                self.assertEqual(before + 1, sum(overlay.drops.values()))
                self.assertLessEqual(len(log.lines), 1, log.lines)
                self.assertFalse(any("Traceback" in line for line in log.lines))
        self.assertEqual(len(BUILTIN_IDS), overlay.drops["malformed"])

    async def test_deprecated_and_unhandled_ids_are_drops_too(self) -> None:
        overlay = self.overlay(0)
        self.receive(self.junk(255))
        self.receive(self.junk(100))
        self.assertEqual(1, overlay.drops["deprecated message"])
        self.assertEqual(1, overlay.drops["unknown message"])

    async def test_a_flood_of_4000_junk_packets_is_counted_exactly_and_logged_in_bounded_bytes(self) -> None:
        overlay = self.overlay(0)
        rng = random.Random(4000)
        with CapturedLog() as log:
            for _ in range(4_000):
                # At most 20 bytes after the id: too short for any introduction or puncture, so each is junk.
                self.receive(self.junk(rng.choice(BUILTIN_IDS), rng.randbytes(rng.randint(0, 20))))
        self.assertEqual(4_000, sum(overlay.drops.values()))
        log_bytes = sum(len(line) + 1 for line in log.lines)
        self.assertLessEqual(len(log.lines), overlay.drop_log.burst)
        self.assertLess(log_bytes, 4_000)

    async def test_the_suppressed_drops_are_summarised_once_the_window_ends(self) -> None:
        overlay = self.overlay(0)
        overlay.drop_log = DropLogLimiter(burst=2, interval=0.2)
        for _ in range(5):
            self.receive(self.junk(245))
        with CapturedLog() as log:
            await self.deliver_messages(0.3)
            overlay.log_drop_summaries()
        self.assertIn("3 more dropped messages (malformed)", "\n".join(log.lines))

    async def test_drops_decided_after_arrival_share_the_log_limit(self) -> None:
        # A community that refuses a message it had buffered (PoS: a consensus message replayed at its height)
        # records it with no source address; a flood of those is counted exactly and logged in bounded lines.
        overlay = self.overlay(0)
        with CapturedLog() as log:
            for _ in range(1_000):
                overlay.record_drop("buffered message", None, DroppedMessage("stale", "a replayed vote"))
        self.assertEqual(1_000, overlay.drops["stale"])
        self.assertEqual(overlay.drop_log.burst, len(log.lines))
        self.assertIn("dropped buffered message: stale: a replayed vote", log.lines[0])

    async def test_well_formed_introductions_still_work(self) -> None:
        # initialize() introduced the nodes through IPv8's handshake on the wrapped handlers.
        self.assertEqual(1, len(self.overlay(0).get_peers()))
        self.assertEqual(1, len(self.overlay(1).get_peers()))
        self.assertEqual(0, sum(self.overlay(0).drops.values()))


class PeerDefencesBase(TwoNodeBase):
    """Node 0 with the peer defences of ``DEFENCES`` (burst 3 per address and message id, 1 KiB packets, 3 slots)."""

    DEFENCES = PeerDefences()

    def ledger_settings(self) -> LedgerSettings:
        return LedgerSettings(genesis=self.genesis, max_peers=3, peer_defences=self.DEFENCES,
                              peer_limits=PeerLimits(rate=1.0, burst=3.0, max_packet_size=1_024))

    def strangers_head(self, seed: int) -> bytes:
        """A well-signed LogHead from a key that is not node 0's peer."""
        return encode_signed(self.overlay(0).get_prefix(), make_keys(1, seed=seed)[0], LogHead(seed))

    def sybil(self, host: str, seed: int) -> Peer:
        return Peer(make_keys(1, seed=seed)[0].ipv8_key().pub(), UDPv4Address(host, 9000))

    def fill_with_sybils(self) -> None:
        overlay = self.overlay(0)
        for index, host in enumerate(["10.6.6.1", "10.6.6.2"]):
            peer = self.sybil(host, 500 + index)
            self.assertTrue(overlay.admit_peer(peer))
            overlay.network.add_verified_peer(peer)
            overlay.network.discover_services(peer, [overlay.community_id])
        self.assertEqual(3, len(overlay.get_peers()))  # node 1 (the validator's light node) and two Sybils


class TestPeerDefencesOn(PeerDefencesBase):
    async def test_oversized_packets_are_dropped_unread(self) -> None:
        self.receive(self.junk(4, bytes(2_000)))
        self.assertEqual({"oversized": 1}, dict(self.overlay(0).drops))

    async def test_a_flood_from_one_address_is_cut_to_the_burst(self) -> None:
        for seed in range(10):
            self.receive(self.strangers_head(seed))
        self.assertEqual(7, self.overlay(0).drops["rate limited"])
        self.assertEqual(3, self.overlay(0).drops["unknown peer"])

    async def test_unknown_keys_cost_no_signature_check(self) -> None:
        self.receive(self.strangers_head(1))
        self.assertEqual(1, self.overlay(0).drops["unknown peer"])
        self.assertEqual(0, self.overlay(0).work["signatures verified"])

    async def test_an_anchor_takes_a_sybils_slot_and_sybils_cannot_take_more(self) -> None:
        self.fill_with_sybils()
        overlay = self.overlay(0)
        self.assertFalse(overlay.admit_peer(self.sybil("10.6.6.3", 502)))
        self.assertEqual(1, overlay.drops["peer table full"])
        anchor = Peer(self.keys[0].ipv8_key().pub(), UDPv4Address("10.9.9.9", 9000))
        self.assertIn(self.keys[0].public_key, overlay.anchor_accounts())
        self.assertTrue(overlay.admit_peer(anchor))
        self.assertEqual(1, overlay.drops["peer evicted"])
        self.assertEqual(2, len(overlay.get_peers()))


    async def test_the_admission_order_stays_bounded_while_peers_come_and_go(self) -> None:
        overlay = self.overlay(0)
        for seed in range(300):
            peer = self.sybil(f"10.{seed // 250}.{seed % 250}.1", 1_000 + seed)
            self.assertTrue(overlay.admit_peer(peer))  # the table never fills: each one leaves again
        self.assertLessEqual(len(overlay._joined), 2 * 16 + 1)


class TestPeerDefencesOff(PeerDefencesBase):
    DEFENCES = PeerDefences.none()

    async def test_oversized_packets_are_read(self) -> None:
        self.receive(self.junk(4, bytes(2_000)))
        self.assertEqual(0, self.overlay(0).drops["oversized"])
        self.assertEqual({"unsupported key": 1}, dict(self.overlay(0).drops))  # it was read

    async def test_a_flood_from_one_address_is_verified_packet_by_packet(self) -> None:
        for seed in range(10):
            self.receive(self.strangers_head(seed))
        self.assertEqual(0, self.overlay(0).drops["rate limited"])
        self.assertEqual(10, self.overlay(0).drops["unknown peer"])
        self.assertEqual(10, self.overlay(0).work["signatures verified"])

    async def test_a_full_table_admits_ipv8s_way(self) -> None:
        self.fill_with_sybils()
        anchor = Peer(self.keys[0].ipv8_key().pub(), UDPv4Address("10.9.9.9", 9000))
        self.assertTrue(self.overlay(0).admit_peer(anchor))  # IPv8's own handlers then refuse beyond max_peers
        self.assertEqual(0, self.overlay(0).drops["peer evicted"])
        self.assertEqual(3, len(self.overlay(0).get_peers()))


def test_drop_log_limiter_allows_a_burst_per_cause_per_window_and_summarises_the_rest() -> None:
    limiter = DropLogLimiter(burst=2, interval=10.0)
    assert [limiter.admit("malformed", 0.0) for _ in range(5)] == [True, True, False, False, False]
    assert limiter.admit("bad signature", 1.0)
    assert limiter.summaries(9.9) == []
    assert limiter.summaries(10.0) == [("malformed", 3)]
    assert limiter.summaries(10.0) == []
    assert limiter.admit("malformed", 10.5)
    with pytest.raises(ValueError, match="burst"):
        DropLogLimiter(burst=0)


class TestIntroducedAddresses(PeerDefencesBase):
    """Addresses that introduction responses name are bounded (``PeerLimits.max_introduced``), whatever sends them."""

    def ledger_settings(self) -> LedgerSettings:
        return LedgerSettings(genesis=self.genesis, max_peers=-1,
                              peer_limits=PeerLimits(max_introduced=50))

    def setUp(self) -> None:
        super().setUp()
        # The responders are made-up peers with no endpoint: what node 0 sends them (walks) goes nowhere.
        endpoint = self.overlay(0).endpoint
        registered = endpoint.send
        endpoint.send = lambda address, packet: registered(address, packet) if address == self.address(1) else None

    def respond(self, seed: int, introduced: str) -> None:
        """An introduction response from a fresh key naming ``introduced`` (as IPv8's handler passes it on)."""
        overlay = self.overlay(0)
        peer = self.sybil(f"10.{seed // 250}.{seed % 250}.1", 3_000 + seed)
        address = UDPv4Address(introduced, 7000)
        payload = IntroductionResponsePayload(overlay.my_peer.address, peer.address, peer.address, address, address,
                                              "unknown", seed, b"")
        overlay.on_introduction_response(peer, GlobalTimeDistributionPayload(1), payload)

    def walkable(self) -> list[Address]:
        return self.overlay(0).network.get_walkable_addresses()

    async def test_a_flood_of_introductions_keeps_only_the_newest_addresses(self) -> None:
        for seed in range(400):
            self.respond(seed, f"172.16.{seed // 250}.{seed % 250}")
        walkable = self.walkable()
        self.assertLessEqual(len(walkable), 50)
        self.assertIn(UDPv4Address("172.16.1.149", 7000), walkable)  # the newest is kept
        self.assertNotIn(UDPv4Address("172.16.0.0", 7000), walkable)  # the oldest forgotten
        self.assertEqual(400 - 50, self.overlay(0).drops["introduced address forgotten"])
        self.assertEqual(400, len(self.overlay(0).get_peers()) - 1)  # every responder stays a peer (max_peers=-1)

    async def test_verified_peers_are_never_forgotten(self) -> None:
        overlay = self.overlay(0)
        before = {peer.public_key.key_to_bin() for peer in overlay.get_peers()}
        for seed in range(200):
            self.respond(seed, f"172.17.{seed // 250}.{seed % 250}")
        after = {peer.public_key.key_to_bin() for peer in overlay.get_peers()}
        self.assertLessEqual(before, after)  # node 1 and every responder (max_peers=-1 keeps them all)
        self.assertEqual(201, len(after))
