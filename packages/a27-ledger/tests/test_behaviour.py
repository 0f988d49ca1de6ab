"""The ledger's behaviour seams (``LedgerSettings.behaviour``, ``peer_policy``), with test behaviours defined here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.mocking.ipv8 import MockIPv8
from test_community import FAST, LedgerTestBase

from a27_ledger import LedgerCommunity, LedgerSettings, LogEntry, LogEntryMessage

PeerT = TypeVar("PeerT")


class WithholdingValidator:
    """A validator that broadcasts none of its log entries (it still answers verdicts, heads and sync requests)."""

    def __init__(self) -> None:
        self.withheld: list[int] = []

    def entry_recipients(self, entry: LogEntry, peers: Sequence[PeerT]) -> Sequence[PeerT]:
        self.withheld.append(entry.sequence)
        return []


class RefusePeers:
    """A peer policy that refuses the peers with the given IPv8 public keys."""

    def __init__(self, refused: set[bytes]) -> None:
        self.refused = refused

    def keeps(self, public_key_bin: bytes) -> bool:
        return public_key_bin not in self.refused


class BehaviourTestBase(LedgerTestBase):
    """Node 0 (a validator) withholds its broadcast; node 4 (a light node) refuses node 3 as a peer."""

    def setUp(self) -> None:
        self.withholding = WithholdingValidator()
        self.refusing = RefusePeers(set())
        super().setUp()

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        index = len(self.keys) - len(self._unbuilt)
        key = self._unbuilt.pop(0)
        extra: dict[str, object] = {}
        if index == 0:
            extra["behaviour"] = self.withholding
        if index == 4:
            self.refusing.refused.add(self.keys[3].ipv8_key().pub().key_to_bin())
            extra["peer_policy"] = self.refusing
        return MockIPv8(Peer(key.ipv8_key()), LedgerCommunity, LedgerSettings(genesis=self.genesis, **FAST, **extra))


class TestWithholdingValidator(BehaviourTestBase):
    async def test_light_nodes_get_verdicts_and_the_others_sync_what_was_withheld(self) -> None:
        own_key = self.overlay(0).my_peer.public_key.key_to_bin()
        withholder = next(peer for peer in self.overlay(2).validator_peers()
                          if peer.public_key.key_to_bin() == own_key)
        outcome = await self.overlay(2).transfer(self.account(3), 100, validator=withholder)
        self.assertTrue(outcome.accepted)
        self.assertEqual(self.account(0), outcome.validator)
        self.assertEqual([1], self.withholding.withheld)
        await self.until(lambda: all(self.overlay(i).state.balance(self.account(3)) == 1_100 for i in range(5)))
        self.assertEqual(1, len(self.digests()))
        self.assertGreater(self.overlay(1).stats["sync requests"], 0)
        self.assertGreater(self.overlay(0).stats["sync entries sent"], 0)


class TestPeerPolicy(BehaviourTestBase):
    async def test_a_refused_peer_is_not_kept_and_its_messages_are_dropped(self) -> None:
        refused_key = self.keys[3].ipv8_key().pub().key_to_bin()
        kept = {peer.public_key.key_to_bin() for peer in self.overlay(4).get_peers()}
        self.assertNotIn(refused_key, kept)
        self.assertEqual(3, len(kept))
        # Its introductions are refused (a counted drop), so it does not become a peer that way.
        self.overlay(3).walk_to(self.overlay(4).my_estimated_wan)
        await self.deliver_messages()
        self.assertEqual(1, self.overlay(4).drops["refused peer"])
        self.assertNotIn(refused_key, {peer.public_key.key_to_bin() for peer in self.overlay(4).get_peers()})
        # Known to the network through another route, it is still refused message by message.
        self.overlay(4).network.add_verified_peer(self.overlay(3).my_peer)
        self.assertNotIn(refused_key, {peer.public_key.key_to_bin() for peer in self.overlay(4).get_peers()})
        before = self.overlay(4).drops["refused peer"]
        self.overlay(3).endpoint.send(self.overlay(4).my_estimated_wan,
                                      self.overlay(3).pack_signed(LogEntryMessage(1, b"")))
        await self.deliver_messages()
        self.assertEqual(before + 1, self.overlay(4).drops["refused peer"])
        # The node keeps working with the peers it keeps.
        outcome = await self.overlay(4).transfer(self.account(2), 10)
        self.assertTrue(outcome.accepted)
