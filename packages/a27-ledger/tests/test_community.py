"""The ledger community on IPv8's test network: submissions, broadcasts, queries, loss, and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ipv8.community import CommunitySettings
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import (
    MAX_UINT64,
    QUEUED,
    SIGNATURE_LENGTH,
    BalanceQuery,
    FutureNonceQueue,
    Genesis,
    InsufficientBalance,
    InvalidAmount,
    KeyPair,
    LedgerCommunity,
    LedgerSettings,
    LogEntryMessage,
    LogHead,
    NonceGap,
    NonceReplay,
    SubmissionTimeout,
    SubmitTransaction,
    SyncRequest,
    Transaction,
    TransactionResult,
    sign_transfer,
)
from a27_ledger.testing import make_keys

VALIDATORS = 2
NODES = 5
FAST = {"retry_interval": 0.1, "head_interval": 0.1, "sync_interval": 0.1}


class LedgerTestBase(TestBase[LedgerCommunity]):
    """Two validators (nodes 0, 1) and three light nodes (2, 3, 4) with curve25519 keys from a fixed seed."""

    def setUp(self) -> None:
        super().setUp()
        self.keys = make_keys(NODES, seed=99)
        self.genesis = Genesis.build("a27-test", {key.public_key: 1_000 for key in self.keys},
                                     [key.public_key for key in self.keys[:VALIDATORS]])
        self._unbuilt = list(self.keys)
        self.initialize(LedgerCommunity, NODES)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        key = self._unbuilt.pop(0)
        ledger_settings = LedgerSettings(genesis=self.genesis, **FAST)
        return MockIPv8(Peer(key.ipv8_key()), LedgerCommunity, ledger_settings)

    def account(self, i: int) -> bytes:
        return self.keys[i].public_key

    def digests(self) -> set[bytes]:
        return {self.overlay(i).state.snapshot().digest() for i in range(NODES)}

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        waited = 0.0
        while not condition():
            self.assertLess(waited, timeout, "condition not reached in time")
            await self.deliver_messages(0.05)
            waited += 0.05


class TestSubmitAndBroadcast(LedgerTestBase):
    async def test_accepted_transfer_reaches_every_node(self) -> None:
        outcome = await self.overlay(2).transfer(self.account(3), 100, fee=2)
        self.assertTrue(outcome.accepted)
        self.assertEqual(1, outcome.sequence)
        self.assertIn(outcome.validator, {self.account(0), self.account(1)})
        await self.until(lambda: all(self.overlay(i).state.balance(self.account(3)) == 1_100 for i in range(NODES)))
        self.assertEqual(1, len(self.digests()))
        for i in range(NODES):
            state = self.overlay(i).state
            self.assertEqual(898, state.balance(self.account(2)))
            self.assertEqual(1, state.next_nonce(self.account(2)))
            state.check_invariants()

    async def test_consecutive_transfers_use_consecutive_nonces(self) -> None:
        for amount in (5, 6, 7):
            outcome = await self.overlay(4).transfer(self.account(2), amount)
            self.assertTrue(outcome.accepted, outcome.reason)
        await self.until(lambda: all(self.overlay(i).state.next_nonce(self.account(4)) == 3 for i in range(NODES)))
        self.assertEqual(1, len(self.digests()))

    async def test_overdraft_is_rejected_with_the_reason_and_changes_nothing(self) -> None:
        before = self.digests()
        outcome = await self.overlay(2).transfer(self.account(3), 5_000)
        self.assertFalse(outcome.accepted)
        self.assertIn("insufficient balance", outcome.reason)
        await self.deliver_messages()
        self.assertEqual(before, self.digests())

    async def test_resubmitting_an_accepted_transaction_is_idempotent(self) -> None:
        transaction = sign_transfer(self.keys[2], self.account(3), 10, nonce=0)
        first = await self.overlay(2).submit(transaction, self.peer(0))
        second = await self.overlay(2).submit(transaction, self.peer(0))
        self.assertTrue(first.accepted)
        self.assertTrue(second.accepted)
        self.assertEqual(first.sequence, second.sequence)
        await self.until(lambda: len(self.digests()) == 1 and self.overlay(4).state.snapshot().applied == 1)

    async def test_balance_query(self) -> None:
        await self.overlay(2).transfer(self.account(3), 40)
        info = await self.overlay(4).query_balance(self.account(3), self.peer(1))
        self.assertEqual(self.account(3), info.account)
        self.assertIn(info.balance, {1_000, 1_040})
        await self.until(lambda: self.overlay(1).state.balance(self.account(3)) == 1_040)
        info = await self.overlay(4).query_balance(self.account(3), self.peer(1))
        self.assertEqual(1_040, info.balance)
        self.assertEqual(self.account(1), info.validator)

    async def test_entries_lost_while_down_are_fetched_again(self) -> None:
        self.endpoint(4).close()
        await self.overlay(2).transfer(self.account(3), 25)
        await self.overlay(3).transfer(self.account(2), 5)
        await self.deliver_messages()
        self.assertEqual(0, self.overlay(4).state.snapshot().applied)
        self.endpoint(4).open()
        await self.until(lambda: self.overlay(4).state.snapshot().applied == 2)
        self.assertEqual(1, len(self.digests()))
        self.assertGreater(self.overlay(4).stats["sync requests"], 0)



class TestLightNodeNonces(LedgerTestBase):
    """A light node never signs two different transactions with one nonce."""

    async def test_after_a_timeout_the_same_transaction_is_resubmitted_before_a_new_nonce_is_used(self) -> None:
        light = self.overlay(2)
        pending = asyncio.ensure_future(light.transfer(self.account(3), 25))
        await asyncio.sleep(0)  # the first copy is on its way to validator 0, which admits and logs it
        self.endpoint(2).close()  # ... but the verdict and the log entry never reach the light node
        with self.assertRaises(SubmissionTimeout):
            await pending
        self.assertEqual(0, light.state.next_nonce(self.account(2)))
        self.endpoint(2).open()
        outcome = await light.transfer(self.account(4), 7)  # before the light node caught up with the logs
        self.assertTrue(outcome.accepted, outcome.reason)
        await self.until(lambda: all(self.overlay(i).state.next_nonce(self.account(2)) == 2 for i in range(NODES)))
        self.assertEqual(1, len(self.digests()))
        for i in range(NODES):
            self.assertEqual(1_025, self.overlay(i).state.balance(self.account(3)))
            self.assertEqual(1_007, self.overlay(i).state.balance(self.account(4)))
        self.assertEqual(0, self.overlay(0).stats[f"admission {NonceReplay.code}"])

    async def test_a_refused_transfer_frees_its_nonce(self) -> None:
        light = self.overlay(2)
        refused = await light.transfer(self.account(3), 5_000)
        self.assertFalse(refused.accepted)
        self.assertEqual(0, light.next_nonce())
        self.assertTrue((await light.transfer(self.account(3), 5)).accepted)
        await self.until(lambda: all(self.overlay(i).state.next_nonce(self.account(2)) == 1 for i in range(NODES)))

    async def test_while_an_earlier_transfer_has_no_verdict_nothing_new_is_signed(self) -> None:
        light = self.overlay(2)
        self.endpoint(0).close()
        self.endpoint(1).close()
        with self.assertRaises(SubmissionTimeout):
            await light.transfer(self.account(3), 25)
        with self.assertRaises(SubmissionTimeout):
            await light.transfer(self.account(4), 7)
        self.assertEqual(1, light.next_nonce())  # nonce 0 stays with the first transfer
        self.endpoint(0).open()
        self.endpoint(1).open()
        self.assertTrue((await light.transfer(self.account(4), 7)).accepted)
        await self.until(lambda: all(self.overlay(i).state.next_nonce(self.account(2)) == 2 for i in range(NODES)))
        self.assertEqual(1_025, self.overlay(0).state.balance(self.account(3)))


class TestBadInput(LedgerTestBase):
    """Every handler is fed bad bytes: the node logs, counts and drops them, and its state does not change."""

    def packet(self, sender: int, payload: object) -> bytes:
        return self.overlay(sender).pack_signed(payload)  # type: ignore[arg-type]

    def feed(self, receiver: int, sender: int, data: bytes) -> None:
        overlay = self.overlay(receiver)
        handler = overlay.decode_map[data[22]]
        assert handler is not None
        handler(self.address(sender), data)

    def assert_dropped(self, receiver: int, cause: str, data: bytes, sender: int = 2) -> None:
        overlay = self.overlay(receiver)
        before_state = overlay.state.snapshot().digest()
        before = overlay.drops[cause]
        self.feed(receiver, sender, data)
        self.assertEqual(before + 1, overlay.drops[cause], dict(overlay.drops))
        self.assertEqual(before_state, overlay.state.snapshot().digest())

    def valid_submission(self) -> bytes:
        return self.packet(2, SubmitTransaction(sign_transfer(self.keys[2], self.account(3), 10, 0).encode()))

    async def test_truncated_packets(self) -> None:
        packet = self.valid_submission()
        overlay = self.overlay(0)
        for cut in (24, 30, 60, len(packet) - SIGNATURE_LENGTH, len(packet) - 1):
            with self.subTest(cut=cut):
                before = sum(overlay.drops.values())
                self.feed(0, 2, packet[:cut])
                self.assertEqual(before + 1, sum(overlay.drops.values()))
        self.assertEqual(0, self.overlay(0).state.snapshot().applied)

    async def test_oversized_packet_with_trailing_bytes(self) -> None:
        payload = SubmitTransaction(sign_transfer(self.keys[2], self.account(3), 10, 0).encode())
        overlay = self.overlay(2)
        body = overlay.get_prefix() + bytes([SubmitTransaction.msg_id]) + overlay.serializer.pack_serializable_list(
            [_auth(overlay), payload]) + b"\x00" * 500
        signed = body + self.keys[2].sign(body)
        self.assert_dropped(0, "malformed", signed)

    async def test_bad_signature(self) -> None:
        packet = bytearray(self.valid_submission())
        packet[-70] ^= 0x01
        self.assert_dropped(0, "bad signature", bytes(packet))

    async def test_wrong_message_id_is_not_handled_by_the_handler(self) -> None:
        packet = bytearray(self.valid_submission())
        packet[22] = LogHead.msg_id
        self.assert_dropped(3, "bad signature", bytes(packet))

    async def test_unknown_peer(self) -> None:
        stranger = KeyPair.from_seed(b"\x42" * 32)
        overlay = self.overlay(2)
        body = overlay.get_prefix() + bytes([SubmitTransaction.msg_id]) + overlay.serializer.pack_serializable_list(
            [_auth_for(stranger), SubmitTransaction(sign_transfer(stranger, self.account(3), 1, 0).encode())])
        self.assert_dropped(0, "unknown peer", body + stranger.sign(body))

    async def test_banned_peer(self) -> None:
        self.overlay(0).ban(self.peer(2), "test")
        self.assert_dropped(0, "banned peer", self.valid_submission())

    async def test_malformed_transaction_gets_a_reject_reply(self) -> None:
        with self.assertReceivedBy(2, [TransactionResult], message_filter=[TransactionResult]) as received:
            self.assert_dropped(0, "invalid transaction", self.packet(2, SubmitTransaction(b"\x01\x02\x03")))
            await self.deliver_messages()
        self.assertNotEqual(0, received[0].code)

    async def test_bad_transaction_signature_is_rejected(self) -> None:
        forged = sign_transfer(self.keys[3], self.account(2), 10, 0)
        wrong_sender = forged.encode()[:3] + self.account(4) + forged.encode()[35:]
        with self.assertReceivedBy(2, [TransactionResult], message_filter=[TransactionResult]) as received:
            self.feed(0, 2, self.packet(2, SubmitTransaction(wrong_sender)))
            await self.deliver_messages()
        self.assertIn("signature", received[0].reason)
        self.assertEqual(0, self.overlay(0).state.snapshot().applied)

    async def test_replayed_log_entry_changes_nothing(self) -> None:
        outcome = await self.overlay(2).transfer(self.account(3), 10)
        await self.until(lambda: self.overlay(4).state.snapshot().applied == 1)
        validator = 0 if outcome.validator == self.account(0) else 1
        entry = self.packet(validator, LogEntryMessage(1, sign_transfer(self.keys[2], self.account(3), 10,
                                                                        0).encode()))
        before = self.overlay(4).state.snapshot().digest()
        self.feed(4, validator, entry)
        self.assertEqual(before, self.overlay(4).state.snapshot().digest())

    async def test_log_entry_from_a_light_node(self) -> None:
        entry = self.packet(3, LogEntryMessage(1, sign_transfer(self.keys[3], self.account(2), 10, 0).encode()))
        self.assert_dropped(4, "not a validator", entry, sender=3)

    async def test_validator_logging_a_forged_transaction_is_banned(self) -> None:
        forged = sign_transfer(self.keys[3], self.account(4), 10, 0).encode()
        forged = forged[:3] + self.account(2) + forged[35:]
        self.assert_dropped(4, "invalid log entry", self.packet(0, LogEntryMessage(1, forged)), sender=0)
        self.assertIn(self.peer(0).public_key.key_to_bin(), self.overlay(4).banned)
        self.assert_dropped(4, "banned peer", self.packet(0, LogHead(3)), sender=0)

    async def test_logged_overdraft_waits_and_changes_nothing(self) -> None:
        # It may depend on a transfer another validator logged that has not arrived yet: it waits, bounded.
        overdraft = sign_transfer(self.keys[2], self.account(3), 50_000, 0)
        before = self.overlay(4).state.snapshot().digest()
        self.feed(4, 0, self.packet(0, LogEntryMessage(1, overdraft.encode())))
        self.assertEqual(1, self.overlay(4).replica.waiting)
        self.assertEqual(before, self.overlay(4).state.snapshot().digest())

    async def test_overflowing_amount_is_rejected(self) -> None:
        overflow = sign_transfer(self.keys[2], self.account(3), MAX_UINT64, 0, fee=1)
        with self.assertReceivedBy(2, [TransactionResult], message_filter=[TransactionResult]) as received:
            self.feed(0, 2, self.packet(2, SubmitTransaction(overflow.encode())))
            await self.deliver_messages()
        self.assertEqual(InvalidAmount.code, received[0].code)
        self.assertEqual(0, self.overlay(0).state.snapshot().applied)

    async def test_queries_and_sync_requests_to_a_light_node_are_dropped(self) -> None:
        self.assert_dropped(3, "not a validator", self.packet(2, BalanceQuery(1, self.account(2))))
        self.assert_dropped(3, "not a validator", self.packet(2, SyncRequest(1, 10)))
        self.assert_dropped(3, "not a validator", self.valid_submission())

    async def test_unexpected_verdict(self) -> None:
        self.assert_dropped(2, "unexpected", self.packet(0, TransactionResult(b"\x01" * 32, 0, 1, "")), sender=0)

    async def test_too_short_packet_on_the_production_path(self) -> None:
        overlay = self.overlay(0)
        LedgerCommunity.on_packet(overlay, (self.address(2), overlay.get_prefix()))
        self.assertEqual(1, overlay.drops["malformed"])



class QueueTestBase(LedgerTestBase):
    """Validators whose future-nonce queues hold entries ``HOLD_SECONDS``."""

    HOLD_SECONDS = 30.0

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        key = self._unbuilt.pop(0)
        ledger_settings = LedgerSettings(genesis=self.genesis, queue=FutureNonceQueue(hold_seconds=self.HOLD_SECONDS),
                                         **FAST)
        return MockIPv8(Peer(key.ipv8_key()), LedgerCommunity, ledger_settings)

    def submit_from(self, relay: int, transaction: Transaction) -> None:
        packet = self.overlay(relay).pack_signed(SubmitTransaction(transaction.encode()))
        self.overlay(0).decode_map[SubmitTransaction.msg_id](self.address(relay), packet)  # type: ignore[misc]



class TestFutureNonceQueue(QueueTestBase):
    """Submissions whose nonce is ahead: unfunded floods are refused and funded senders get in."""

    async def test_a_flood_of_unfunded_gap_transfers_does_not_lock_out_a_funded_sender(self) -> None:
        validator = self.overlay(0)
        for index in range(4_100):
            stranger = KeyPair.from_seed(index.to_bytes(4, "big") + b"\x5b" * 28)
            self.submit_from(2, sign_transfer(stranger, self.account(3), 1, nonce=1))
        self.assertEqual(4_100, validator.stats[f"admission {InsufficientBalance.code}"])
        self.assertEqual(0, len(validator.replica.queue))
        self.submit_from(3, sign_transfer(self.keys[3], self.account(4), 10, nonce=1))
        self.assertEqual(1, validator.stats[f"admission {QUEUED}"])
        outcome = await self.overlay(3).submit(sign_transfer(self.keys[3], self.account(4), 10, nonce=0),
                                               self.peer(0))
        self.assertTrue(outcome.accepted, outcome.reason)
        await self.until(lambda: all(self.overlay(i).state.next_nonce(self.account(3)) == 2 for i in range(NODES)))
        await self.deliver_messages()



class TestFutureNonceExpiry(QueueTestBase):
    """Queued submissions expire after the validator's hold time, with a final verdict for the submitter."""

    HOLD_SECONDS = 0.5

    async def test_a_queued_submission_expires_with_a_final_verdict(self) -> None:
        gap = sign_transfer(self.keys[3], self.account(4), 10, nonce=1)
        outcome = await self.overlay(3).submit(gap, self.peer(0))
        self.assertFalse(outcome.accepted)
        self.assertEqual(NonceGap.code, outcome.code)
        self.assertIn("did not arrive", outcome.reason)
        self.assertEqual(0, len(self.overlay(0).replica.queue))
        self.assertEqual({}, self.overlay(0)._queued_submitters)


def _auth_for(key: KeyPair) -> object:
    return BinMemberAuthenticationPayload(key.ipv8_key().pub().key_to_bin())


def _auth(overlay: LedgerCommunity) -> object:
    return BinMemberAuthenticationPayload(overlay.my_peer.public_key.key_to_bin())
