"""
The PoS community (Lab 2): validators run the consensus engine, every node follows the finalized chain.

- Any node submits a transaction to a validator (``SubmitTransaction``); the validator admits it to its mempool,
  answers (``TransactionStatus``) and gossips it to the other validators. When a block containing it is finalized,
  that validator tells the submitter (``TransactionFinal``).
- Validators exchange proposals, votes and evidence; the engine decides, this class only sends and receives.
- Validators announce their finalized height to each other (``Status``) and fetch the blocks they lack, each with
  its commit certificate (``BlockRequest``/``BlockResponse``), verified before it is applied. A light node (one that
  runs no engine) sends no Status: it long-polls one validator for the blocks after its own (a ``BlockRequest`` the
  validator holds until those heights are final), so each block costs it one response and one request. It learns
  that its transfer is final when a block containing it, with a valid certificate, is applied to its own chain: it
  trusts no single validator.

Handlers drop bad input with a log line and a counter (``drops``), never raise and never change state. The
decisions are the core's: the engine (`consensus`), block sync (`sync.BlockSync`), admission and finality notices
(`submissions.SubmissionDesk`), held long-polls (`sync.HeldRequests`), nonces (`submissions.NonceCounter`); what
leaves the node passes the behaviour seam (`PosSettings.behaviour`). This class decodes, sends, and keeps the
futures and tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs
from ipv8.community import CommunitySettings

from a27_ledger import (
    A27Community,
    DroppedMessage,
    KeyPair,
    LedgerError,
    NoValidator,
    PeerDefences,
    PeerLimits,
    Receipt,
    SubmissionTimeout,
    Transaction,
    Transfer,
    account_of,
    community_id_for,
    signed_handler,
)
from a27_pos.behaviour import ConsensusMessage, HonestBehaviour, ValidatorBehaviour
from a27_pos.block import Block, Proposal
from a27_pos.chain import Chain
from a27_pos.checkpoint import Checkpoint
from a27_pos.consensus import (
    Action,
    Committed,
    ConsensusEngine,
    EvidenceFound,
    RefusedInput,
    RequestSync,
    ScheduleTimeout,
    SendToValidators,
    ServeSync,
    Timeouts,
)
from a27_pos.defences import PosDefences
from a27_pos.errors import CheckpointMismatch, MalformedBlock, MalformedVote, PosError, StaleMessage
from a27_pos.evidence import decode_evidence
from a27_pos.mempool import Mempool
from a27_pos.params import PosGenesis
from a27_pos.payloads import (
    BlockRequest,
    BlockResponse,
    EvidenceMessage,
    ProposalMessage,
    Status,
    SubmitTransaction,
    TransactionFinal,
    TransactionGossip,
    TransactionStatus,
    VoteMessage,
)
from a27_pos.submissions import ADMITTED, NonceCounter, SubmissionDesk, next_submission_target
from a27_pos.sync import BlockSync, HeldRequests, Received
from a27_pos.votes import CommitCertificate, Vote

if TYPE_CHECKING:
    from ipv8.peer import Peer

VALIDATOR_PEERS_TTL = 1.0
"""Seconds `PosCommunity.validator_peers` keeps its answer while nothing it depends on visibly changed."""

POS_COMMUNITY_NAME = "a27/pos/v1"


@attrs.frozen
class SubmissionAnswer:
    """A validator's answer to a submission: admitted to its mempool (code 0) or refused with an error code."""

    tx_id: bytes
    code: int
    reason: str
    validator: bytes

    @property
    def admitted(self) -> bool:
        """Whether the transaction is in the validator's mempool."""
        return self.code == ADMITTED


@attrs.frozen
class Finality:
    """A transaction in a finalized block that this node verified and applied."""

    tx_id: bytes
    height: int
    block_id: bytes
    latency: float
    """Seconds from this node's first submission (or from when it started waiting) to applying the block."""


class TransactionRefused(Exception):
    """A validator refused the transaction; `admission` holds the code and reason."""

    def __init__(self, admission: SubmissionAnswer) -> None:
        """Wrap the refusal."""
        super().__init__(f"transaction refused (code {admission.code}): {admission.reason}")
        self.admission = admission


class PosSettings(CommunitySettings):
    """Settings of the PoS community; collaborators left out are created from the genesis."""

    genesis: PosGenesis
    chain: Chain | None = None
    """The node's chain; None starts one in memory from the genesis."""
    validator: bool | None = None
    """Whether to run the consensus engine; None: when the node's account has a genesis stake."""
    timeouts: Timeouts = Timeouts()
    mempool: Mempool | None = None
    clock: Callable[[], float] = time.time
    """Seconds, for block timestamps and the drift check. Unix time by default: a proposal is refused when its block
    is stamped more than `max_clock_drift` ahead of the receiver's clock, so nodes must share a time base, and a real
    event loop's clock (seconds since the host booted) differs from machine to machine. Simulations pass their
    virtual clock; tests pass `a27_pos.testing.LoopClock`."""
    max_clock_drift: float = 10.0
    """Seconds a block's timestamp may be ahead of this node's clock (PROTOCOL.md)."""
    status_interval: float = 1.0
    """Seconds between a validator's Status announcements to the other validators (light nodes send none)."""
    retry_interval: float = 1.0
    """Seconds between retransmissions of a submission or a block request."""
    attempts_per_validator: int = 3
    submit_attempts: int = 12
    sync_batch: int = 16
    """Blocks one request asks for at most."""
    max_tracked_submissions: int = 10_000
    """Submitters waiting for finality notices, and transactions finalized lately, that a validator remembers."""
    max_tracked_peers: int = 10_000
    """Peers whose announced heights block sync remembers (the latest heard from)."""
    follow_timeout: float = 3.0
    """Seconds a light node waits for any block of its long-poll before asking the next validator."""
    follow_settle: float = 0.1
    """Seconds without a further block after which a partly answered long-poll is done and the next one leaves."""
    hold_time: float = 30.0
    """Seconds a node holds a block request for heights it has not finalized yet before dropping it unanswered."""
    max_held_requests: int = 10_000
    """Held block requests at most (one per peer; the oldest is dropped for a new one)."""
    behaviour: ValidatorBehaviour = HonestBehaviour()
    """What this node proposes, votes, relays and withholds (README, "Behaviour seam"); honest by default."""
    checkpoint: Checkpoint | None = None
    """A weak-subjectivity checkpoint (height, block id) the node's chain must contain, given out of band; needed by
    a node that syncs from genesis or was offline longer than `unbonding_delay` blocks (DESIGN.md, "Long-range
    forks"). Enforced while `defences.checkpoints` is on."""
    resubmit_after: float = 10.0
    """Seconds a light node waits for an admitted transfer to become final before it submits it again to another
    validator (while `defences.resubmit` is on): a validator that admits a transfer and then neither relays nor
    includes it cannot hold it back for longer."""
    defences: PosDefences = PosDefences()
    """This node's PoS defences (README, "Defences"): all on by default; `PosDefences.none()` switches them off to
    show what an attack does without them."""
    peer_defences: PeerDefences = PeerDefences()
    """Overlay-wide peer defences (a27-ledger README, "Defences"); ``peers.validator_pinning`` and ``peers.anchors``
    keep a light node following the validators of its validator set."""
    peer_limits: PeerLimits = PeerLimits()
    """The numbers of those defences."""


class PosCommunity(A27Community):
    """Validators decide blocks with the consensus engine; every node follows the finalized chain."""

    community_id = community_id_for(POS_COMMUNITY_NAME)
    settings_class = PosSettings

    def __init__(self, settings: PosSettings) -> None:
        """Create the community for ``settings.genesis``."""
        super().__init__(settings)
        self.settings = settings
        self.key = KeyPair.from_ipv8_private_bin(self.my_peer.key.key_to_bin())
        self.chain = settings.chain if settings.chain is not None else Chain.start(settings.genesis)
        if settings.defences.checkpoints and settings.checkpoint is not None:
            self.chain.set_checkpoint(settings.checkpoint)
        runs_engine = settings.validator
        if runs_engine is None:
            runs_engine = self.account in dict(settings.genesis.stakes)
        self.engine: ConsensusEngine | None = None
        self.behaviour = settings.behaviour
        self.submissions: SubmissionDesk[Peer] | None = None
        """A validator's admission decisions and submitter bookkeeping (None on a light node)."""
        if runs_engine:
            self.engine = ConsensusEngine(self.key, self.chain, timeouts=settings.timeouts, mempool=settings.mempool,
                                          max_clock_drift=settings.max_clock_drift, behaviour=settings.behaviour,
                                          defences=settings.defences)
            self.submissions = SubmissionDesk(self.engine.mempool, max_tracked=settings.max_tracked_submissions)
        self._trial: Chain | None = None
        """A light node syncing from genesis towards its checkpoint: the history it is served, applied here first (in
        memory) and to `chain` only once it holds the checkpoint's block (DESIGN.md, "Long-range forks")."""
        if self.engine is None and self.chain.checkpoint is not None and self.chain.height == 0:
            self._trial = self._new_trial()
        self.stats: Counter[str] = Counter()
        """What this node did and saw, by event."""
        self.commit_listeners: list[Callable[[Block, CommitCertificate, Sequence[Receipt]], None]] = []
        """Called with every block this node finalizes or syncs, after it is applied."""
        self._clock = settings.clock
        self.sync: BlockSync[bytes] = BlockSync(batch=settings.sync_batch, retry_interval=settings.retry_interval,
                                                max_tracked_peers=settings.max_tracked_peers,
                                                follow_timeout=settings.follow_timeout, settle=settings.follow_settle,
                                                follow_offset=int.from_bytes(self.account[:4], "big"))
        """Which blocks to fetch from whom (peers by public key), and the blocks that arrived out of order."""
        self.held: HeldRequests[Peer] = HeldRequests(batch=settings.sync_batch, hold_time=settings.hold_time,
                                                     max_held=settings.max_held_requests)
        """Block requests for heights not final here yet (light nodes' long-polls), answered when they are."""
        self._follow_check_pending = False
        self._validator_peers: tuple[object, object, float, frozenset[Peer], list[Peer]] | None = None
        """`validator_peers` as last computed: (validator set, peer policy, time, verified peers, the answer)."""
        self._block_packets: OrderedDict[int, bytes] = OrderedDict()
        """Signed BlockResponse packets by height, the last few served (`_send_blocks`)."""
        self.nonces = NonceCounter()
        self._admissions: dict[bytes, asyncio.Future[SubmissionAnswer]] = {}
        self._finality: dict[bytes, asyncio.Future[Finality]] = {}
        self._waiting_since: dict[bytes, float] = {}

        self.add_message_handler(SubmitTransaction, self.on_submit)
        self.add_message_handler(TransactionStatus, self.on_transaction_status)
        self.add_message_handler(TransactionGossip, self.on_transaction_gossip)
        self.add_message_handler(ProposalMessage, self.on_proposal)
        self.add_message_handler(VoteMessage, self.on_vote)
        self.add_message_handler(EvidenceMessage, self.on_evidence)
        self.add_message_handler(Status, self.on_status)
        self.add_message_handler(BlockRequest, self.on_block_request)
        self.add_message_handler(BlockResponse, self.on_block_response)
        self.add_message_handler(TransactionFinal, self.on_transaction_final)

        if self.engine is not None:
            self.register_task("announce status", self.announce_status, interval=settings.status_interval,
                               delay=settings.status_interval)
            self.register_task("start consensus", self.start_consensus, delay=0.0)
        else:
            self.register_task("follow the chain", self.follow_chain, interval=settings.retry_interval, delay=0.0)

    # Roles and peers -------------------------------------------------------------------------------------------

    @property
    def is_validator(self) -> bool:
        """Whether this node runs the consensus engine."""
        return self.engine is not None

    @property
    def mempool(self) -> Mempool | None:
        """The engine's mempool (None on a light node)."""
        return None if self.engine is None else self.engine.mempool

    def now(self) -> float:
        """This node's clock in seconds (see `PosSettings.clock`)."""
        return self._clock()

    def anchor_accounts(self) -> frozenset[bytes]:
        """The genesis validators: ``peers.anchors`` always keeps them in the peer table."""
        return frozenset(account for account, _ in self.settings.genesis.stakes)

    def _pinned(self, peer: Peer, claim: str) -> None:
        """On a light node with ``peers.validator_pinning``, refuse a height claim (``claim``) from a peer outside
        the validator set of the next height (DroppedMessage)."""
        if self.engine is None and self.peer_defences.validator_pinning and account_of(
                peer.public_key.key_to_bin()) not in self.chain.validator_set(self.chain.height + 1):
            raise DroppedMessage("not a validator", f"{claim} from a peer outside the validator set")

    def validator_peers(self) -> list[Peer]:
        """Known peers that validate the next height, in account order.

        Filtering every peer costs O(peers) (a validator has its followers among them), and validators ask for every
        message they send, so the answer is kept while the validator set, the peer policy and the set of verified
        peers stay the same (compared in full: a Sybil evicted for a validator leaves the count unchanged), for at
        most `VALIDATOR_PEERS_TTL` seconds (a policy whose answers change)."""
        synced = self.chain if self._trial is None else self._trial
        validators = synced.validator_set(synced.height + 1)
        verified = self.network.verified_peers
        now = self.now()
        kept = self._validator_peers
        if (kept is not None and kept[0] is validators and kept[1] is self.peer_policy
                and now - kept[2] < VALIDATOR_PEERS_TTL and kept[3] == verified):
            return list(kept[4])
        peers = [peer for peer in self.get_peers() if account_of(peer.public_key.key_to_bin()) in validators]
        peers.sort(key=lambda peer: account_of(peer.public_key.key_to_bin()))
        self._validator_peers = (validators, self.peer_policy, now, frozenset(verified), peers)
        return list(peers)

    # Light node API -------------------------------------------------------------------------------------------

    def next_nonce(self) -> int:
        """The nonce this node's next transaction should carry."""
        return self.nonces.next_nonce(self.chain.state.next_nonce(self.account))

    async def transfer(self, recipient: bytes, amount: int, fee: int = 0, timeout: float = 60.0) -> Finality:
        """Sign a transfer with the next nonce, submit it, and wait until this node applied it in a final block.

        :raises TransactionRefused: when a validator refuses it.
        :raises SubmissionTimeout: when no validator answers, or it is not final within `timeout` seconds.
        """
        transaction = Transaction(self.account, self.next_nonce(), fee, Transfer(recipient, amount)).signed(self.key)
        self.watch(transaction.tx_id)  # before submitting: the block may be final before the answer arrives
        try:
            admission = await self.submit(transaction)
        except SubmissionTimeout:
            self.unwatch(transaction.tx_id)
            raise
        if not admission.admitted:
            self.unwatch(transaction.tx_id)
            raise TransactionRefused(admission)
        final = await self.see_final(transaction, [admission.validator], timeout)
        if final is not None:
            return final
        # A mempool may have dropped it: forget it (NonceCounter says why the nonce restarts from the chain).
        self.unwatch(transaction.tx_id)
        self.nonces.timed_out(self.chain.state.next_nonce(self.account))
        raise SubmissionTimeout(f"{transaction.tx_id.hex()[:16]} not final after {timeout} s")

    async def see_final(self, transaction: Transaction, tried: list[bytes], timeout: float) -> Finality | None:
        """Wait up to `timeout` seconds for an admitted `transaction` (anyone's) to become final here; with
        `defences.resubmit` on, every `resubmit_after` seconds submit it again to a validator not in `tried` (the
        accounts that admitted it so far; extended here). Its finality, or None when it is not final in time (or
        somebody else stopped watching it); the caller decides whether to `unwatch` it then.
        """
        finality = self.watch(transaction.tx_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        resubmits = self.settings.defences.resubmit
        while (remaining := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait({finality}, timeout=min(self.settings.resubmit_after, remaining)
                                         if resubmits else remaining)
            if done:
                return None if finality.cancelled() else finality.result()
            if resubmits and deadline > loop.time():
                await self._resubmit(transaction, tried)
        return None

    async def _resubmit(self, transaction: Transaction, tried: list[bytes]) -> None:
        """Submit an admitted transaction that is still not final to a validator not tried yet (`pos.resubmit`)."""
        validators = {account_of(peer.public_key.key_to_bin()): peer for peer in self.validator_peers()}
        account = next_submission_target(list(validators), tried)
        if account is None:
            return
        tried.append(account)
        self.stats["resubmitted"] += 1
        with contextlib.suppress(SubmissionTimeout):
            await self.submit(transaction, validators[account])

    def unwatch(self, tx_id: bytes) -> None:
        """Stop waiting for the transaction `tx_id` to become final."""
        future = self._finality.pop(tx_id, None)
        self._waiting_since.pop(tx_id, None)
        if future is not None and not future.done():
            future.cancel()

    def watch(self, tx_id: bytes) -> asyncio.Future[Finality]:
        """A future resolved when this node applies a finalized block containing the transaction `tx_id`."""
        future = self._finality.get(tx_id)
        if future is None:
            future = self._finality[tx_id] = asyncio.get_running_loop().create_future()
            self._waiting_since[tx_id] = self.now()
        return future

    async def submit(self, transaction: Transaction, validator: Peer | None = None) -> SubmissionAnswer:
        """Send a transaction to a validator and wait for its answer, retransmitting while none arrives.

        Without a ``validator`` the first known one (in account order) is used; after ``attempts_per_validator``
        unanswered attempts the next one is tried. An admitted transaction is not final yet: see `watch`.

        :raises NoValidator: when this node knows no validator.
        :raises SubmissionTimeout: when no answer arrives within ``submit_attempts`` attempts.
        """
        candidates = self.validator_peers()
        if validator is not None:
            candidates = [validator] + [peer for peer in candidates if peer != validator]
        if not candidates:
            raise NoValidator("no validator is known to this node")
        tx_id = transaction.tx_id
        self.stats["submitted"] += 1
        admission = await self.retransmit(self.pack_signed(SubmitTransaction(transaction.encode())), candidates,
                                          self._admissions, tx_id, attempts=self.settings.submit_attempts,
                                          attempts_per_peer=self.settings.attempts_per_validator,
                                          interval=self.settings.retry_interval)
        if admission is not None:
            if admission.admitted and transaction.sender == self.account:
                self.nonces.admitted(transaction.nonce)
            return admission
        raise SubmissionTimeout(f"no answer on {tx_id.hex()[:16]} after {self.settings.submit_attempts} attempts")

    # Consensus ----------------------------------------------------------------------------------------------------

    def start_consensus(self) -> None:
        """Start the engine at the chain's next height (scheduled once when the community starts)."""
        assert self.engine is not None
        self._perform(self.engine.start(self.now()))

    def _perform(self, actions: Sequence[Action], source: Peer | None = None) -> None:
        """Carry out the engine's actions; then raise DroppedMessage for the first rejection (the handler logs it).

        `source` is the peer whose message led to them (None for timeouts and local calls)."""
        rejections: list[DroppedMessage] = []
        for action in actions:
            if isinstance(action, SendToValidators):
                self._broadcast(action.message)
            elif isinstance(action, ScheduleTimeout):
                self.register_anonymous_task("consensus timeout", self._fire, action, delay=action.delay)
            elif isinstance(action, Committed):
                self._finalized(action.block, action.certificate, action.receipts)
            elif isinstance(action, EvidenceFound):
                self.stats["evidence found"] += 1
                self.logger.warning("validator %s equivocated at height %d",
                                    action.evidence.offender.hex()[:8], action.evidence.height)
            elif isinstance(action, RequestSync):
                self.request_blocks(action.height)
            elif isinstance(action, ServeSync):
                # The engine raises it only for a message the validator sent itself: `source` is that validator.
                if source is not None and self.behaviour.serves_blocks(source, action.height):
                    self.stats["blocks offered to lagging validators"] += 1
                    self._send_blocks(source, action.height, self.settings.sync_batch)
            elif isinstance(action, RefusedInput):
                if isinstance(action.error, StaleMessage):
                    # Late votes of a finished height are normal: counted, not worth a warning.
                    self.stats["stale"] += 1
                else:
                    rejections.append(DroppedMessage(action.error.reason, str(action.error)))
        for extra in rejections[1:]:
            self.record_drop("message", None, extra)
        if rejections:
            raise rejections[0]

    def _fire(self, timeout: ScheduleTimeout) -> None:
        assert self.engine is not None
        try:
            self._perform(self.engine.on_timeout(timeout, self.now()))
        except DroppedMessage as drop:
            self.record_drop("buffered message", None, drop)

    def _broadcast(self, message: ConsensusMessage) -> None:
        """Send what the behaviour makes of `message` (honest: `message` to every validator)."""
        assert self.engine is not None
        for outgoing, recipients in self.behaviour.outgoing(self.engine, message, self.validator_peers()):
            if isinstance(outgoing, Proposal):
                payload: ProposalMessage | VoteMessage | EvidenceMessage = ProposalMessage(outgoing.encode())
            elif isinstance(outgoing, Vote):
                payload = VoteMessage(outgoing.encode())
            else:
                payload = EvidenceMessage(outgoing.encode())
            self.stats[f"sent {type(payload).__name__}"] += 1
            self.send_packet(list(recipients), self.pack_signed(payload))

    def _engine(self, message: str) -> ConsensusEngine:
        if self.engine is None:
            raise DroppedMessage("not a validator", f"{message} to a node that runs no consensus")
        return self.engine

    @signed_handler(ProposalMessage)
    def on_proposal(self, peer: Peer, payload: ProposalMessage) -> None:
        """Hand a proposal to the engine."""
        engine = self._engine("proposal")
        try:
            proposal = Proposal.decode(payload.proposal, self.chain.state.registry)
        except MalformedBlock as error:
            raise DroppedMessage("malformed", f"proposal: {error}") from error
        self._perform(engine.on_proposal(proposal, self.now(), account_of(peer.public_key.key_to_bin())), peer)

    @signed_handler(VoteMessage)
    def on_vote(self, peer: Peer, payload: VoteMessage) -> None:
        """Hand a vote to the engine."""
        engine = self._engine("vote")
        try:
            vote = Vote.decode(payload.vote)
        except MalformedVote as error:
            raise DroppedMessage("malformed", f"vote: {error}") from error
        self._perform(engine.on_vote(vote, self.now(), account_of(peer.public_key.key_to_bin())), peer)

    @signed_handler(EvidenceMessage)
    def on_evidence(self, peer: Peer, payload: EvidenceMessage) -> None:
        """Hand evidence (either kind) to the engine, to be included in a block."""
        engine = self._engine("evidence")
        try:
            evidence = decode_evidence(payload.evidence)
        except MalformedVote as error:
            raise DroppedMessage("malformed", f"evidence: {error}") from error
        self._perform(engine.on_evidence(evidence, self.now()))

    # Transactions -------------------------------------------------------------------------------------------------

    @signed_handler(SubmitTransaction)
    def on_submit(self, peer: Peer, payload: SubmitTransaction) -> None:
        """Admit a submitted transaction to the mempool, answer, and gossip it to the validators."""
        self._engine("submission")
        assert self.submissions is not None
        try:
            transaction = Transaction.decode(payload.transaction, self.chain.state.registry)
        except LedgerError as error:
            self.ez_send(peer, TransactionStatus(bytes(32), error.code, f"{error.reason}: {error}"))
            raise DroppedMessage("invalid transaction", str(error)) from error
        verdict = self.submissions.submit(transaction, peer, self.chain.state, self.now())
        if verdict.gossip:
            relay_to = self.behaviour.relay_transaction(transaction, self.validator_peers())
            self.send_packet(list(relay_to), self.pack_signed(TransactionGossip(payload.transaction)))
        self.stats[f"admission {verdict.code}"] += 1
        self.ez_send(peer, TransactionStatus(verdict.tx_id, verdict.code, verdict.reason))
        if verdict.final is not None:
            # A retransmission whose first answer was lost, after the block came: it is final already.
            self.ez_send(peer, TransactionFinal(verdict.tx_id, *verdict.final))

    @signed_handler(TransactionGossip)
    def on_transaction_gossip(self, peer: Peer, payload: TransactionGossip) -> None:
        """Add a transaction another validator admitted to this node's mempool."""
        self._engine("transaction gossip")
        assert self.submissions is not None
        try:
            transaction = Transaction.decode(payload.transaction, self.chain.state.registry)
        except LedgerError as error:
            raise DroppedMessage("invalid transaction", str(error)) from error
        self.stats[self.submissions.gossiped(transaction, self.chain.state, self.now())] += 1

    @signed_handler(TransactionStatus)
    def on_transaction_status(self, peer: Peer, payload: TransactionStatus) -> None:
        """Deliver a validator's answer to the submission waiting for it."""
        future = self._admissions.get(payload.tx_id)
        if future is None or future.done():
            raise DroppedMessage("unexpected", "answer to a transaction this node is not submitting")
        future.set_result(SubmissionAnswer(payload.tx_id, payload.code, payload.reason,
                                    account_of(peer.public_key.key_to_bin())))

    @signed_handler(TransactionFinal)
    def on_transaction_final(self, peer: Peer, payload: TransactionFinal) -> None:
        """A validator says a watched transaction is final: fetch the block if this node lacks it."""
        if payload.tx_id not in self._finality:
            # Every validator that finalizes the block notifies the submitter; all but the first arrive after this
            # node applied the block itself. That is normal traffic, counted but not logged.
            self.stats["late finality notices"] += 1
            return
        self._pinned(peer, "finality notice")
        self.stats["finality notices"] += 1
        if self.sync.note_at_least(peer.public_key.key_to_bin(), payload.height, self.chain.height):
            self.request_blocks(self.chain.height + 1, peer)

    # Following the chain ----------------------------------------------------------------------------------------

    def announce_status(self) -> None:
        """Tell the other validators this node's finalized height (a validator's periodic task), unless the
        behaviour withholds it. Light nodes neither send nor need Status: they long-poll (`follow_chain`)."""
        if self.engine is not None and self.behaviour.announces_status(self.chain.height):
            self.send_packet(self.validator_peers(), self.pack_signed(Status(self.chain.height,
                                                                             self.chain.head.block_id)))

    def follow_chain(self) -> None:
        """A light node's long-poll: ask a validator for the blocks after its own when `BlockSync.follow` decides
        (runs every `retry_interval`, and after blocks are applied)."""
        now = self.now()
        height = self.synced_height
        if not self.sync.poll_due(now, height):
            return  # the common case: looking up the validators among the peers costs more than deciding
        validators = {peer.public_key.key_to_bin(): peer for peer in self.validator_peers()}
        decision = self.sync.follow(now, height, list(validators))
        if decision is None:
            return
        self.stats["block requests"] += 1
        self.ez_send(validators[decision.peer], BlockRequest(decision.start, decision.count))

    def _follow_soon(self) -> None:
        """Check the long-poll now and again `follow_settle` seconds later (once per burst of blocks)."""
        self.follow_chain()
        if not self._follow_check_pending:
            self._follow_check_pending = True
            self.register_anonymous_task("follow check", self._follow_check, delay=self.settings.follow_settle)

    def _follow_check(self) -> None:
        self._follow_check_pending = False
        self.follow_chain()

    @signed_handler(Status)
    def on_status(self, peer: Peer, payload: Status) -> None:
        """Note a peer's height; fetch blocks if it is ahead."""
        self._pinned(peer, "status")
        if self.sync.note_status(peer.public_key.key_to_bin(), payload.height, self.chain.height):
            self.request_blocks(self.chain.height + 1, peer)

    def request_blocks(self, start: int, peer: Peer | None = None) -> None:
        """Ask a peer that is ahead (or `peer`) for finalized blocks from `start`, at most once per retry interval."""
        validators = self.validator_peers()
        # A pinned light node asks only validators; otherwise any peer that claimed the height may be asked.
        pinned = self.engine is None and self.peer_defences.validator_pinning
        candidates = validators if pinned else self.sorted_peers()
        by_key = {candidate.public_key.key_to_bin(): candidate for candidate in candidates}
        peers = sorted(by_key)
        by_key.update((candidate.public_key.key_to_bin(), candidate) for candidate in validators)
        if peer is not None:
            by_key[peer.public_key.key_to_bin()] = peer
        fallback = [validator.public_key.key_to_bin() for validator in validators]
        chosen = None if peer is None else peer.public_key.key_to_bin()
        decision = self.sync.request(self.now(), start, peers, fallback, chosen)
        if decision is None:
            return
        self.stats["block requests"] += 1
        self.ez_send(by_key[decision.peer], BlockRequest(decision.start, decision.count))

    @signed_handler(BlockRequest)
    def on_block_request(self, peer: Peer, payload: BlockRequest) -> None:
        """Send the requested finalized blocks, each with its certificate; hold a request for the next heights
        (a long-poll) until they are final."""
        if payload.start < 1:
            raise DroppedMessage("malformed", "block heights start at 1")
        if not self.behaviour.serves_blocks(peer, payload.start):
            return
        if payload.start <= self.chain.height:
            self._send_blocks(peer, payload.start, payload.count)
        elif self.held.hold(peer, payload.start, payload.count, self.now(), self.chain.height):
            self.stats["block requests held"] += 1
        else:
            # Nothing asked, or heights too far ahead of this node's chain to be worth holding.
            self.stats["block requests not held"] += 1

    def _send_blocks(self, peer: Peer, start: int, count: int) -> None:
        """Send `peer` up to `count` (at most `sync_batch`) finalized blocks from `start`, each with its certificate."""
        for height in self.sync.serve_range(start, count, self.chain.height):
            packet = self._block_packets.get(height)
            if packet is None:
                block, certificate = self.chain.block(height), self.chain.certificate(height)
                if block is None or certificate is None:
                    break
                # A finalized block never changes and a BlockResponse names no recipient: the packet signed for
                # one follower serves every other one asking for this height.
                packet = self.pack_signed(BlockResponse(block.encode(), certificate.encode()))
                self._block_packets[height] = packet
                if len(self._block_packets) > 2 * self.settings.sync_batch:
                    self._block_packets.popitem(last=False)
            self.send_packet([peer], packet)
            self.stats["blocks served"] += 1

    @signed_handler(BlockResponse)
    def on_block_response(self, peer: Peer, payload: BlockResponse) -> None:
        """Verify a finalized block against its certificate and apply it, in height order."""
        try:
            block = Block.decode(payload.block, self.chain.state.registry)
            certificate = CommitCertificate.decode(payload.certificate)
        except (MalformedBlock, MalformedVote) as error:
            raise DroppedMessage("malformed", f"block response: {error}") from error
        received = self.sync.receive(block, certificate, self.synced_height)
        if received is Received.HELD:
            self.stats["block already held"] += 1
        if received is not Received.NEXT:
            return
        try:
            self._apply_synced(block, certificate)
            while (following := self.sync.pop_next(self.synced_height)) is not None:
                try:
                    self._apply_synced(*following)
                except DroppedMessage as drop:
                    self.record_drop("BlockResponse", peer.address, drop)
                    break
            self.sync.prune(self.synced_height)
        finally:
            if self.engine is None:
                self._follow_soon()

    @property
    def synced_height(self) -> int:
        """The height block sync has reached: the chain's, or while a light node syncs towards its checkpoint
        (`_trial`), the trial history's."""
        return self.chain.height if self._trial is None else self._trial.height

    def _new_trial(self) -> Chain:
        trial = Chain.start(self.settings.genesis)
        trial.set_checkpoint(self.chain.checkpoint)
        return trial

    def _apply_trial(self, trial: Chain, block: Block, certificate: CommitCertificate) -> None:
        """Apply a synced block to the trial history; once it holds the checkpoint's block, apply the whole history to
        the chain. A history that holds another block there is dropped, with every block buffered: sync starts again
        from genesis, from the next validator."""
        try:
            trial.apply_synced(block, certificate)
        except PosError as error:
            if isinstance(error, CheckpointMismatch):
                self._trial = self._new_trial()
                self.sync.prune(2**64)  # every buffered block: they may be the refused history's
                self.stats["histories refused at the checkpoint"] += 1
            raise DroppedMessage(error.reason, f"synced block {block.height}: {error}") from error
        checkpoint = trial.checkpoint
        if checkpoint is None or trial.height < checkpoint.height:
            return
        self._trial = None
        for height in range(self.chain.height + 1, trial.height + 1):
            synced, synced_certificate = trial.block(height), trial.certificate(height)
            assert synced is not None and synced_certificate is not None
            self._finalized(synced, synced_certificate, self.chain.apply_synced(synced, synced_certificate))

    def _apply_synced(self, block: Block, certificate: CommitCertificate) -> None:
        if self.engine is not None:
            self._perform(self.engine.on_decided_block(block, certificate, self.now()))
            return
        if self._trial is not None:
            self._apply_trial(self._trial, block, certificate)
            return
        try:
            receipts = self.chain.apply_synced(block, certificate)
        except PosError as error:
            raise DroppedMessage(error.reason, f"synced block {block.height}: {error}") from error
        self._finalized(block, certificate, receipts)

    def _finalized(self, block: Block, certificate: CommitCertificate, receipts: Sequence[Receipt]) -> None:
        self.stats["blocks finalized"] += 1
        now = self.now()
        # Held long-polls first: a light node then has the block before its finality notice arrives.
        for requester, heights in self.held.release(self.chain.height, now):
            self.stats["held requests answered"] += 1
            self._send_blocks(requester, heights.start, len(heights))
        if self.submissions is not None:
            for notice in self.submissions.finalized(block):
                self.ez_send(notice.submitter, TransactionFinal(notice.tx_id, notice.height, notice.block_id))
        for tx in block.transactions:
            tx_id = tx.tx_id
            future = self._finality.pop(tx_id, None)
            if future is not None:
                started = self._waiting_since.pop(tx_id, now)
                if not future.done():
                    future.set_result(Finality(tx_id, block.height, block.block_id, now - started))
        for listener in self.commit_listeners:
            listener(block, certificate, receipts)
        if self.engine is not None and self.behaviour.announces_status(block.height):
            self.send_packet(self.validator_peers(), self.pack_signed(Status(block.height, block.block_id)))
