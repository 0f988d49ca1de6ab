"""The PoS community on IPv8's test network: finality everywhere, catching up, and bad input of every kind."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

import attrs
from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.endpoint import internet
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import SIGNATURE_LENGTH, InsufficientBalance, KeyPair, SubmissionTimeout, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import (
    NIL,
    NO_ROUND,
    PREVOTE,
    Evidence,
    PosCommunity,
    PosSettings,
    Proposal,
    Timeouts,
    TransactionRefused,
    Vote,
    sign_unbond,
)
from a27_pos.block import BLOCK_DOMAIN
from a27_pos.payloads import (
    BlockRequest,
    BlockResponse,
    EvidenceMessage,
    ProposalMessage,
    Status,
    SubmitTransaction,
    TransactionFinal,
    TransactionGossip,
    TransactionStatus,
    VoteMessage,
)
from a27_pos.testing import LoopClock, certify, make_pos_genesis

VALIDATORS = 4
NODES = 6
FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)


UNIX_TIME = 1_000_000_000.0
"""A clock start like a real deployment's (Unix time), far from a fresh test loop's."""


class PosTestBase(TestBase[PosCommunity]):
    """Validators 0..3 (equal stakes) and light nodes 4, 5, with curve25519 keys from a fixed seed.

    Every node reads one injected clock that starts at CLOCK_START, never the host's uptime or the wall clock.
    """

    CLOCK_START = 0.0
    NODE_COUNT = NODES

    def setUp(self) -> None:
        self.clock = LoopClock(self.CLOCK_START)
        super().setUp()
        self.keys = make_keys(self.NODE_COUNT, seed=77)
        self.genesis = make_pos_genesis(self.keys, [10_000] * VALIDATORS, balance=1_000)
        self._unbuilt = list(self.keys)
        self.initialize(PosCommunity, self.NODE_COUNT)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        key = self._unbuilt.pop(0)
        return MockIPv8(Peer(key.ipv8_key()), PosCommunity, self.settings())

    def settings(self) -> PosSettings:
        return PosSettings(genesis=self.genesis, timeouts=FAST, status_interval=0.1, retry_interval=0.2,
                           follow_timeout=0.5, follow_settle=0.02, clock=self.clock)

    def account(self, i: int) -> bytes:
        return self.keys[i].public_key

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05

    def block_ids_at(self, height: int) -> set[bytes]:
        ids = set()
        for i in range(self.NODE_COUNT):
            block = self.overlay(i).chain.block(height)
            if block is not None:
                ids.add(block.block_id)
        return ids


class TestFinality(PosTestBase):
    async def test_a_light_nodes_transfer_becomes_final_on_every_node(self) -> None:
        finality = await self.overlay(4).transfer(self.account(5), 100, fee=3)
        self.assertGreaterEqual(finality.height, 1)
        self.assertEqual(897, self.overlay(4).chain.state.balance(self.account(4)))
        await self.until(lambda: all(self.overlay(i).chain.height >= finality.height for i in range(NODES)))
        self.assertEqual({finality.block_id}, self.block_ids_at(finality.height))
        for i in range(NODES):
            chain = self.overlay(i).chain
            self.assertEqual(1_100, chain.state.balance(self.account(5)))
            chain.check_invariants()
        self.assertTrue(self.overlay(0).is_validator)
        self.assertFalse(self.overlay(4).is_validator)

    async def test_consecutive_transfers_and_a_refusal(self) -> None:
        for amount in (10, 20):
            finality = await self.overlay(5).transfer(self.account(4), amount)
            block = self.overlay(5).chain.block(finality.height)
            assert block is not None
            self.assertIn(finality.tx_id, {tx.tx_id for tx in block.transactions})
        with self.assertRaises(TransactionRefused) as refused:
            await self.overlay(5).transfer(self.account(4), 10**6)
        self.assertEqual(5, refused.exception.admission.code)
        self.assertIn("insufficient balance", refused.exception.admission.reason)

    async def test_a_transaction_that_cannot_apply_is_refused_and_holds_no_nonce(self) -> None:
        light = self.overlay(4)
        # Unbonding passes the kind's stateless checks, but this light node has nothing bonded.
        admission = await light.submit(sign_unbond(self.keys[4], 10, light.next_nonce()))
        self.assertFalse(admission.admitted)
        self.assertEqual(InsufficientBalance.code, admission.code)
        finality = await light.transfer(self.account(5), 10, timeout=5.0)
        self.assertGreaterEqual(finality.height, 1)

    async def test_a_transfer_not_final_in_time_is_forgotten_and_the_nonce_comes_from_the_chain(self) -> None:
        light = self.overlay(4)
        with self.assertRaises(SubmissionTimeout):
            await light.transfer(self.account(5), 10, timeout=0.001)
        self.assertEqual({}, light._finality)
        self.assertEqual(light.chain.state.next_nonce(self.account(4)), light.next_nonce())
        # Whether or not the first one becomes final, later transfers are not stuck behind it.
        await self.until(lambda: light.chain.state.next_nonce(self.account(4)) == 1)
        finality = await light.transfer(self.account(5), 20)
        self.assertGreaterEqual(finality.height, 1)
        self.assertEqual(1_000 - 30, light.chain.state.balance(self.account(4)))

    async def test_validators_agree_on_every_height(self) -> None:
        await self.until(lambda: min(self.overlay(i).chain.height for i in range(NODES)) >= 3)
        for height in (1, 2, 3):
            self.assertEqual(1, len(self.block_ids_at(height)))
        self.assertEqual(0, sum(sum(self.overlay(i).drops.values()) for i in range(NODES)))


class TestFinalityAtUnixTime(TestFinality):
    CLOCK_START = UNIX_TIME


class TestClock(PosTestBase):
    async def test_real_nodes_default_to_unix_time(self) -> None:
        # A real loop's clock counts from the host's boot: two machines would stamp blocks days apart.
        self.assertIs(time.time, PosSettings(genesis=self.genesis).clock)


class TestCatchingUp(PosTestBase):
    async def test_an_offline_light_node_syncs_when_back(self) -> None:
        self.endpoint(5).close()
        await self.overlay(4).transfer(self.account(0), 50)
        height = self.overlay(4).chain.height
        self.assertEqual(0, self.overlay(5).chain.height)
        self.endpoint(5).open()
        await self.until(lambda: self.overlay(5).chain.height >= height)
        self.assertEqual(950, self.overlay(5).chain.state.balance(self.account(4)))
        self.assertGreater(self.overlay(5).stats["block requests"], 0)

    async def test_an_offline_validator_syncs_and_votes_again(self) -> None:
        self.endpoint(3).close()
        await self.until(lambda: self.overlay(0).chain.height >= 4)
        self.endpoint(3).open()
        await self.until(lambda: self.overlay(3).chain.height >= self.overlay(0).chain.height - 1
                         and self.overlay(3).chain.height >= 5)
        target = self.overlay(0).chain.height + 2
        await self.until(lambda: all(self.overlay(i).chain.height >= target for i in range(VALIDATORS)))
        certificate = self.overlay(0).chain.certificate(target)
        self.assertIsNotNone(certificate)


    async def test_a_late_joining_node_syncs_the_whole_chain(self) -> None:
        await self.until(lambda: self.overlay(0).chain.height >= 3)
        newcomer = make_keys(NODES + 1, seed=77)[NODES]
        node = MockIPv8(Peer(newcomer.ipv8_key()), PosCommunity, self.settings())
        self.add_node_to_experiment(node)
        # Introduced both ways: a light node hears no Status, it must know a validator to long-poll.
        for other in self.nodes[:-1]:
            other.network.add_verified_peer(Peer(node.my_peer.public_key, node.my_peer.address))
            other.network.discover_services(Peer(node.my_peer.public_key, node.my_peer.address),
                                            [PosCommunity.community_id])
            node.network.add_verified_peer(Peer(other.my_peer.public_key, other.my_peer.address))
            node.network.discover_services(Peer(other.my_peer.public_key, other.my_peer.address),
                                           [PosCommunity.community_id])
        target = self.overlay(0).chain.height
        await self.until(lambda: self.overlay(NODES).chain.height >= target)
        self.assertEqual(self.overlay(0).chain.block(target), self.overlay(NODES).chain.block(target))
        self.overlay(NODES).chain.check_invariants()


    async def test_a_validator_still_voting_on_a_finalized_height_is_sent_the_block(self) -> None:
        await self.until(lambda: self.overlay(0).chain.height >= 2)
        overlay = self.overlay(0)
        engine = overlay.engine
        assert engine is not None
        key = self.keys[1]
        stale = Vote(PREVOTE, engine.height - 1, 7, NIL, key.public_key).signed(key, self.genesis.chain_id)
        handler = overlay.decode_map[VoteMessage.msg_id]
        assert handler is not None
        offered = "blocks offered to lagging validators"
        # Relayed by another node: the blocks would go to a peer that is not the validator, so none are sent.
        engine._lagging.clear()  # the validator may have been seen lagging a moment ago, in the run itself
        before, served = overlay.stats[offered], overlay.stats["blocks served"]
        for _ in range(2):
            handler(self.address(4), self.overlay(4).pack_signed(VoteMessage(stale.encode())))
            self.clock.advance(1.0)
        self.assertEqual(before, overlay.stats[offered])
        self.assertEqual(served, overlay.stats["blocks served"])
        handler(self.address(1), self.overlay(1).pack_signed(VoteMessage(stale.encode())))
        self.clock.advance(1.0)
        handler(self.address(1), self.overlay(1).pack_signed(VoteMessage(stale.encode())))
        self.assertEqual(before + 1, overlay.stats[offered])
        self.assertGreater(overlay.stats["blocks served"], served)


class TestBadInput(PosTestBase):
    """Every handler is fed bad bytes: the node logs, counts and drops them, and its state does not change."""

    def packet(self, sender: int, payload: object) -> bytes:
        return self.overlay(sender).pack_signed(payload)  # type: ignore[arg-type]

    def feed(self, receiver: int, sender: int, data: bytes) -> None:
        handler = self.overlay(receiver).decode_map[data[22]]
        assert handler is not None
        handler(self.address(sender), data)

    def assert_dropped(self, receiver: int, cause: str, data: bytes, sender: int = 4) -> None:
        overlay = self.overlay(receiver)
        before_state = overlay.chain.state.snapshot().digest()
        before_height = overlay.chain.height
        before = overlay.drops[cause]
        self.feed(receiver, sender, data)
        self.assertEqual(before + 1, overlay.drops[cause], dict(overlay.drops))
        self.assertEqual(before_state, overlay.chain.state.snapshot().digest())
        self.assertEqual(before_height, overlay.chain.height)

    def vote(self, signer: int, height: int = 1, round_number: int = 0) -> Vote:
        key = self.keys[signer]
        return Vote(PREVOTE, height, round_number, NIL, key.public_key).signed(key, self.genesis.chain_id)

    async def test_malformed_consensus_messages(self) -> None:
        self.assert_dropped(0, "malformed", self.packet(4, ProposalMessage(b"\x01\x02")))
        self.assert_dropped(0, "malformed", self.packet(4, VoteMessage(b"\x00" * 140)))
        self.assert_dropped(0, "malformed", self.packet(4, EvidenceMessage(self.vote(1).encode() * 2)))
        self.assert_dropped(0, "malformed", self.packet(4, BlockResponse(b"\x01", b"")))

    async def test_consensus_messages_to_a_light_node(self) -> None:
        self.assert_dropped(5, "not a validator", self.packet(0, VoteMessage(self.vote(0).encode())), sender=0)
        self.assert_dropped(5, "not a validator", self.packet(4, SubmitTransaction(
            sign_transfer(self.keys[4], self.account(5), 1, 0).encode())))
        self.assert_dropped(5, "not a validator", self.packet(0, TransactionGossip(
            sign_transfer(self.keys[4], self.account(5), 1, 0).encode())), sender=0)

    async def test_votes_from_non_validators_and_forged_votes(self) -> None:
        engine = self.overlay(0).engine
        assert engine is not None
        height = engine.height
        self.assert_dropped(0, "not a validator", self.packet(4, VoteMessage(self.vote(4, height).encode())))
        forged = attrs.evolve(self.vote(1, height), signature=self.vote(2, height).signature)
        self.assert_dropped(0, "invalid signature", self.packet(4, VoteMessage(forged.encode())))
        self.assert_dropped(0, "future message", self.packet(4, VoteMessage(self.vote(1, height + 5).encode())))

    async def test_proposals_from_the_wrong_proposer_or_with_a_bad_root(self) -> None:
        overlay = self.overlay(0)
        engine = overlay.engine
        assert engine is not None
        chain = overlay.chain
        height, round_number = engine.height, engine.round + 1
        intruder = next(key for key in self.keys[:VALIDATORS]
                        if key.public_key != chain.proposer(height, round_number))
        stamp = int(overlay.now() * 1000)
        block = chain.build_block(intruder, round_number, stamp)
        wrong = Proposal.create(intruder, self.genesis.chain_id, round_number, NO_ROUND, block)
        self.assert_dropped(0, "wrong proposer", self.packet(4, ProposalMessage(wrong.encode())))
        rightful = next(key for key in self.keys if key.public_key == chain.proposer(height, round_number))
        good = chain.build_block(rightful, round_number, stamp)
        header = attrs.evolve(good.header, tx_root=bytes(32))
        bad_root = attrs.evolve(good, header=header, signature=rightful.sign(BLOCK_DOMAIN + header.encode()))
        proposal = Proposal.create(rightful, self.genesis.chain_id, round_number, NO_ROUND, bad_root)
        self.assert_dropped(0, "bad merkle root", self.packet(4, ProposalMessage(proposal.encode())))

    async def test_proposals_stamped_beyond_the_drift_bound(self) -> None:
        overlay = self.overlay(0)
        engine = overlay.engine
        assert engine is not None
        chain = overlay.chain
        height, round_number = engine.height, engine.round + 1
        rightful = next(key for key in self.keys if key.public_key == chain.proposer(height, round_number))
        drift_ms = int(self.overlay(0).settings.max_clock_drift * 1000)
        ahead = chain.build_block(rightful, round_number, int(overlay.now() * 1000) + drift_ms + 5_000)
        proposal = Proposal.create(rightful, self.genesis.chain_id, round_number, NO_ROUND, ahead)
        self.assert_dropped(0, "bad timestamp", self.packet(4, ProposalMessage(proposal.encode())))
        # The engine keeps the first proposal of a round (it becomes acceptable as time passes): use the next round.
        later = next(key for key in self.keys if key.public_key == chain.proposer(height, round_number + 1))
        within = chain.build_block(later, round_number + 1, int(overlay.now() * 1000) + drift_ms // 2)
        accepted = Proposal.create(later, self.genesis.chain_id, round_number + 1, NO_ROUND, within)
        before = sum(overlay.drops.values())
        self.feed(0, 4, self.packet(4, ProposalMessage(accepted.encode())))
        self.assertEqual(before, sum(overlay.drops.values()), dict(overlay.drops))

    async def test_blocks_are_stamped_from_the_injected_clock(self) -> None:
        await self.until(lambda: min(self.overlay(i).chain.height for i in range(NODES)) >= 2)
        for i in range(NODES):
            stamp = self.overlay(i).chain.head.timestamp / 1000
            self.assertLessEqual(self.CLOCK_START, stamp)
            self.assertLessEqual(stamp, self.overlay(i).now())

    async def test_synced_blocks_with_bad_certificates(self) -> None:
        self.endpoint(5).close()
        follower = self.overlay(5)
        source = self.overlay(0).chain
        await self.until(lambda: source.height >= follower.chain.height + 1)
        block = source.block(follower.chain.height + 1)
        assert block is not None
        weak = certify(block, self.keys[:2])
        strangers = certify(block, [KeyPair.from_seed(bytes([index]) * 32) for index in range(1, 4)])
        for certificate in (weak, strangers):
            self.assert_dropped(5, "invalid certificate", self.packet(0, BlockResponse(
                block.encode(), certificate.encode())), sender=0)
        self.assert_dropped(5, "malformed", self.packet(0, BlockResponse(block.encode(), b"\x00")), sender=0)

    async def test_unexpected_answers_and_requests(self) -> None:
        self.assert_dropped(4, "unexpected", self.packet(0, TransactionStatus(bytes(32), 0, "")), sender=0)
        before = self.overlay(4).chain.state.snapshot().digest()
        self.feed(4, 0, self.packet(0, TransactionFinal(bytes(32), 1, bytes(32))))
        self.assertEqual(1, self.overlay(4).stats["late finality notices"])
        self.assertEqual(before, self.overlay(4).chain.state.snapshot().digest())
        self.assert_dropped(0, "malformed", self.packet(4, BlockRequest(0, 3)))

    async def test_a_malformed_submission_gets_a_reject_answer(self) -> None:
        with self.assertReceivedBy(4, [TransactionStatus], message_filter=[TransactionStatus]) as received:
            self.assert_dropped(0, "invalid transaction", self.packet(4, SubmitTransaction(b"\x01\x02\x03")))
            await self.deliver_messages()
        self.assertEqual(1, received[0].code)

    async def test_truncated_and_oversized_packets(self) -> None:
        packet = self.packet(4, Status(0, bytes(32)))
        overlay = self.overlay(0)
        for cut in (24, 60, len(packet) - SIGNATURE_LENGTH, len(packet) - 1):
            before = sum(overlay.drops.values())
            self.feed(0, 4, packet[:cut])
            self.assertEqual(before + 1, sum(overlay.drops.values()))
        body = packet[:-SIGNATURE_LENGTH] + b"\x00" * 10
        self.assert_dropped(0, "malformed", body + self.keys[4].sign(body))

    async def test_evidence_that_does_not_hold(self) -> None:
        key = self.keys[1]
        votes = [Vote(PREVOTE, 1, 0, block_id, key.public_key).signed(key, "another-chain")
                 for block_id in (NIL, bytes([1]) * 32)]
        self.assert_dropped(0, "invalid evidence", self.packet(4, EvidenceMessage(
            Evidence.from_votes(*votes).encode())))


class TestBadInputAtUnixTime(TestBadInput):
    CLOCK_START = UNIX_TIME


Address = tuple[str, int]


class Link:
    """The test internet's way into one node: counts what arrives, by sender and message id, and drops what `drop`
    picks (a lossy link), standing in `ipv8.test.mocking.endpoint.internet` for the node's endpoint."""

    def __init__(self, endpoint: object, drop: Callable[[Address, int], bool] = lambda source, msg_id: False) -> None:
        self.endpoint = endpoint
        self.drop = drop
        self.received: Counter[tuple[Address, int]] = Counter()
        self.dropped = 0

    def notify_listeners(self, packet: tuple[Address, bytes]) -> None:
        source, data = packet
        msg_id = data[22]
        if self.drop(source, msg_id):
            self.dropped += 1
            return
        self.received[(source, msg_id)] += 1
        self.endpoint.notify_listeners(packet)  # type: ignore[attr-defined]


class TestFollowing(PosTestBase):
    """4 validators and 12 light nodes: light nodes long-poll validators for the next block and hear no Status."""

    NODE_COUNT = 16
    LIGHT = range(VALIDATORS, 16)

    def links(self, drop: Callable[[int, Address, int], bool] | None = None) -> dict[int, Link]:
        """Put a counting (and, with `drop(receiver, source, msg_id)`, lossy) link in front of every node."""
        links = {}
        for i in range(self.NODE_COUNT):
            endpoint = self.endpoint(i)
            link = Link(endpoint) if drop is None else Link(endpoint, lambda source, msg_id, i=i: drop(i, source,
                                                                                                     msg_id))
            for address in {endpoint.wan_address, endpoint.lan_address}:
                internet[address] = link
            links[i] = link
        return links

    def heights(self, nodes: range) -> list[int]:
        return [self.overlay(i).chain.height for i in nodes]

    async def test_light_node_traffic_per_block_is_a_small_constant_and_no_status_reaches_light_nodes(self) -> None:
        await self.until(lambda: min(self.heights(range(self.NODE_COUNT))) >= 2)
        links = self.links()
        light_addresses = {self.address(i) for i in self.LIGHT}
        start = self.overlay(0).chain.height
        await self.until(lambda: self.overlay(0).chain.height >= start + 10)
        end = self.overlay(0).chain.height
        await self.until(lambda: min(self.heights(self.LIGHT)) >= end)
        blocks = end - start
        to_light = sum(sum(links[i].received.values()) for i in self.LIGHT)
        from_light = sum(count for i in range(self.NODE_COUNT)
                         for (source, _), count in links[i].received.items() if source in light_addresses)
        status_to_light = sum(links[i].received[(source, Status.msg_id)] for i in self.LIGHT
                              for source, msg_id in list(links[i].received) if msg_id == Status.msg_id)
        status_from_light = sum(count for i in range(self.NODE_COUNT) for (source, msg_id), count
                                in links[i].received.items() if msg_id == Status.msg_id and source in light_addresses)
        self.assertEqual(0, status_to_light)
        self.assertEqual(0, status_from_light)
        # One BlockResponse and one BlockRequest per block and light node; a little slack for blocks that came
        # between the counts and the last block the light nodes caught up with.
        per_block_per_light_node = (to_light + from_light) / (blocks * len(self.LIGHT))
        self.assertLessEqual(per_block_per_light_node, 3.0, (to_light, from_light, blocks))
        for i in self.LIGHT:
            self.assertEqual(0, self.overlay(i).stats["blocks served"])
            self.assertEqual(self.overlay(0).chain.block(end), self.overlay(i).chain.block(end))
        held = sum(self.overlay(i).stats["held requests answered"] for i in range(VALIDATORS))
        self.assertGreaterEqual(held, len(self.LIGHT) * (blocks - 2))

    async def test_light_nodes_receive_every_block_under_message_loss(self) -> None:
        rng = random.Random(5)
        light_addresses = {self.address(i) for i in self.LIGHT}

        def lossy(receiver: int, source: Address, msg_id: int) -> bool:
            # A fifth of what light nodes send and receive is lost; validators among themselves lose nothing.
            return (receiver >= VALIDATORS or source in light_addresses) and rng.random() < 0.2

        links = self.links(lossy)
        await self.until(lambda: self.overlay(0).chain.height >= 8)
        target = self.overlay(0).chain.height
        await self.until(lambda: min(self.heights(self.LIGHT)) >= target, timeout=20.0)
        self.assertGreater(sum(links[i].dropped for i in self.LIGHT), 0)
        for i in self.LIGHT:
            chain = self.overlay(i).chain
            for height in range(1, target + 1):
                self.assertEqual(self.overlay(0).chain.block(height), chain.block(height))
            chain.check_invariants()

    async def test_a_light_node_whose_validator_is_offline_and_whose_notices_are_lost_learns_its_finality(
            self) -> None:
        light = self.overlay(4)
        await self.until(lambda: light.sync.outstanding_poll is not None and light.chain.height >= 1)
        poll = light.sync.outstanding_poll
        assert poll is not None
        polled = next(i for i in range(VALIDATORS) if self.keys[i].ipv8_key().pub().key_to_bin() == poll.peer)
        self.endpoint(polled).close()
        # No finality notice reaches the light node: it learns from the blocks alone.
        self.links(lambda receiver, source, msg_id: receiver == 4 and msg_id == TransactionFinal.msg_id)
        finality = await light.transfer(self.account(5), 10, timeout=10.0)
        self.assertEqual(990, light.chain.state.balance(self.account(4)))
        self.assertEqual(0, light.stats["finality notices"] + light.stats["late finality notices"])
        self.assertGreater(light.sync.unanswered_polls, 0)
        target = max(self.overlay(i).chain.height for i in range(VALIDATORS))
        await self.until(lambda: light.chain.height >= target)
        self.assertGreaterEqual(light.chain.height, finality.height)

    async def test_one_signed_block_response_serves_every_follower_of_a_height(self) -> None:
        validator = self.overlay(0)
        handler = validator.decode_map[BlockRequest.msg_id]
        assert handler is not None
        await self.until(lambda: validator.chain.height >= 2)
        height = validator.chain.height
        sent: list[bytes] = []
        signed: list[int] = []
        original_send, original_pack = validator.send_packet, validator.pack_signed
        validator.send_packet = lambda peers, packet: (sent.append(packet), original_send(peers, packet))  # type: ignore[method-assign]
        validator.pack_signed = lambda payload: (signed.append(1), original_pack(payload))[1]  # type: ignore[method-assign]
        served = validator.stats["blocks served"]
        for i in self.LIGHT:
            handler(self.address(i), self.overlay(i).pack_signed(BlockRequest(height, 1)))
        self.assertEqual(len(self.LIGHT), validator.stats["blocks served"] - served)
        self.assertEqual(len(self.LIGHT), len(sent))
        self.assertEqual({sent[0]}, set(sent))  # the same bytes to each follower
        self.assertLessEqual(len(signed), 1)  # signed at most once (not at all if served before)

    async def test_validator_peers_follow_a_peer_that_leaves(self) -> None:
        validator = self.overlay(0)
        await self.until(lambda: validator.chain.height >= 1)
        before = validator.validator_peers()
        self.assertEqual(VALIDATORS - 1, len(before))
        leaving = before[0]
        validator.network.remove_peer(leaving)
        after = validator.validator_peers()
        self.assertNotIn(leaving, after)
        self.assertEqual(VALIDATORS - 2, len(after))

    async def test_a_request_for_the_next_height_is_held_answered_once_final_and_expires(self) -> None:
        validator = self.overlay(0)
        handler = validator.decode_map[BlockRequest.msg_id]
        assert handler is not None
        await self.until(lambda: validator.chain.height >= 1)
        next_height = validator.chain.height + 1
        requester = Peer(self.overlay(5).my_peer.public_key, self.address(5))
        served = validator.stats["blocks served"]
        handler(self.address(5), self.overlay(5).pack_signed(BlockRequest(next_height, 1)))
        self.assertIn(requester, validator.held)
        self.assertEqual(served, validator.stats["blocks served"])
        await self.until(lambda: validator.chain.height >= next_height)
        self.assertNotIn(requester, validator.held)
        await self.until(lambda: self.overlay(5).chain.height >= next_height)
        self.assertEqual(validator.chain.block(next_height), self.overlay(5).chain.block(next_height))
        # Far ahead: not held. A held one the chain does not reach within the hold time is dropped.
        handler(self.address(6), self.overlay(6).pack_signed(BlockRequest(validator.chain.height + 17, 1)))
        self.assertEqual(1, validator.stats["block requests not held"])
        handler(self.address(6), self.overlay(6).pack_signed(BlockRequest(validator.chain.height + 16, 1)))
        far = Peer(self.overlay(6).my_peer.public_key, self.address(6))
        self.assertIn(far, validator.held)
        expired = validator.held.expired
        self.clock.advance(validator.settings.hold_time)
        validator.held.expire(validator.now())
        self.assertNotIn(far, validator.held)
        self.assertGreater(validator.held.expired, expired)
