"""Censoring one account: censors leave a victim's transfers out of their blocks and do not relay them.

In memory (`censorship_delay`): while some proposer is honest the transfer lands in the next honest proposer's block,
within (censors + 1) blocks in the worst case; with censors < 1/3 it is final within that bound. Only when every
proposer censors (no honest proposer to rotate to) does the attack succeed.

On IPv8 (`PosCommunity`): light nodes submit to the validator first in account order; a censor in that place admits
the transfer and sits on it. With `pos.resubmit` the light node asks the next validator after `resubmit_after`
seconds and its transfer becomes final; without it the transfer never does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_attacks import BadParameter, CensorAttack
from a27_attacks.censor import Censor, censorship_delay
from a27_ledger import SubmissionTimeout, account_of
from a27_ledger.testing import make_keys
from a27_pos import PosCommunity, PosDefences, PosSettings, Timeouts
from a27_pos.testing import LoopClock, make_pos_genesis

VICTIM = make_keys(1, seed=5)[0].public_key
BLOCK_INTERVAL_BOUND = 1.5
"""Seconds a height takes at most on the in-memory network with the default timeouts and no failed round."""


def test_with_censors_under_a_third_the_victims_transfer_is_final_within_censors_plus_one_blocks() -> None:
    measured = censorship_delay(0.3, validators=10, runs=8)
    assert measured.censor_share < 1 / 3
    assert measured.censored == 0
    assert measured.worst is not None
    assert measured.worst <= (3 + 1) * BLOCK_INTERVAL_BOUND
    # The victim does pay: some run met the three censors' turns in a row.
    assert measured.worst > 3 * 1.0


def test_the_delay_grows_with_the_censors_share() -> None:
    worst = [censorship_delay(share, validators=10, runs=4, seed=1).worst for share in (0.0, 0.1, 0.3)]
    assert all(delay is not None for delay in worst)
    assert worst[0] < worst[1] < worst[2]  # type: ignore[operator]


def test_when_every_proposer_censors_the_transfer_is_never_final() -> None:
    measured = censorship_delay(1.0, validators=4, runs=2, horizon=20.0)
    assert measured.censored == 2
    assert measured.mean is None and measured.worst is None


FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)
VALIDATORS = 4
LIGHT = 4


def test_on_a_real_node_the_victim_is_an_account_armed_from_the_start() -> None:
    attack = CensorAttack.from_params([f"victim={VICTIM.hex()}"])
    assert attack.real_node and not attack.real_node_act
    attack.check_real_node()
    (node,) = attack.attacker_nodes()
    behaviour = attack.node_settings_for(node)["pos"]["behaviour"]
    assert isinstance(behaviour, Censor) and behaviour.victims == {VICTIM}
    # In simulation the victim is still armed in act, from a light node's name.
    assert attack.settings_for(node)["pos"]["behaviour"].victims == frozenset()


@pytest.mark.parametrize("victim", ["l0", "blue1", VICTIM.hex()[:62], "zz" * 32, VICTIM.hex() + "00"])
def test_on_a_real_node_a_victim_that_is_not_an_account_is_refused_in_one_line(victim: str) -> None:
    attack = CensorAttack.from_params([f"victim={victim}"])
    with pytest.raises(BadParameter, match=r"^censor: on a real node victim must be an account \(its public key in 64 "
                                           rf"hex characters, as a27 prints accounts\), got '{victim}'$"):
        attack.check_real_node()


def test_in_simulation_the_victim_is_a_light_node_and_an_account_is_refused() -> None:
    CensorAttack(victim="l3").check(validators=4, light_nodes=4)
    with pytest.raises(BadParameter, match=r"victim 'l4' is not a light node \(l0..l3\)$"):
        CensorAttack(victim="l4").check(validators=4, light_nodes=4)
    with pytest.raises(BadParameter, match=r"is not a light node .*; an account in hex names the victim on a "
                                           r"real node only$"):
        CensorAttack(victim=VICTIM.hex()).check(validators=4, light_nodes=4)


class CensoredLightNode(TestBase[PosCommunity]):
    """Validators 0..3, the one first in account order censoring light node 4's account; light node 4 and 5."""

    LIGHT_DEFENCES = PosDefences()

    def setUp(self) -> None:
        self.clock = LoopClock(0.0)
        super().setUp()
        self.keys = make_keys(6, seed=77)
        self.genesis = make_pos_genesis(self.keys, [10_000] * VALIDATORS, balance=1_000)
        self.censor = min(range(VALIDATORS), key=lambda index: self.keys[index].public_key)
        self._unbuilt = list(range(6))
        self.initialize(PosCommunity, 6)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        index = self._unbuilt.pop(0)
        behaviour = Censor([self.keys[LIGHT].public_key]) if index == self.censor else PosSettings.behaviour
        defences = self.LIGHT_DEFENCES if index == LIGHT else PosDefences()
        settings = PosSettings(genesis=self.genesis, timeouts=FAST, status_interval=0.1, retry_interval=0.2,
                               follow_timeout=0.5, follow_settle=0.02, clock=self.clock, behaviour=behaviour,
                               resubmit_after=0.5, defences=defences)
        return MockIPv8(Peer(self.keys[index].ipv8_key()), PosCommunity, settings)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05

    async def started(self) -> PosCommunity:
        light = self.overlay(LIGHT)
        await self.until(lambda: len(light.validator_peers()) == VALIDATORS and light.chain.height >= 1)
        self.assertEqual(self.keys[self.censor].public_key,
                         account_of(light.validator_peers()[0].public_key.key_to_bin()))
        return light


class TestResubmitDefence(CensoredLightNode):
    async def test_the_light_node_asks_the_next_validator_and_its_transfer_becomes_final(self) -> None:
        light = await self.started()
        finality = await light.transfer(self.keys[5].public_key, 10, timeout=10.0)
        self.assertEqual(1, light.stats["resubmitted"])
        self.assertGreater(finality.latency, 0.5)  # it waited `resubmit_after` on the censor first
        for index in range(6):
            await self.until(lambda index=index: self.overlay(index).chain.height >= finality.height)
            self.assertEqual(1_000 - 10, self.overlay(index).chain.state.balance(self.keys[LIGHT].public_key))


class TestResubmitDefenceOff(CensoredLightNode):
    LIGHT_DEFENCES = PosDefences.none()

    async def test_the_censor_holds_the_transfer_back_until_it_times_out(self) -> None:
        light = await self.started()
        with self.assertRaises(SubmissionTimeout):
            await light.transfer(self.keys[5].public_key, 10, timeout=3.0)
        self.assertEqual(0, light.stats["resubmitted"])
        self.assertEqual(1_000, light.chain.state.balance(self.keys[LIGHT].public_key))
        self.assertGreater(light.chain.height, 3)  # the chain went on without it
