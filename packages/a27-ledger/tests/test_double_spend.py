"""Lab 1 double spending (defence ``ledger.conflicting_nonces``): one nonce, two transfers, two validators."""

from __future__ import annotations

from collections.abc import Callable

from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import (
    DOUBLE_SPEND_NAMESPACE,
    Genesis,
    LedgerCommunity,
    LedgerDefences,
    LedgerSettings,
    SubmitTransaction,
    Transaction,
    sign_transfer,
)
from a27_ledger.testing import make_keys

VALIDATORS = 4
ATTACKER = 4
NODES = 5
BALANCE = 10_000
FAST = {"retry_interval": 0.1, "head_interval": 0.1, "sync_interval": 0.1}


class DoubleSpendBase(TestBase[LedgerCommunity]):
    """Four Lab 1 validators (nodes 0-3) and the attacker's light node (4), which holds 10,000."""

    DEFENCES = LedgerDefences()

    def setUp(self) -> None:
        super().setUp()
        self.keys = make_keys(NODES + 3, seed=404)
        self.recipients = [self.keys[NODES].public_key, self.keys[NODES + 1].public_key]
        self.honest_payee = self.keys[NODES + 2].public_key
        balances = {key.public_key: 1_000 for key in self.keys[:VALIDATORS]}
        balances[self.keys[ATTACKER].public_key] = BALANCE
        self.genesis = Genesis.build("a27-test", balances, [key.public_key for key in self.keys[:VALIDATORS]])
        self._unbuilt = list(self.keys[:NODES])
        self.initialize(LedgerCommunity, NODES)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        key = self._unbuilt.pop(0)
        ledger_settings = LedgerSettings(genesis=self.genesis, defences=self.DEFENCES, **FAST)
        return MockIPv8(Peer(key.ipv8_key()), LedgerCommunity, ledger_settings)

    def conflicting(self, count: int = 2) -> list[Transaction]:
        """``count`` transfers of the attacker's whole balance, all with nonce 0, to different recipients."""
        attacker = self.keys[ATTACKER]
        payees = [*self.recipients, self.keys[0].public_key][:count]
        return [sign_transfer(attacker, payee, BALANCE, 0) for payee in payees]

    def submit_at_once(self, transactions: list[Transaction], validators: list[int]) -> None:
        """The attacker's node hands each transaction to its validator in the same instant (no loop turn between)."""
        for transaction, validator in zip(transactions, validators, strict=True):
            packet = self.overlay(ATTACKER).pack_signed(SubmitTransaction(transaction.encode()))
            self.overlay(validator).decode_map[SubmitTransaction.msg_id](self.address(ATTACKER), packet)

    def digests(self) -> set[bytes]:
        return {self.overlay(i).state.snapshot().digest() for i in range(NODES)}

    def paid_out(self, node: int) -> int:
        """What the attacker's recipients hold on ``node``."""
        return sum(self.overlay(node).state.balance(recipient) for recipient in self.recipients)

    async def settle(self, condition: Callable[[], bool] = lambda: False, seconds: float = 2.0) -> None:
        waited = 0.0
        while waited < seconds and not condition():
            await self.deliver_messages(0.05)
            waited += 0.05


class TestUndefended(DoubleSpendBase):
    """The attack as Lab 1 shipped it: the network splits into two ledgers for good."""

    DEFENCES = LedgerDefences.none()

    async def test_two_ledgers_and_paid_twice(self) -> None:
        self.submit_at_once(self.conflicting(), [0, 1])
        await self.settle()
        self.assertEqual(2, len(self.digests()))
        self.assertEqual(BALANCE, self.paid_out(0))
        self.assertEqual(BALANCE, self.paid_out(1))
        first, second = self.recipients
        self.assertEqual((BALANCE, 0), (self.overlay(0).state.balance(first), self.overlay(0).state.balance(second)))
        self.assertEqual((0, BALANCE), (self.overlay(1).state.balance(first), self.overlay(1).state.balance(second)))
        self.assertEqual(0, sum(self.overlay(i).drops["double spend"] for i in range(NODES)))


class TestDefended(DoubleSpendBase):
    """With ``ledger.conflicting_nonces`` on (the default) every node voids the transfer it applied."""

    def assert_voided_everywhere(self, copies: int) -> None:
        self.assertEqual(1, len(self.digests()))
        attacker = self.keys[ATTACKER].public_key
        for i in range(NODES):
            state = self.overlay(i).state
            state.check_invariants()
            self.assertEqual(0, self.paid_out(i))
            self.assertEqual(BALANCE, state.balance(attacker))
            self.assertEqual(1, state.next_nonce(attacker))
            self.assertEqual(1, len(state.store.data_records()))
            self.assertEqual(DOUBLE_SPEND_NAMESPACE, state.store.data_records()[0][0])
            replica = self.overlay(i).replica
            self.assertEqual(1, len(replica.double_spends))
            (found,) = replica.double_spends.values()
            self.assertTrue(found.voided)
            self.assertTrue(found.proof.verify())
            self.assertEqual(attacker, found.proof.offender)
            self.assertEqual(copies - 2, found.further)
            self.assertEqual(1, self.overlay(i).drops["double spend"])

    async def test_every_node_voids_the_double_spend_and_reports_it_once(self) -> None:
        with self.assertLogs("LedgerCommunity", "WARNING") as logs:
            self.submit_at_once(self.conflicting(), [0, 1])
            await self.settle()
        self.assert_voided_everywhere(2)
        reports = [line for line in logs.output if "double spend" in line]
        self.assertEqual(NODES, len(reports))
        self.assertIn(self.keys[ATTACKER].public_key.hex()[:8], reports[0])

    async def test_three_conflicting_transfers(self) -> None:
        self.submit_at_once(self.conflicting(3), [0, 1, 2])
        await self.settle()
        self.assert_voided_everywhere(3)

    async def test_honest_transfers_land_beside_the_attack(self) -> None:
        honest = sign_transfer(self.keys[2], self.honest_payee, 300, 0, fee=1)
        self.submit_at_once([*self.conflicting(), honest], [0, 1, 3])
        await self.settle()
        self.assert_voided_everywhere(2)
        for i in range(NODES):
            self.assertEqual(300, self.overlay(i).state.balance(self.honest_payee))
            self.assertEqual(699, self.overlay(i).state.balance(self.keys[2].public_key))


class ChainedSpendBase(DoubleSpendBase):
    """The double spend whose two payees (the attacker's too) forward what they got at once, each to a further
    attacker account, through the validator that credited them: the onward spend lands before the conflict."""

    def setUp(self) -> None:
        super().setUp()
        self.onward = [key.public_key for key in make_keys(2, seed=405)]

    def chained(self) -> list[Transaction]:
        """T1 (to payee 0), its forward F1, T2 (to payee 1), its forward F2."""
        first, second = self.conflicting()
        forwards = [sign_transfer(self.keys[NODES + i], self.onward[i], BALANCE, 0) for i in range(2)]
        return [first, forwards[0], second, forwards[1]]

    def forwarded(self, node: int) -> tuple[int, int]:
        """What the two onward accounts hold on ``node``."""
        state = self.overlay(node).state
        return state.balance(self.onward[0]), state.balance(self.onward[1])


class TestChainedSpendResidual(ChainedSpendBase):
    """``ledger.conflicting_nonces`` alone: the void cannot happen, and the network keeps two ledgers."""

    DEFENCES = LedgerDefences(confirmed_credits=False)

    async def test_onward_spends_split_the_network_and_pay_twice(self) -> None:
        self.submit_at_once(self.chained(), [0, 0, 1, 1])
        await self.settle()
        self.assertEqual(2, len(self.digests()))
        self.assertEqual((BALANCE, 0), self.forwarded(0))
        self.assertEqual((0, BALANCE), self.forwarded(1))
        (found,) = self.overlay(0).replica.double_spends.values()
        self.assertFalse(found.voided)


class TestChainedSpendDefended(ChainedSpendBase):
    """With ``ledger.confirmed_credits`` (default) the forwards are refused until the double spend is void."""

    async def test_forwards_are_refused_and_every_node_voids_the_double_spend(self) -> None:
        self.submit_at_once(self.chained(), [0, 0, 1, 1])
        await self.settle()
        self.assertEqual(1, len(self.digests()))
        for i in range(NODES):
            state = self.overlay(i).state
            state.check_invariants()
            self.assertEqual((0, 0), self.forwarded(i))
            self.assertEqual(0, self.paid_out(i))
            self.assertEqual(BALANCE, state.balance(self.keys[ATTACKER].public_key))
            self.assertTrue(all(found.voided for found in self.overlay(i).replica.double_spends.values()))
        self.assertEqual(2, self.overlay(0).stats["admission 5"] + self.overlay(1).stats["admission 5"])

    async def test_forwards_sent_again_after_the_window_find_nothing_to_spend(self) -> None:
        chained = self.chained()
        self.submit_at_once(chained, [0, 0, 1, 1])
        await self.settle(seconds=2.5)
        self.submit_at_once([chained[1], chained[3]], [0, 1])
        await self.settle()
        self.assertEqual(1, len(self.digests()))
        self.assertEqual((0, 0), self.forwarded(0))

    async def test_an_honest_payee_spends_a_credit_once_it_is_confirmed(self) -> None:
        payee = self.keys[NODES + 2]
        paid = sign_transfer(self.keys[2], payee.public_key, 300, 0)
        onward = sign_transfer(payee, self.onward[0], 300, 0)
        self.submit_at_once([paid, onward], [0, 0])
        await self.settle(lambda: self.overlay(0).stats["admission 5"] == 1)
        self.assertEqual(0, self.overlay(0).state.balance(self.onward[0]))
        await self.settle(seconds=2.1)
        self.submit_at_once([onward], [0])
        await self.settle(lambda: len(self.digests()) == 1 and self.forwarded(NODES - 1)[0] == 300)
        self.assertEqual({300}, {self.forwarded(i)[0] for i in range(NODES)})
        self.assertEqual(1, len(self.digests()))
