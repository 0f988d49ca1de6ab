"""PosDefences: every defence on by default, `none()` all off, and the community reads the switches."""

from __future__ import annotations

import attrs
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import DroppedMessage
from a27_ledger.testing import make_keys
from a27_pos import Chain, Checkpoint, CheckpointMismatch, PosCommunity, PosDefences, PosSettings
from a27_pos.testing import extend, make_pos_genesis


def test_every_defence_is_on_by_default_and_none_switches_all_off() -> None:
    names = [field.name for field in attrs.fields(PosDefences)]
    assert {"checkpoints", "resubmit"} <= set(names)
    assert all(getattr(PosDefences(), name) is True for name in names)
    assert all(getattr(PosDefences.none(), name) is False for name in names)


class TestCommunityCheckpoint(TestBase[PosCommunity]):
    """A node handed a chain whose block at the checkpoint height is another one."""

    def setUp(self) -> None:
        super().setUp()
        self.keys = make_keys(2, seed=79)
        self.genesis = make_pos_genesis(self.keys, [10_000, 10_000])
        self.chain = Chain.start(self.genesis)
        for _ in range(3):
            extend(self.chain, self.keys)
        self.elsewhere = Checkpoint(2, bytes(32))

    def node(self, **settings: object) -> MockIPv8:
        node = MockIPv8(Peer(self.keys[0].ipv8_key()), PosCommunity,
                        PosSettings(genesis=self.genesis, chain=self.chain, validator=False, **settings))
        self.nodes.append(node)
        return node

    async def test_the_checkpoint_is_enforced_while_the_defence_is_on(self) -> None:
        with self.assertRaises(CheckpointMismatch):
            self.node(checkpoint=self.elsewhere)
        own = self.chain.checkpoint_at(2)
        self.assertEqual(own, self.node(checkpoint=own).overlay.chain.checkpoint)

    async def test_switched_off_the_checkpoint_is_ignored(self) -> None:
        node = self.node(checkpoint=self.elsewhere, defences=PosDefences.none())
        self.assertIsNone(node.overlay.chain.checkpoint)


class TestCheckpointedSyncFromGenesis(TestBase[PosCommunity]):
    """A light node starting from an empty store with a checkpoint: a history served to it is tried in memory first."""

    def setUp(self) -> None:
        super().setUp()
        self.keys = make_keys(2, seed=83)
        self.genesis = make_pos_genesis(self.keys, [10_000, 10_000])
        self.real, self.fork = Chain.start(self.genesis), Chain.start(self.genesis)
        for _ in range(3):
            extend(self.real, self.keys)
            extend(self.fork, self.keys, timestamp=self.fork.head.timestamp + 2_000)  # another block at every height

    def light_node(self, **settings: object) -> PosCommunity:
        node = MockIPv8(Peer(make_keys(3, seed=83)[2].ipv8_key()), PosCommunity,
                        PosSettings(genesis=self.genesis, validator=False, **settings))
        self.nodes.append(node)
        return node.overlay

    @staticmethod
    def served(node: PosCommunity, chain: Chain, heights: range) -> None:
        for height in heights:
            block, certificate = chain.block(height), chain.certificate(height)
            assert block is not None and certificate is not None
            try:
                node._apply_synced(block, certificate)  # what on_block_response does with the next height
            except DroppedMessage as drop:
                node.record_drop("BlockResponse", None, drop)
                return

    async def test_a_fork_is_refused_at_the_checkpoint_without_a_trace_and_the_real_chain_then_applied(self) -> None:
        node = self.light_node(checkpoint=self.real.checkpoint_at(3))
        self.served(node, self.fork, range(1, 4))
        self.assertEqual((node.chain.height, node.synced_height), (0, 0))  # the fork's 1 and 2 only tried, then dropped
        self.assertEqual(node.drops[CheckpointMismatch.reason], 1)
        self.assertEqual(node.stats["histories refused at the checkpoint"], 1)
        self.served(node, self.real, range(1, 3))
        self.assertEqual((node.chain.height, node.synced_height), (0, 2))  # tried up to 2, nothing applied yet
        self.served(node, self.real, range(3, 4))
        self.assertEqual(node.chain.height, 3)  # the checkpoint's block reached: the whole history applied
        self.assertEqual(node.chain.checkpoint_at(3), self.real.checkpoint_at(3))
        self.assertEqual(node.stats["blocks finalized"], 3)

    async def test_without_the_defence_the_fork_is_applied_as_it_comes(self) -> None:
        node = self.light_node(checkpoint=self.real.checkpoint_at(3), defences=PosDefences.none())
        self.served(node, self.fork, range(1, 4))
        self.assertEqual(node.chain.checkpoint_at(3), self.fork.checkpoint_at(3))
