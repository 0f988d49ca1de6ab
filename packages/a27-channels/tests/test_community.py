"""The channel community on IPv8's test network, over a real PoS chain: open, pay, route, fail, close, cheat."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable

from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8
from test_behaviour import PublishesSuperseded

from a27_channels import (
    Appointment,
    ChannelAnnouncementMessage,
    ChannelBehaviour,
    ChannelCommunity,
    ChannelSettings,
    ChannelStatus,
    ChannelTerms,
    CloseOutcome,
    FailureCause,
    NodeParams,
    OpenProposalMessage,
    PaymentFailed,
    PaymentSucceeded,
    SignedState,
    UpdateCompleteMessage,
    UpdateProposalMessage,
    UpdateSignatureMessage,
    channel_chain,
    channel_record,
    to_payload,
)
from a27_ledger import SIGNATURE_LENGTH, KeyPair, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import PosCommunity, PosGenesis, PosSettings, Timeouts
from a27_pos.testing import LoopClock, make_pos_genesis

VALIDATORS = 4
NODES = 8
FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)
PARAMS = NodeParams(challenge_period=6, accept_deposit_up_to=100_000, retransmit_interval=0.2, max_retransmits=3)


class StackNode(MockIPv8):
    """A test node running the PoS community and, on top of it, the channel community (its `overlay`)."""

    def __init__(self, key: KeyPair, genesis: PosGenesis, clock: LoopClock,
                 behaviour: ChannelBehaviour | None = None) -> None:
        pos_settings = PosSettings(genesis=genesis, chain=channel_chain(genesis), timeouts=FAST, status_interval=0.1,
                                   retry_interval=0.2, clock=clock)
        super().__init__(Peer(key.ipv8_key()), PosCommunity, pos_settings)
        pos = self.get_overlay(PosCommunity)
        assert isinstance(pos, PosCommunity)
        self.pos = pos
        self.overlays.append(self.pos)
        self.overlay = ChannelCommunity(ChannelSettings(
            my_peer=self.my_peer, endpoint=self.endpoint, network=self.network, pos=self.pos, node_params=PARAMS,
            behaviour=behaviour, tick_interval=0.1, onchain_timeout=3.0))

    async def stop(self) -> None:
        await super().stop()
        await self.pos.unload()


class ChannelTestBase(TestBase[ChannelCommunity]):
    """Validators 0..3 (PoS only in practice) and channel parties 4..7, curve25519 keys from a fixed seed.

    Node 4 runs `PublishesSuperseded`: honest until a test records a superseded state for one of its channels.
    """

    def setUp(self) -> None:
        self.clock = LoopClock()
        super().setUp()
        self.keys = make_keys(NODES, seed=91)
        self.cheater = PublishesSuperseded()
        self.genesis = make_pos_genesis(self.keys, [10_000] * VALIDATORS, balance=1_000_000)
        self._unbuilt = list(self.keys)
        self.initialize(ChannelCommunity, NODES)
        for node in self.nodes:
            for peer in node.network.verified_peers:
                node.network.discover_services(peer, [PosCommunity.community_id])

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        key = self._unbuilt.pop(0)
        return StackNode(key, self.genesis, self.clock, self.cheater if key is self.keys[4] else None)

    def account(self, i: int) -> bytes:
        return self.keys[i].public_key

    async def until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05

    async def line(self, nodes: list[int], deposit: int = 50_000) -> list[bytes]:
        """Channels between consecutive nodes, opened at once; returns once every node knows all of them."""
        channel_ids = await asyncio.gather(*(self.overlay(a).open_channel(self.account(b), deposit, deposit)
                                             for a, b in itertools.pairwise(nodes)))
        await self.until(lambda: all(len(self.overlay(i).node.graph) >= len(channel_ids) for i in nodes))
        return list(channel_ids)


class TestPayments(ChannelTestBase):
    async def test_open_pay_and_close_cooperatively(self) -> None:
        alice, bob = self.overlay(4), self.overlay(5)
        channel_id = await alice.open_channel(bob.account, 50_000, 20_000)
        for amount in (1_000, 2_500):
            done = await alice.pay(channel_id, amount)
            self.assertEqual(amount, done.amount)
        await self.until(lambda: bob.node.channel(channel_id).balance == 23_500)
        outcome = await alice.close_channel(channel_id)
        self.assertIs(CloseOutcome.COOPERATIVE, outcome)
        await self.until(lambda: bob.node.status(channel_id).name == "CLOSED")
        state = alice.pos.chain.state
        self.assertEqual(1_000_000 - 50_000 - 1 + 46_500, state.balance(self.account(4)))
        self.assertEqual(1_000_000 - 20_000 + 23_500 - 1, state.balance(self.account(5)))
        alice.pos.chain.check_invariants()

    async def test_a_routed_three_hop_payment_settles(self) -> None:
        channel_ids = await self.line([4, 5, 6, 7])
        invoice = self.overlay(7).create_invoice(5_000)
        result = await self.overlay(4).send_payment(invoice)
        assert isinstance(result, PaymentSucceeded)
        assert result.route is not None
        self.assertEqual((3, 12), (len(result.route.hops), result.route.fees))
        await self.until(lambda: self.overlay(7).node.channel(channel_ids[2]).balance == 55_000)
        self.assertEqual(55_006, self.overlay(6).node.channel(channel_ids[1]).balance)
        # Light nodes learn each block from the validator they long-poll, a few milliseconds apart: a party's policy
        # can reach a node that has not applied the channel's open yet and is dropped as "unknown channel" (the
        # channel is learnt from the block a moment later). Nothing else may be dropped.
        drops = sum((self.overlay(i).drops for i in range(4, 8)), Counter[str]())
        self.assertEqual({}, {cause: count for cause, count in drops.items() if cause != "unknown channel"})

    async def test_a_hop_without_balance_fails_the_payment(self) -> None:
        first = await self.overlay(4).open_channel(self.account(5), 50_000)
        second = await self.overlay(6).open_channel(self.account(5), 50_000)
        await self.until(lambda: {first, second} <= {channel_id for channel_id, *_ in
                                                      self.overlay(4).node.graph.channels()})
        invoice = self.overlay(6).create_invoice(5_000)
        result = await self.overlay(4).send_payment(invoice)
        assert isinstance(result, PaymentFailed)
        self.assertEqual((FailureCause.INSUFFICIENT_BALANCE, self.account(5), second),
                         (result.failure.cause, result.failure.node, result.failure.channel_id))
        await self.until(lambda: not self.overlay(5).node.channel(first).state.htlcs)
        self.assertEqual(50_000, self.overlay(4).node.channel(first).balance)


class TestCheating(ChannelTestBase):
    async def cheat_until_penalised(self, channel_id: bytes, old: SignedState, watcher: ChannelCommunity) -> None:
        """Node 4 publishes the superseded state `old`; returns once `watcher`'s chain closed the channel, which
        must be with a penalty."""
        self.cheater.superseded[channel_id] = old
        self.overlay(4).perform(self.overlay(4).node.force_close(channel_id))

        def closed() -> bool:
            record = channel_record(watcher.pos.chain.state, channel_id)
            return record is not None and record.status is ChannelStatus.CLOSED

        await self.until(closed)
        record = channel_record(watcher.pos.chain.state, channel_id)
        assert record is not None
        self.assertIs(CloseOutcome.PENALTY, record.outcome)

    async def test_a_cheater_publishing_an_old_state_is_penalised(self) -> None:
        cheater, victim = self.overlay(4), self.overlay(5)
        channel_id = await cheater.open_channel(victim.account, 40_000, 10_000)
        old = cheater.node.channel(channel_id).latest
        for _ in range(3):
            await cheater.pay(channel_id, 10_000)
        await self.until(lambda: victim.node.channel(channel_id).balance == 40_000)
        await self.cheat_until_penalised(channel_id, old, victim)
        self.assertEqual(1_000_000 - 10_000 + 50_000 - 1, victim.pos.chain.state.balance(self.account(5)))
        self.assertEqual(1, victim.node.stats["challenges"])


    async def test_an_offline_victims_tower_on_another_node_challenges_for_it(self) -> None:
        cheater, victim, tower = self.overlay(4), self.overlay(5), self.overlay(6)
        channel_id = await cheater.open_channel(victim.account, 40_000, 10_000)
        old = cheater.node.channel(channel_id).latest
        await cheater.pay(channel_id, 30_000)
        await self.until(lambda: victim.node.channel(channel_id).balance == 40_000)
        appointments = victim.watchtower_appointments()
        self.assertEqual(len(appointments), tower.keep_appointments(appointments))
        self.assertEqual(0, tower.keep_appointments([sign_transfer(self.keys[5], self.account(6), 1, 0)]))
        self.assertEqual(1, sum(count for cause, count in tower.drops.items() if cause.startswith("appointment")))
        self.nodes[5].endpoint.close()  # the victim goes offline: it sees nothing and cannot challenge
        await self.cheat_until_penalised(channel_id, old, tower)
        self.assertEqual(0, victim.node.stats["challenges"])
        self.assertEqual(1, tower.stats["tower challenge admitted"])
        # The victim paid the challenge's fee (it signed it) and got the whole channel.
        self.assertEqual(1_000_000 - 10_000 + 50_000 - 1, tower.pos.chain.state.balance(self.account(5)))


    async def test_a_client_hands_its_appointments_to_its_tower_over_the_wire(self) -> None:
        cheater, victim, tower = self.overlay(4), self.overlay(5), self.overlay(0)
        victim.settings.watchtower = self.account(0)  # the first validator keeps its appointments
        channel_id = await cheater.open_channel(victim.account, 40_000, 10_000)
        old = cheater.node.channel(channel_id).latest
        await cheater.pay(channel_id, 30_000)
        await self.until(lambda: victim.node.channel(channel_id).balance == 40_000)

        def kept_sequence() -> int:
            kept = tower.tower.appointments.get((channel_id, self.account(5)), {})
            return max((appointment.body.signed.state.sequence for appointment in kept.values()), default=-1)

        await self.until(lambda: kept_sequence() == victim.node.channel(channel_id).latest.state.sequence)
        self.assertGreater(victim.stats["appointments handed"], 0)
        self.nodes[5].endpoint.close()  # the victim goes offline without a word: its tower has what it needs
        await self.cheat_until_penalised(channel_id, old, tower)
        self.assertEqual(1, tower.stats["tower challenge admitted"])
        self.assertEqual(1_000_000 - 10_000 + 50_000 - 1, tower.pos.chain.state.balance(self.account(5)))


class TestBadInput(ChannelTestBase):
    """Every handler is fed bad input: the node logs, counts and drops it, and its channels do not change."""

    async def test_a_tower_drops_an_appointment_that_is_no_challenge(self) -> None:
        tower = self.overlay(0)
        self.feed(0, 5, to_payload(Appointment(sign_transfer(self.keys[5], self.account(6), 1, 0))))
        self.assertEqual(["appointment refused: malformed channel data"],
                         [cause for cause in tower.drops if cause.startswith("appointment")])
        self.assertEqual({}, tower.tower.appointments)

    def feed(self, receiver: int, sender: int, payload: object) -> None:
        data = self.overlay(sender).pack_signed(payload)
        self.feed_bytes(receiver, sender, data)

    def feed_bytes(self, receiver: int, sender: int, data: bytes) -> None:
        handler = self.overlay(receiver).decode_map[data[22]]
        assert handler is not None
        handler(self.address(sender), data)

    def assert_dropped(self, receiver: int, cause: str, sender: int, payload: object) -> None:
        overlay = self.overlay(receiver)
        before = {channel.channel_id: (channel.latest, channel.highest_signed, channel.incoming)
                  for channel in overlay.node.open_channels()}
        count = overlay.drops[cause]
        self.feed(receiver, sender, payload)
        self.assertEqual(count + 1, overlay.drops[cause], dict(overlay.drops))
        after = {channel.channel_id: (channel.latest, channel.highest_signed, channel.incoming)
                 for channel in overlay.node.open_channels()}
        self.assertEqual(before, after)

    async def test_malformed_forged_and_misdirected_messages(self) -> None:
        alice, bob = self.overlay(4), self.overlay(5)
        channel_id = await alice.open_channel(bob.account, 30_000, 30_000)
        await alice.pay(channel_id, 1_000)
        await self.until(lambda: not bob.node.channel(channel_id).busy)
        sequence = bob.node.channel(channel_id).state.sequence
        self.assert_dropped(5, "malformed", 4, UpdateProposalMessage(channel_id, sequence + 1, b"\x09", b""))
        self.assert_dropped(5, "unknown channel", 6, UpdateProposalMessage(channel_id, sequence + 1,
                                                                           b"\x01" + bytes(7) + b"\x05", b""))
        self.assert_dropped(5, "stale state", 4, UpdateProposalMessage(channel_id, sequence,
                                                                       b"\x01" + bytes(7) + b"\x05", b""))
        self.assert_dropped(5, "insufficient channel balance", 4, UpdateProposalMessage(
            channel_id, sequence + 1, b"\x01" + (10**6).to_bytes(8, "big"), b""))
        self.assert_dropped(5, "invalid amount", 4, UpdateProposalMessage(channel_id, sequence + 1,
                                                                          b"\x01" + bytes(8), b""))
        self.assert_dropped(5, "stale state", 4, UpdateCompleteMessage(channel_id, sequence + 7, bytes(64)))
        self.assert_dropped(4, "stale state", 5, UpdateSignatureMessage(channel_id, sequence + 7, bytes(64)))
        self.assert_dropped(5, "unknown channel", 4, UpdateSignatureMessage(bytes(32), 1, bytes(64)))
        terms = ChannelTerms(self.account(6), self.account(4), 10, 0, 6, 10**6)
        self.assert_dropped(5, "not a channel party", 6, OpenProposalMessage(terms.encode(), bytes(64)))
        empty = ChannelTerms(self.account(6), self.account(5), 0, 0, 6, 10**6)
        self.assert_dropped(5, "invalid amount", 6, OpenProposalMessage(empty.encode(), bytes(64)))
        self.assert_dropped(5, "malformed", 6, OpenProposalMessage(b"\x00" * 99, bytes(64)))
        self.assert_dropped(5, "malformed", 6, ChannelAnnouncementMessage(b"\x00" * 10))
        self.assert_dropped(5, "invalid announcement", 6, ChannelAnnouncementMessage(b"\x00" * 264))
        self.assertEqual(1_000, bob.node.channel(channel_id).balance - 30_000)

    async def test_truncated_and_mis_signed_packets(self) -> None:
        packet = self.overlay(4).pack_signed(UpdateSignatureMessage(bytes(32), 1, bytes(64)))
        overlay = self.overlay(5)
        for cut in (24, 60, len(packet) - SIGNATURE_LENGTH, len(packet) - 1):
            before = sum(overlay.drops.values())
            self.feed_bytes(5, 4, packet[:cut])
            self.assertEqual(before + 1, sum(overlay.drops.values()))
        body = packet[:-SIGNATURE_LENGTH]
        before = overlay.drops["bad signature"]
        self.feed_bytes(5, 4, body + self.keys[6].sign(body))
        self.assertEqual(before + 1, overlay.drops["bad signature"])
