"""PosDefences: every defence on by default, `none()` all off, and the community reads the switches."""

from __future__ import annotations

import attrs
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

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
