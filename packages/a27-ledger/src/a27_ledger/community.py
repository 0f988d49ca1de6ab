"""
The ledger community (Lab 1): light nodes submit signed transfers to validators, validators admit them and
broadcast them to every node, and every node applies them to its own store.

The community only sends and receives; ``LedgerReplica`` decides. It does not know whether it runs on the
simulator or on UDP sockets.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

import attrs
from ipv8.community import CommunitySettings

from .behaviour import HONEST_LEDGER, KEEP_EVERY_PEER, LedgerBehaviour, PeerPolicy
from .defences import LedgerDefences
from .errors import LedgerError, NoValidator, SubmissionTimeout
from .genesis import Genesis
from .keys import KeyPair, short_id
from .overlay import A27Community, DroppedMessage, account_of, community_id_for, signed_handler
from .payloads import (
    BalanceQuery,
    BalanceReply,
    LogEntryMessage,
    LogHead,
    SubmitTransaction,
    SyncRequest,
    TransactionResult,
)
from .peer_defences import PeerDefences, PeerLimits
from .pending import FutureNonceQueue
from .replication import ACCEPTED, CONFIRMATION_WINDOW, QUEUED, LedgerReplica, LogAdmission, MissingRange
from .state import LedgerState
from .store import MemoryStore
from .transaction import Transaction, Transfer

if TYPE_CHECKING:
    from ipv8.peer import Peer

LEDGER_COMMUNITY_NAME = "a27/ledger/v1"
SYNC_BATCH = 64
"""The most log entries one sync request asks for (and a validator sends back)."""


@attrs.frozen
class SubmitOutcome:
    """The verdict a light node received for its transaction."""

    tx_id: bytes
    accepted: bool
    code: int
    reason: str
    validator: bytes
    """Account key of the validator that gave the verdict."""
    sequence: int
    """Position in that validator's log (0 when rejected, or when another validator logged it first)."""
    latency: float
    """Seconds from the first send to the verdict."""


@attrs.frozen
class BalanceInfo:
    """A validator's answer to a balance query."""

    account: bytes
    balance: int
    next_nonce: int
    validator: bytes
    head: int


class LedgerSettings(CommunitySettings):
    """Settings of the ledger community; collaborators left out are created from the genesis."""

    genesis: Genesis
    state: LedgerState | None = None
    """The node's ledger state; ``None`` creates one in memory from the genesis."""
    retry_interval: float = 1.0
    """Seconds between retransmissions of a submission or a sync request."""
    attempts_per_validator: int = 3
    submit_attempts: int = 12
    head_interval: float = 1.0
    """Seconds between a validator's announcements of its log head (and its checks for expired queued submissions)."""
    queue: FutureNonceQueue | None = None
    """A validator's queue for submissions whose nonce is ahead; ``None`` creates one with the default bounds
    (16 per sender, 4,096 in all, held at most 30 s)."""
    sync_interval: float = 1.0
    max_peers: int = 10_000
    behaviour: LedgerBehaviour = HONEST_LEDGER
    """What this node relays as a validator (the broadcast of its log entries); see ``a27_ledger.behaviour``."""
    peer_policy: PeerPolicy = KEEP_EVERY_PEER
    """Which peers this node keeps; see ``a27_ledger.behaviour``."""
    defences: LedgerDefences = LedgerDefences()
    """Which ledger defences this node runs (all by default); see ``a27_ledger.defences``."""
    confirmation_window: float = CONFIRMATION_WINDOW
    """With ``ledger.confirmed_credits``: seconds a transfer credit must have been applied on a validator before it
    admits a spend of it (2 s)."""
    peer_defences: PeerDefences = PeerDefences()
    """Overlay-wide peer defences (``peers.<field>``, all on); ``PeerDefences.none()`` to show an attack's effect."""
    peer_limits: PeerLimits = PeerLimits()
    """The numbers of those defences (rates, packet size, address groups)."""


class LedgerCommunity(A27Community):
    """Validators admit and broadcast transfers; every node applies them; light nodes submit and query."""

    community_id = community_id_for(LEDGER_COMMUNITY_NAME)
    settings_class = LedgerSettings

    def __init__(self, settings: LedgerSettings) -> None:
        """Create the community for ``settings.genesis``; the node validates if its key is a genesis validator."""
        super().__init__(settings)
        self.settings = settings
        self.genesis = settings.genesis
        self.behaviour = settings.behaviour
        self.peer_policy = settings.peer_policy
        state = settings.state if settings.state is not None else LedgerState.from_genesis(settings.genesis,
                                                                                           MemoryStore())
        self.replica = LedgerReplica(state, settings.genesis.validators, self.account, queue=settings.queue,
                                     defences=settings.defences, confirmation_window=settings.confirmation_window)
        self.key = KeyPair.from_ipv8_private_bin(self.my_peer.key.key_to_bin())
        self.stats: Counter[str] = Counter()
        self.applied_listeners = self.replica.applied_listeners
        self._results: dict[bytes, asyncio.Future[TransactionResult]] = {}
        self._result_senders: dict[bytes, bytes] = {}
        self._balance_requests: dict[int, asyncio.Future[BalanceReply]] = {}
        self._balance_senders: dict[int, bytes] = {}
        self._next_request_id = 1
        self._unsettled: dict[int, Transaction] = {}
        """This node's own signed transactions, by nonce, that may still land: not applied here yet, and not refused
        by the only validator that received them. A nonce in here is never signed again with other content."""
        self._accepted: set[bytes] = set()
        self._sent_to: dict[bytes, set[bytes]] = {}
        """Per own unsettled transaction, the IPv8 keys of every validator it was sent to."""
        self._queued_submitters: dict[bytes, Peer] = {}
        self._entry_packets: dict[int, bytes] = {}
        self._last_sync: dict[bytes, tuple[int, float]] = {}

        self.add_message_handler(SubmitTransaction, self.on_submit)
        self.add_message_handler(TransactionResult, self.on_result)
        self.add_message_handler(LogEntryMessage, self.on_log_entry)
        self.add_message_handler(LogHead, self.on_log_head)
        self.add_message_handler(SyncRequest, self.on_sync_request)
        self.add_message_handler(BalanceQuery, self.on_balance_query)
        self.add_message_handler(BalanceReply, self.on_balance_reply)

        if self.is_validator:
            self.register_task("announce_head", self.announce_head, interval=settings.head_interval,
                               delay=settings.head_interval)
        self.register_task("request_missing", self.request_missing, interval=settings.sync_interval,
                           delay=settings.sync_interval)

    def anchor_accounts(self) -> frozenset[bytes]:
        """The genesis validators: ``peers.anchors`` always keeps them in the peer table."""
        return frozenset(self.genesis.validators)

    @property
    def is_validator(self) -> bool:
        """Whether this node is a genesis validator."""
        return self.replica.is_validator

    @property
    def state(self) -> LedgerState:
        """This node's ledger state."""
        return self.replica.state

    def validator_peers(self) -> list[Peer]:
        """Known peers that are genesis validators, in account order."""
        validators = set(self.replica.validators)
        peers = [peer for peer in self.get_peers() if account_of(peer.public_key.key_to_bin()) in validators]
        return sorted(peers, key=lambda peer: account_of(peer.public_key.key_to_bin()))

    def _validators_preferring(self, validator: Peer | None) -> list[Peer]:
        """Known validators, ``validator`` first if given; NoValidator when there are none."""
        candidates = self.validator_peers()
        if validator is not None:
            candidates = [validator] + [peer for peer in candidates if peer != validator]
        if not candidates:
            raise NoValidator("no validator is known to this node")
        return candidates

    # Light node API -------------------------------------------------------------------------------------------

    def next_nonce(self) -> int:
        """The nonce this node's next new transaction gets: the lowest unused one it has no signed transaction for."""
        self._forget_settled()
        nonce = self.state.next_nonce(self.account)
        while nonce in self._unsettled:
            nonce += 1
        return nonce

    def _forget_settled(self) -> None:
        used = self.state.next_nonce(self.account)
        for nonce in [nonce for nonce in self._unsettled if nonce < used]:
            self._release(nonce)

    def _release(self, nonce: int) -> None:
        tx_id = self._unsettled.pop(nonce).tx_id
        self._accepted.discard(tx_id)
        self._sent_to.pop(tx_id, None)

    async def transfer(self, recipient: bytes, amount: int, fee: int = 0,
                       validator: Peer | None = None) -> SubmitOutcome:
        """
        Sign a transfer from this node's account with the next nonce and submit it.

        A nonce is never reused for different content while its first transaction may still land: if an earlier
        transfer of this node timed out, that same signed transaction is submitted again first, and only once it
        has a verdict is a new one signed (see the README, "Nonces of a light node").

        :raises SubmissionTimeout: when an earlier transfer still has no verdict (nothing new is signed), or when
            this one gets none.
        """
        for earlier in self._undecided():
            await self.submit(earlier, validator)
        transaction = Transaction(sender=self.account, nonce=self.next_nonce(), fee=fee,
                                  body=Transfer(recipient=recipient, amount=amount)).signed(self.key)
        self._unsettled[transaction.nonce] = transaction
        return await self.submit(transaction, validator)

    def _undecided(self) -> list[Transaction]:
        """Own reserved transactions not accepted (timed out, or refused after reaching several validators)."""
        self._forget_settled()
        return [tx for _, tx in sorted(self._unsettled.items()) if tx.tx_id not in self._accepted]

    async def submit(self, transaction: Transaction, validator: Peer | None = None) -> SubmitOutcome:
        """
        Send a transaction to a validator and wait for its verdict, retransmitting while none arrives.

        Without a ``validator`` the first known one (in account order) is used; after
        ``attempts_per_validator`` unanswered attempts the next validator is tried. A transaction of this node's
        account stays reserved under its nonce until it is applied here or a validator refuses it.

        :raises NoValidator: when this node knows no validator.
        :raises SubmissionTimeout: when no verdict arrives within ``submit_attempts`` attempts.
        """
        candidates = self._validators_preferring(validator)
        tx_id = transaction.tx_id
        own = transaction.sender == self.account and self._unsettled.setdefault(transaction.nonce,
                                                                                  transaction) == transaction
        sent_to = self._sent_to.setdefault(tx_id, set()) if own else set()
        loop = asyncio.get_running_loop()
        started = loop.time()
        packet = self.pack_signed(SubmitTransaction(transaction.encode()))
        self.stats["submitted"] += 1
        result = await self.retransmit(packet, candidates, self._results, tx_id,
                                       attempts=self.settings.submit_attempts,
                                       attempts_per_peer=self.settings.attempts_per_validator,
                                       interval=self.settings.retry_interval,
                                       final=lambda answer: answer.code != QUEUED, sent_to=sent_to)
        validator_account = self._result_senders.pop(tx_id, b"")
        if result is not None:
            outcome = SubmitOutcome(tx_id, result.code == ACCEPTED, result.code, result.reason, validator_account,
                                    result.sequence, loop.time() - started)
            self.stats["accepted" if outcome.accepted else "rejected"] += 1
            if own and outcome.accepted:
                self._accepted.add(tx_id)
            elif own and {account_of(key) for key in sent_to} == {validator_account}:
                # Only the validator that refused it ever received it, so it cannot land: its nonce is free again.
                self._release(transaction.nonce)
            return outcome
        self.stats["timed out"] += 1
        msg = f"no verdict on {tx_id.hex()[:16]} after {self.settings.submit_attempts} attempts"
        raise SubmissionTimeout(msg)

    async def query_balance(self, account: bytes, validator: Peer | None = None) -> BalanceInfo:
        """Ask a validator for an account's balance and next nonce, retransmitting while no answer arrives."""
        candidates = self._validators_preferring(validator)
        request_id = self._next_request_id
        self._next_request_id = self._next_request_id % 0xFFFFFFFF + 1
        reply = await self.retransmit(self.pack_signed(BalanceQuery(request_id, account)), candidates,
                                      self._balance_requests, request_id, attempts=self.settings.submit_attempts,
                                      attempts_per_peer=self.settings.attempts_per_validator,
                                      interval=self.settings.retry_interval)
        validator_account = self._balance_senders.pop(request_id, b"")
        if reply is not None:
            return BalanceInfo(reply.account, reply.balance, reply.next_nonce, validator_account, reply.head)
        msg = f"no validator answered a balance query after {self.settings.submit_attempts} attempts"
        raise SubmissionTimeout(msg)

    # Validator side -------------------------------------------------------------------------------------------

    @signed_handler(SubmitTransaction)
    def on_submit(self, peer: Peer, payload: SubmitTransaction) -> None:
        """Admit a submitted transaction and answer the submitter; broadcast what got logged."""
        if not self.is_validator:
            raise DroppedMessage("not a validator", "this node does not admit transactions")
        try:
            transaction = Transaction.decode(payload.transaction, self.state.registry)
        except LedgerError as error:
            self.ez_send(peer, TransactionResult(b"\x00" * 32, error.code, 0, f"{error.reason}: {error}"))
            raise DroppedMessage("invalid transaction", str(error)) from error
        now = asyncio.get_running_loop().time()
        if self.replica.expire_queued(now):
            self.flush_outbox()
        admission = self.replica.admit(transaction, now)
        if admission.code == QUEUED:
            self._queued_submitters[admission.tx_id] = peer
        self._answer(peer, admission)
        self.flush_outbox()

    def _answer(self, peer: Peer, admission: LogAdmission) -> None:
        self.stats[f"admission {admission.code}"] += 1
        self.ez_send(peer, TransactionResult(admission.tx_id, admission.code, admission.sequence, admission.reason))

    def flush_outbox(self) -> None:
        """Broadcast newly logged entries (to the peers ``behaviour`` picks) and tell submitters of released
        transactions their verdict."""
        entries, verdicts = self.replica.take_outbox()
        if entries:
            peers = self.sorted_peers()
            for entry in entries:
                packet = self.pack_signed(LogEntryMessage(entry.sequence, entry.transaction.encode()))
                self._entry_packets[entry.sequence] = packet
                self.send_packet(self.behaviour.entry_recipients(entry, peers), packet)
        for verdict in verdicts:
            submitter = self._queued_submitters.pop(verdict.tx_id, None)
            if submitter is not None:
                self._answer(submitter, verdict)
        for found in self.replica.take_double_spends():
            proof = found.proof
            outcome = "the applied one is void" if found.voided else "the applied one could not be undone"
            self.record_drop("LogEntryMessage", None, DroppedMessage(
                "double spend", f"{short_id(proof.offender)} signed {proof.first.tx_id.hex()[:16]} and "
                                f"{proof.second.tx_id.hex()[:16]} with nonce {proof.nonce}; {outcome}"))

    def announce_head(self) -> None:
        """Tell every node how long this validator's log is, so that lost entries are noticed; expire queued ones."""
        self.send_packet(self.sorted_peers(), self.pack_signed(LogHead(self.replica.log.head)))
        if self.replica.expire_queued(asyncio.get_running_loop().time()):
            self.flush_outbox()

    @signed_handler(SyncRequest)
    def on_sync_request(self, peer: Peer, payload: SyncRequest) -> None:
        """Resend the requested entries of this validator's log."""
        if not self.is_validator:
            raise DroppedMessage("not a validator", "this node keeps no log")
        count = min(payload.count, SYNC_BATCH)
        for entry in self.replica.log.entries(payload.start, count):
            packet = self._entry_packets.get(entry.sequence)
            if packet is None:
                packet = self.pack_signed(LogEntryMessage(entry.sequence, entry.transaction.encode()))
                self._entry_packets[entry.sequence] = packet
            self.send_packet([peer], packet)
        self.stats["sync entries sent"] += count

    @signed_handler(BalanceQuery)
    def on_balance_query(self, peer: Peer, payload: BalanceQuery) -> None:
        """Answer a balance query from this validator's state."""
        if not self.is_validator:
            raise DroppedMessage("not a validator", "this node answers no balance queries")
        self.ez_send(peer, BalanceReply(payload.request_id, payload.account, self.state.balance(payload.account),
                                        self.state.next_nonce(payload.account), self.replica.log.head))

    # Every node -----------------------------------------------------------------------------------------------

    def _validator_account(self, peer: Peer, message: str) -> bytes:
        account = account_of(peer.public_key.key_to_bin())
        if account not in self.replica.followers:
            raise DroppedMessage("not a validator", f"{message} from a peer that is not a genesis validator")
        return account

    @signed_handler(LogEntryMessage)
    def on_log_entry(self, peer: Peer, payload: LogEntryMessage) -> None:
        """Follow one entry of a validator's log."""
        validator = self._validator_account(peer, "log entry")
        if payload.sequence == 0:
            raise DroppedMessage("malformed", "log positions start at 1")
        try:
            transaction = Transaction.decode(payload.transaction, self.state.registry)
        except LedgerError as error:
            self.ban(peer, f"logged an undecodable transaction ({error})")
            raise DroppedMessage("invalid log entry", str(error)) from error
        outcome = self.replica.receive_entry(validator, payload.sequence, transaction,
                                             asyncio.get_running_loop().time())
        if outcome.invalid is not None:
            self.ban(peer, f"logged an invalid transaction ({outcome.invalid})")
            raise DroppedMessage("invalid log entry", str(outcome.invalid))
        if outcome.missing is not None:
            self._request(peer, outcome.missing)
        self.flush_outbox()

    @signed_handler(LogHead)
    def on_log_head(self, peer: Peer, payload: LogHead) -> None:
        """Note a validator's log head; fetch what is missing."""
        validator = self._validator_account(peer, "log head")
        missing = self.replica.receive_head(validator, payload.head, SYNC_BATCH)
        if missing is not None:
            self._request(peer, missing)

    def request_missing(self) -> None:
        """Fetch again every range this node knows it lacks (runs periodically)."""
        peers = {account_of(peer.public_key.key_to_bin()): peer for peer in self.validator_peers()}
        for missing in self.replica.missing_ranges(SYNC_BATCH):
            peer = peers.get(missing.validator)
            if peer is not None:
                self._request(peer, missing)

    def _request(self, peer: Peer, missing: MissingRange) -> None:
        now = asyncio.get_running_loop().time()
        last = self._last_sync.get(missing.validator)
        if last is not None and last[0] == missing.start and now - last[1] < self.settings.retry_interval:
            return
        self._last_sync[missing.validator] = (missing.start, now)
        self.stats["sync requests"] += 1
        self.ez_send(peer, SyncRequest(missing.start, missing.count))

    @signed_handler(TransactionResult)
    def on_result(self, peer: Peer, payload: TransactionResult) -> None:
        """Deliver a validator's verdict to the submission waiting for it."""
        future = self._results.get(payload.tx_id)
        if future is None or future.done():
            raise DroppedMessage("unexpected", "verdict on a transaction this node is not waiting for")
        self._result_senders[payload.tx_id] = self._validator_account(peer, "verdict")
        future.set_result(payload)

    @signed_handler(BalanceReply)
    def on_balance_reply(self, peer: Peer, payload: BalanceReply) -> None:
        """Deliver a validator's balance answer to the query waiting for it."""
        future = self._balance_requests.get(payload.request_id)
        if future is None or future.done():
            raise DroppedMessage("unexpected", "balance reply to no pending query")
        self._balance_senders[payload.request_id] = self._validator_account(peer, "balance reply")
        future.set_result(payload)
