"""The behaviour seam in a PosCommunity: the honest default, an equivocator caught and slashed, a silent validator."""

from __future__ import annotations

from byzantine import Equivocate, Silent
from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.mocking.ipv8 import MockIPv8
from test_community import VALIDATORS, PosTestBase

from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import HonestBehaviour, PosCommunity, PosSettings, ValidatorBehaviour, bonded_stake
from a27_pos.behaviour import is_honest

BYZANTINE = 3
"""The validator (a quarter of the stake) that runs the behaviour under test."""


def test_the_honest_behaviour_is_the_default_and_changes_nothing() -> None:
    honest = HonestBehaviour()
    assert is_honest(PosSettings.behaviour) and not is_honest(Silent()) and not is_honest(Equivocate())
    transaction = sign_transfer(make_keys(1, seed=5)[0], bytes(32), 1, 0)
    assert honest.relay_transaction(transaction, ["a", "b"]) == ["a", "b"]
    assert honest.serves_blocks("a", 1) and honest.announces_status(3)


class ByzantineTestBase(PosTestBase):
    """Node BYZANTINE runs `behaviour`; the others are honest."""

    behaviour: ValidatorBehaviour = HonestBehaviour()

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        index = len(self.keys) - len(self._unbuilt)
        key = self._unbuilt.pop(0)
        node_settings = self.settings()
        if index == BYZANTINE:
            node_settings.behaviour = self.behaviour
        return MockIPv8(Peer(key.ipv8_key()), PosCommunity, node_settings)

    def honest_validators(self) -> list[int]:
        return [index for index in range(VALIDATORS) if index != BYZANTINE]


class TestEquivocatingValidator(ByzantineTestBase):
    behaviour = Equivocate()

    async def test_is_caught_and_slashed_by_the_honest_nodes(self) -> None:
        offender = self.account(BYZANTINE)

        def slashed_everywhere() -> bool:
            return all(bonded_stake(self.overlay(index).chain.state, offender) < 10_000
                       for index in self.honest_validators())

        await self.until(slashed_everywhere, timeout=20.0)
        for index in self.honest_validators():
            chain = self.overlay(index).chain
            self.assertEqual(9_000, bonded_stake(chain.state, offender))
            chain.check_invariants()
        self.assertTrue(any(self.overlay(index).stats["evidence found"] for index in self.honest_validators()))
        self.assertGreater(self.overlay(BYZANTINE).stats["sent VoteMessage"], 0)


class TestSilentValidator(ByzantineTestBase):
    behaviour = Silent()

    async def test_under_a_third_does_not_stop_the_chain(self) -> None:
        finality = await self.overlay(4).transfer(self.account(5), 100, fee=1)
        await self.until(lambda: all(self.overlay(index).chain.height >= max(3, finality.height)
                                     for index in self.honest_validators()))
        self.assertEqual(1, len(self.block_ids_at(finality.height)))
        silent = self.overlay(BYZANTINE).stats
        self.assertEqual(0, sum(count for event, count in silent.items() if event.startswith("sent ")))
        self.assertEqual(0, silent["blocks served"])
