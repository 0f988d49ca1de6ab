"""
Peer-level attacks (a27_attacks.peers) against the peer defences of a27-ledger's A27Community (``peers.<field>``).

Each attack is run twice: with ``PeerDefences.none()`` it breaks a stated guarantee (the validator's work grows with
the flood, Sybils hold a victim's peer slots, an eclipsed light node stalls) and with the defaults it does not.
Nodes run on IPv8's TestBase with curve25519 keys and one injected clock (never the host's uptime or wall clock).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from ipv8.community import CommunitySettings
from ipv8.messaging.interfaces.udp.endpoint import UDPv4Address
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.endpoint import AutoMockEndpoint
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_attacks import BadParameter
from a27_attacks.peers import (
    CabalPolicy,
    Eclipse,
    Flooder,
    SybilIdentities,
    SybilSlots,
    WithholdingNode,
    fake_block_response,
    height_claim,
    oversized_block_response,
    sybil_share,
    transfer_flood,
)
from a27_ledger import KeyPair, PeerDefences, PeerLimits, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import (
    PRECOMMIT,
    PREVOTE,
    Chain,
    Committed,
    ConsensusEngine,
    InvalidCertificate,
    Mempool,
    PosCommunity,
    PosSettings,
    RefusedInput,
    Timeouts,
    Vote,
)
from a27_pos.testing import LoopClock, certify, make_pos_genesis

VALIDATORS = 4
FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)
SYBIL_SUBNET = "10.66.6"


@contextmanager
def addresses_in(subnet: str) -> Iterator[None]:
    """Mock endpoints created inside get addresses in ``subnet``.0/24 (Sybils on one host network)."""
    hosts = itertools.count(1)

    def generate(_endpoint: AutoMockEndpoint) -> UDPv4Address:
        return UDPv4Address(f"{subnet}.{next(hosts)}", 7000)

    with mock.patch.object(AutoMockEndpoint, "_generate_unique_address", generate):
        yield


class ErrorRecords(logging.Handler):
    """Collects the messages of ERROR records (IPv8 logs a handler's exception at ERROR and carries on)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class PeerAttackBase(TestBase[PosCommunity]):
    """Validators 0..3 (equal stakes) and ``LIGHT`` light nodes, all introduced; further keys for attackers."""

    DEFENCES = PeerDefences()
    LIMITS = PeerLimits()
    LIGHT = 1
    EXTRA_KEYS = 8
    """Funded keys (no stake) after the honest nodes', for attacker nodes."""

    def setUp(self) -> None:
        self.clock = LoopClock(0.0)
        self.handler_errors = ErrorRecords()
        logging.getLogger(PosCommunity.__name__).addHandler(self.handler_errors)
        super().setUp()
        honest = VALIDATORS + self.LIGHT
        self.keys = make_keys(honest + self.EXTRA_KEYS, seed=404)
        self.genesis = make_pos_genesis(self.keys, [10_000] * VALIDATORS, balance=100_000)
        self._unbuilt = list(self.keys[:honest])
        self.initialize(PosCommunity, honest)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        return MockIPv8(Peer(self._unbuilt.pop(0).ipv8_key()), PosCommunity, self.settings())

    def patch_overlays(self, i: int) -> None:
        """Keep A27Community.on_packet: the packet size and rate checks live there, and TestBase's fragile patch
        would replace it (handler exceptions are still caught and counted as test failures, see tearDown)."""

    async def tearDown(self) -> None:
        logging.getLogger(PosCommunity.__name__).removeHandler(self.handler_errors)
        await super().tearDown()
        self.assertEqual([], self.handler_errors.messages, "a handler raised")

    def settings(self, **extra: object) -> PosSettings:
        options: dict[str, object] = {"peer_defences": self.DEFENCES, "peer_limits": self.LIMITS}
        options.update(extra)
        return PosSettings(genesis=self.genesis, timeouts=FAST, status_interval=0.1, retry_interval=0.2,
                           follow_timeout=0.5, follow_settle=0.02, clock=self.clock, **options)

    def extra_node(self, key: KeyPair, **extra: object) -> MockIPv8:
        """A node outside the initial introductions (it knows nobody and nobody knows it)."""
        node = MockIPv8(Peer(key.ipv8_key()), PosCommunity, self.settings(**extra))
        self.nodes.append(node)
        return node

    def ipv8_key(self, i: int) -> bytes:
        return self.keys[i].ipv8_key().pub().key_to_bin()

    async def until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05


# Flooding ---------------------------------------------------------------------------------------------------------


class FloodBase(PeerAttackBase):
    """Node 4 is an honest light node; the flooder (key 5) is a known peer of validator 0, the victim."""

    LIMITS = PeerLimits(rate=100.0, burst=200.0)
    FLOOD = 3_000

    async def flood(self, packets: list[bytes]) -> tuple[dict[str, int], float]:
        """Send ``packets`` from the attacker's endpoint to validator 0; its work meanwhile, and the loop time."""
        victim = self.overlay(0)
        attacker = self.extra_node(self.keys[VALIDATORS + 1])
        known = Peer(attacker.my_peer.public_key, attacker.endpoint.wan_address)
        victim.network.add_verified_peer(known)
        victim.network.discover_services(known, [victim.community_id])
        before = dict(victim.work)
        loop = asyncio.get_running_loop()
        started = loop.time()
        Flooder(attacker.endpoint, victim.get_prefix(), [self.keys[VALIDATORS + 1]]).send(
            victim.endpoint.wan_address, packets)
        await self.deliver_messages(1.0)
        return {name: victim.work[name] - before.get(name, 0) for name in victim.work}, loop.time() - started

    def submissions(self, keys: list[KeyPair]) -> list[bytes]:
        flooder = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), keys)
        return flooder.packets(self.FLOOD, transfer_flood(self.keys[4].public_key))

    async def honest_transfer_is_final(self) -> None:
        finality = await self.overlay(4).transfer(self.keys[0].public_key, 10, fee=1, timeout=20.0)
        await self.until(lambda: self.overlay(0).chain.height >= finality.height)
        self.assertEqual(self.overlay(0).chain.block(finality.height), self.overlay(4).chain.block(finality.height))


class TestFloodUndefended(FloodBase):
    DEFENCES = PeerDefences.none()

    async def test_one_keys_flood_costs_the_validator_a_handler_call_and_a_verification_per_packet(self) -> None:
        work, _ = await self.flood(self.submissions([self.keys[VALIDATORS + 1]]))
        self.assertGreaterEqual(work["handler calls"], self.FLOOD)
        self.assertGreaterEqual(work["signatures verified"], self.FLOOD)

    async def test_ten_thousand_keys_cost_a_verification_each(self) -> None:
        sybils = SybilIdentities.generate(10_000)
        packets = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), list(sybils.keys)).packets(
            10_000, lambda index, key: height_claim(index + 1))
        work, _ = await self.flood(packets)
        self.assertGreaterEqual(work["signatures verified"], 10_000)
        self.assertGreaterEqual(self.overlay(0).drops["unknown peer"], 10_000)

    async def test_oversized_messages_are_read_and_verified(self) -> None:
        packets = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), [self.keys[VALIDATORS + 1]]).packets(
            50, lambda index, _: oversized_block_response(100_000 + index))
        work, _ = await self.flood(packets)
        self.assertGreaterEqual(work["signatures verified"], 50)
        self.assertEqual(0, self.overlay(0).drops["oversized"])
        self.assertEqual(50, self.overlay(0).drops["malformed"])  # each read, verified, then refused


class TestFloodCheapChecksOnly(FloodBase):
    DEFENCES = PeerDefences(rate_limit=False)

    async def test_ten_thousand_unknown_keys_are_refused_before_verification(self) -> None:
        sybils = SybilIdentities.generate(10_000)
        packets = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), list(sybils.keys)).packets(
            10_000, lambda index, key: height_claim(index + 1))
        work, _ = await self.flood(packets)
        self.assertGreaterEqual(self.overlay(0).drops["unknown peer"], 10_000)
        self.assertLess(work["signatures verified"], 1_000)


class TestFloodDefended(FloodBase):
    async def test_one_keys_flood_is_bounded_by_the_token_bucket_and_transfers_stay_final(self) -> None:
        work, elapsed = await self.flood(self.submissions([self.keys[VALIDATORS + 1]]))
        bound = self.LIMITS.burst + self.LIMITS.rate * elapsed
        self.assertGreaterEqual(self.overlay(0).drops["rate limited"], self.FLOOD - bound)
        self.assertLess(work["handler calls"], self.FLOOD)  # undefended: at least FLOOD
        await self.honest_transfer_is_final()

    async def test_ten_thousand_keys_cost_no_verification(self) -> None:
        sybils = SybilIdentities.generate(10_000)
        packets = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), list(sybils.keys)).packets(
            10_000, lambda index, key: height_claim(index + 1))
        work, _ = await self.flood(packets)
        # What the validator verified meanwhile is its honest peers' consensus traffic, not the flood.
        self.assertLess(work["signatures verified"], 1_000)
        self.assertGreater(self.overlay(0).drops["rate limited"], 9_000)
        await self.honest_transfer_is_final()

    async def test_the_tracked_state_stays_bounded(self) -> None:
        victim = self.overlay(0)
        for host in range(3 * self.LIMITS.max_tracked):
            victim.rate_buckets.admit((UDPv4Address(f"10.1.{host // 250}.{host % 250}", 1), 1), 0.0)
        self.assertEqual(self.LIMITS.max_tracked, len(victim.rate_buckets))

    async def test_oversized_messages_are_dropped_unread(self) -> None:
        packets = Flooder(self.endpoint(4), self.overlay(0).get_prefix(), [self.keys[VALIDATORS + 1]]).packets(
            50, lambda index, _: oversized_block_response(100_000 + index))
        work, _ = await self.flood(packets)
        self.assertEqual(50, self.overlay(0).drops["oversized"])
        self.assertEqual(0, self.overlay(0).drops["malformed"])  # none was read
        # Read, each would have cost a signature check without reaching a handler.
        self.assertLess(work["signatures verified"], 50 + work["handler calls"])
        await self.honest_transfer_is_final()


# Sybil identities ---------------------------------------------------------------------------------------------------


class TestSybilsHaveNoStake:
    """Structural: stake weighting gives identities without bonded stake no vote, no certificate, no proposer slot,
    and without balance no mempool space."""

    def setup_method(self) -> None:
        self.validators = make_keys(VALIDATORS, seed=404)
        self.sybils = SybilIdentities.generate(1_000)
        self.genesis = make_pos_genesis(self.validators, 10_000)

    def test_a_thousand_sybil_votes_do_nothing(self) -> None:
        chain = Chain.start(self.genesis)
        engine = ConsensusEngine(self.validators[0], chain)
        engine.start(0.0)
        fake = chain.build_block(self.sybils.keys[0], 0, 1_000)
        refused = 0
        for step in (PREVOTE, PRECOMMIT):
            for key in self.sybils.keys:
                vote = Vote(step, 1, 0, fake.block_id, key.public_key).signed(key, self.genesis.chain_id)
                actions = engine.on_vote(vote, 0.1, key.public_key)
                assert not [action for action in actions if isinstance(action, Committed)]
                refused += sum(1 for action in actions if isinstance(action, RefusedInput))
        assert refused == 2 * len(self.sybils.keys)
        assert chain.height == 0

    def test_a_certificate_of_a_thousand_sybils_is_refused(self) -> None:
        chain = Chain.start(self.genesis)
        fake = chain.build_block(self.sybils.keys[0], 0, 1_000)
        try:
            chain.apply_synced(fake, certify(fake, self.sybils.keys))
        except InvalidCertificate:
            pass
        else:
            raise AssertionError("a certificate without bonded stake was accepted")
        assert chain.height == 0

    def test_sybils_get_no_proposer_slot(self) -> None:
        chain = Chain.start(self.genesis)
        accounts = self.sybils.accounts
        proposers = {chain.proposer(1, round_number) for round_number in range(500)}
        assert not proposers & accounts
        assert proposers <= {key.public_key for key in self.validators}

    def test_unfunded_sybils_get_no_mempool_space(self) -> None:
        chain = Chain.start(self.genesis)
        mempool = Mempool()
        refused = 0
        for key in self.sybils.keys:
            try:
                mempool.add(sign_transfer(key, self.validators[0].public_key, 1, 0), chain.state)
            except Exception as error:
                refused += 1
                assert type(error).__name__ == "InsufficientBalance", error
        assert refused == len(self.sybils.keys)
        assert len(mempool) == 0


class SybilTableBase(PeerAttackBase):
    """Victim: a light node with 8 peer slots. 40 Sybils from one /24 reach it first, then the 4 validators and 3
    honest light nodes (addresses all over the place)."""

    LIGHT = 3
    EXTRA_KEYS = 1
    SLOTS = 8
    SYBILS = 40

    async def attack(self) -> tuple[PosCommunity, frozenset[bytes]]:
        victim = self.extra_node(self.keys[-1], max_peers=self.SLOTS)
        sybils = SybilIdentities.generate(self.SYBILS)
        with addresses_in(SYBIL_SUBNET):
            attackers = [self.extra_node(key) for key in sybils.keys]
        for attacker in attackers:
            attacker.overlay.walk_to(victim.endpoint.wan_address)
        await self.deliver_messages()
        for i in range(VALIDATORS + self.LIGHT):
            self.overlay(i).walk_to(victim.endpoint.wan_address)
        await self.deliver_messages()
        for attacker in attackers:  # and they keep trying
            attacker.overlay.walk_to(victim.endpoint.wan_address)
        await self.deliver_messages()
        return victim.overlay, sybils.ipv8_public_keys

    def share(self, victim: PosCommunity, sybil_keys: frozenset[bytes]) -> tuple[float, float]:
        honest = {self.ipv8_key(i) for i in range(VALIDATORS + self.LIGHT)}
        measured = sybil_share((peer.public_key.key_to_bin() for peer in victim.get_peers()), sybil_keys, honest)
        return measured.slot_fraction, measured.identity_fraction


class TestSybilTableUndefended(SybilTableBase):
    DEFENCES = PeerDefences.none()

    async def test_sybils_hold_every_slot_and_keep_validators_out(self) -> None:
        victim, sybil_keys = await self.attack()
        slots, identities = self.share(victim, sybil_keys)
        self.assertEqual(1.0, slots)
        self.assertGreater(slots, identities)
        self.assertEqual([], victim.validator_peers())


class TestSybilTableDefended(SybilTableBase):
    async def test_sybils_hold_less_than_their_identity_share_and_every_validator_is_kept(self) -> None:
        victim, sybil_keys = await self.attack()
        slots, identities = self.share(victim, sybil_keys)
        self.assertLessEqual(slots, 0.25)
        self.assertLess(slots, identities)
        self.assertEqual(VALIDATORS, len(victim.validator_peers()))
        self.assertGreater(victim.drops["peer table full"], 0)


# Eclipse --------------------------------------------------------------------------------------------------------


class EclipseBase(PeerAttackBase):
    """Victim: a light node (key 4) with 5 peer slots. 6 attackers (light nodes without stake) keep only each other
    and the victim, withhold blocks, claim height 50 and offer a private chain; then the validators reach out."""

    LIGHT = 0
    EXTRA_KEYS = 7
    ATTACKERS = 6

    async def eclipse(self) -> tuple[PosCommunity, list[PosCommunity]]:
        victim_key = self.keys[VALIDATORS]
        victim = self.extra_node(victim_key, max_peers=self.ATTACKERS - 1)
        cabal_keys = self.keys[VALIDATORS + 1:VALIDATORS + 1 + self.ATTACKERS]
        policy = CabalPolicy({key.ipv8_key().pub().key_to_bin() for key in [victim_key, *cabal_keys]})
        attackers = [self.extra_node(key, behaviour=WithholdingNode(), validator=False) for key in cabal_keys]
        for attacker in attackers:
            attacker.overlay.peer_policy = policy
            attacker.overlay.walk_to(victim.endpoint.wan_address)
        await self.deliver_messages()
        for i in range(VALIDATORS):
            self.overlay(i).walk_to(victim.endpoint.wan_address)
        await self.deliver_messages()
        # The private view: a height the honest chain does not have, and a chain certified by attacker keys.
        private = Chain.start(self.genesis)
        fake = private.build_block(cabal_keys[0], 0, 1_000)
        lies = [height_claim(50), fake_block_response(fake, certify(fake, cabal_keys))]
        for attacker in attackers:
            for lie in lies:
                attacker.endpoint.send(victim.endpoint.wan_address, attacker.overlay.pack_signed(lie))
        return victim.overlay, [attacker.overlay for attacker in attackers]

    async def settle(self, target: int = 5) -> None:
        await self.until(lambda: self.overlay(0).chain.height >= target)
        await self.deliver_messages(1.0)


class TestEclipseUndefended(EclipseBase):
    DEFENCES = PeerDefences.none()

    async def test_the_victim_follows_only_attackers_and_stalls(self) -> None:
        victim, attackers = await self.eclipse()
        await self.settle()
        self.assertEqual([], victim.validator_peers())
        self.assertEqual(self.ATTACKERS, len(victim.get_peers()))
        self.assertEqual(0, victim.chain.height)
        self.assertGreaterEqual(self.overlay(0).chain.height, 5)
        # It believes the attackers are 50 blocks ahead and asks them, in vain.
        self.assertEqual(50, victim.sync.peer_height(attackers[0].my_peer.public_key.key_to_bin()))


class TestEclipseDefended(EclipseBase):
    async def test_the_victim_follows_the_validators_and_gets_every_block(self) -> None:
        victim, attackers = await self.eclipse()
        await self.settle()
        target = self.overlay(0).chain.height
        await self.until(lambda: victim.chain.height >= target)
        self.assertEqual(VALIDATORS, len(victim.validator_peers()))
        for height in range(1, target + 1):
            self.assertEqual(self.overlay(0).chain.block(height), victim.chain.block(height))
        victim.chain.check_invariants()
        # Anchors took the attackers' slots; the height claim of the one left is refused (pinning), and nothing was
        # asked of the attackers.
        self.assertEqual(self.ATTACKERS - 1 - VALIDATORS, len(victim.get_peers()) - VALIDATORS)
        self.assertGreaterEqual(victim.drops["not a validator"], 1)
        self.assertEqual(0, victim.sync.peer_height(attackers[0].my_peer.public_key.key_to_bin()))
        self.assertEqual(0, sum(attacker.work["handler calls"] for attacker in attackers))


class TestEclipsePinningOnly(EclipseBase):
    """Anchors on, pinning off: the victim still gets the blocks (long-polls go to validators), but it takes the
    attackers' height claims and spends block requests on them."""

    DEFENCES = PeerDefences(validator_pinning=False)

    async def test_without_pinning_the_victim_asks_the_attackers(self) -> None:
        victim, attackers = await self.eclipse()
        await self.settle()
        # The newest peers were evicted for the anchors: the first attacker kept its slot, and its claim was taken.
        self.assertIn(attackers[0].my_peer.public_key.key_to_bin(),
                      {peer.public_key.key_to_bin() for peer in victim.get_peers()})
        self.assertEqual(50, victim.sync.peer_height(attackers[0].my_peer.public_key.key_to_bin()))
        self.assertGreater(sum(attacker.work["handler calls"] for attacker in attackers), 0)


def test_sybil_and_eclipse_run_on_real_nodes_where_the_victim_and_its_table_are_its_operators() -> None:
    for attack in (SybilSlots(), Eclipse(), SybilSlots(sybils=20, at=2.0), Eclipse(attackers=3, claim=9)):
        assert attack.real_node and attack.real_node_act
        attack.check_real_node()
    for attack, name in ((SybilSlots(victim=1), "victim"), (SybilSlots(slots=4), "slots"),
                         (Eclipse(victim=2), "victim"), (Eclipse(slots=3), "slots")):
        with pytest.raises(BadParameter, match=rf"^{attack.name}: {name} is the simulator's \(it picks and re-joins "
                                               r"the victim\); on real nodes the victim's operator restarts it with a "
                                               r"small \[network\] max_peers$"):
            attack.check_real_node()
