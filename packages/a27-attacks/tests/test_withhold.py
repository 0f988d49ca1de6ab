"""Withholding proposals, votes or blocks: the defences are structural (round timeouts, quorums of two thirds, the
light node's switch to the next validator), so there is no switch; these tests show they hold and measure the cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_attacks.withhold import Withhold, withholding_delay
from a27_ledger.testing import make_keys
from a27_pos import PosCommunity, PosSettings, Timeouts
from a27_pos.testing import LoopClock, make_pos_genesis


def test_a_validator_withholding_its_proposals_costs_a_round_per_turn_not_liveness() -> None:
    measured = withholding_delay(1, validators=4, transfers=40)
    assert measured.unfinished == 0
    # One proposer in four: about a quarter of the heights lose a propose timeout (1 s) and a round.
    assert 0.1 < measured.extra < 1.0, measured


def test_withheld_votes_under_a_third_cost_nothing_more_and_from_a_third_halt_the_chain() -> None:
    under = withholding_delay(1, validators=4, transfers=20, votes=True)
    assert under.unfinished == 0 and under.extra < 1.0, under
    half = withholding_delay(2, validators=4, transfers=5, votes=True)
    assert half.unfinished == 5  # the BFT liveness bound: no quorum without them, for every account alike


FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)
VALIDATORS = 4
LIGHT = 4
FOLLOW_TIMEOUT = 0.5


class TestLightNodeFollowingAWithholdingValidator(TestBase[PosCommunity]):
    """Validators 0..3 and light node 4, whose first long-poll goes to a validator that serves no block (and never
    proposes)."""

    def setUp(self) -> None:
        self.clock = LoopClock(0.0)
        super().setUp()
        self.keys = make_keys(5, seed=78)
        self.genesis = make_pos_genesis(self.keys, [10_000] * VALIDATORS, balance=1_000)
        accounts = sorted(key.public_key for key in self.keys[:VALIDATORS])
        first_polled = accounts[int.from_bytes(self.keys[LIGHT].public_key[:4], "big") % VALIDATORS]
        self.withholder = next(index for index in range(VALIDATORS) if self.keys[index].public_key == first_polled)
        self.applied_at: dict[int, dict[int, float]] = {index: {} for index in range(5)}
        self._unbuilt = list(range(5))
        self.initialize(PosCommunity, 5)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        index = self._unbuilt.pop(0)
        behaviour = Withhold() if index == self.withholder else PosSettings.behaviour
        settings = PosSettings(genesis=self.genesis, timeouts=FAST, status_interval=0.1, retry_interval=0.2,
                               follow_timeout=FOLLOW_TIMEOUT, follow_settle=0.02, clock=self.clock,
                               behaviour=behaviour)
        node = MockIPv8(Peer(self.keys[index].ipv8_key()), PosCommunity, settings)
        node.overlay.commit_listeners.append(
            lambda block, _certificate, _receipts: self.applied_at[index].setdefault(
                block.height, asyncio.get_running_loop().time()))
        return node

    async def until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05

    async def test_it_gets_every_block_one_follow_timeout_late_at_most(self) -> None:
        light = self.overlay(LIGHT)
        honest = next(index for index in range(VALIDATORS) if index != self.withholder)
        await self.until(lambda: self.overlay(honest).chain.height >= 12)
        target = self.overlay(honest).chain.height
        await self.until(lambda: light.chain.height >= target)
        for height in range(1, target + 1):
            self.assertEqual(self.overlay(honest).chain.block(height).block_id, light.chain.block(height).block_id)
        self.assertGreaterEqual(light.sync.unanswered_polls, 1)
        self.assertEqual(0, self.overlay(self.withholder).stats["blocks served"])
        lags = [self.applied_at[LIGHT][height] - self.applied_at[honest][height] for height in range(1, target + 1)]
        # The first poll (to the withholder) costs one follow timeout; after the switch the light node keeps up.
        self.assertLess(max(lags), FOLLOW_TIMEOUT + 1.0, lags)
        self.assertLess(sorted(lags)[len(lags) // 2], FOLLOW_TIMEOUT, lags)
        light.chain.check_invariants()
