"""The consensus engine: Tendermint-style rounds as a pure state machine, one per node.

Messages and timeouts go in with an explicit `now` (seconds); actions come out: messages to broadcast, timeouts to
schedule, blocks finalized, evidence found, inputs rejected (each with a specific error), sync requests. The
engine never touches a socket or a clock; `PosCommunity` and `inmemory.MessageBus` run it. DESIGN.md describes
the protocol; the rule numbers in comments (L22, L28, ...) are the lines of Algorithm 1 in Buchman, Kwon and
Milosevic, "The latest gossip on BFT consensus" (2018).

A node whose key is not in the validator set of a height (or that has no key) follows the height without proposing
or voting: it finalizes a block when it sees the proposal and the precommits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from a27_ledger import KeyPair, Receipt
from a27_pos.behaviour import HonestBehaviour, ValidatorBehaviour
from a27_pos.block import NO_ROUND, Block, Proposal
from a27_pos.chain import Chain
from a27_pos.defences import PosDefences
from a27_pos.errors import (
    BadTimestamp,
    ConflictingProposal,
    FutureMessage,
    InvalidEvidence,
    InvalidSignature,
    NotAValidator,
    PosError,
    StaleMessage,
    WrongProposer,
)
from a27_pos.evidence import AnyEvidence, ProposalEvidence
from a27_pos.mempool import BLOCK_ENTRY_OVERHEAD, Mempool
from a27_pos.staking import tombstone_height
from a27_pos.validators import ValidatorSet
from a27_pos.votes import NIL, PRECOMMIT, PREVOTE, CommitCertificate, Evidence, Vote

MAX_ROUNDS_AHEAD = 100
"""Messages of rounds further ahead than this are refused."""
BUFFERED_HEIGHTS = 2
"""Messages of the next this-many heights are buffered; farther ones are refused."""
BLOCK_OVERHEAD_BYTES = 1_024
"""Bytes of a block's encoding reserved for everything but the transactions and the certificate."""
SERVE_SYNC_INTERVAL = 0.5
"""Seconds a validator must still lag before it is offered the block, and between two offers to it."""


class Step(enum.IntEnum):
    """Where a node is within a height."""

    NEW_HEIGHT = 0
    """Waiting `timeout_commit` after finalizing the previous height."""
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


@attrs.frozen
class Timeouts:
    """Seconds each step waits in round 0, growing by `increment` per round; `commit` is the pause between heights.

    Tendermint waits for 2f+1 votes before its prevote and precommit timeouts start, so a node whose votes were lost
    (a partition) would wait forever; every `gossip` seconds a node resends its messages of the current round.
    """

    propose: float = 1.0
    prevote: float = 0.5
    precommit: float = 0.5
    increment: float = 0.25
    commit: float = 1.0
    gossip: float = 0.5
    """Seconds between rebroadcasts of the current round's messages while the round lasts; shorter than `propose`, so
    that a validator that missed the proposal gets it again before it would prevote nil."""

    def for_step(self, step: str, round_number: int) -> float:
        """The timeout of `step` ("propose", "prevote", "precommit") in `round_number`."""
        base: float = getattr(self, step)
        return base + round_number * self.increment


@attrs.frozen
class SendToValidators:
    """Send `message` to the other validators (and relay it: it is self-authenticating)."""

    message: Proposal | Vote | AnyEvidence


@attrs.frozen
class ScheduleTimeout:
    """Call `on_timeout(this, now)` after `delay` seconds. `step` is propose, prevote, precommit, commit or gossip."""

    delay: float
    height: int
    round: int
    step: str


@attrs.frozen
class Committed:
    """`block` is final, with `certificate`; it has been applied, giving `receipts`."""

    block: Block
    certificate: CommitCertificate
    receipts: tuple[Receipt, ...]


@attrs.frozen
class EvidenceFound:
    """This node saw a validator equivocate (two votes, or two proposals)."""

    evidence: AnyEvidence


@attrs.frozen
class RefusedInput:
    """An input was refused, for the reason `error` gives; nothing changed."""

    error: PosError

    @property
    def reason(self) -> str:
        """The error class's short reason."""
        return self.error.reason


@attrs.frozen
class RequestSync:
    """This node lacks finalized blocks from `height` on: ask peers for them (with certificates)."""

    height: int


@attrs.frozen
class ServeSync:
    """The validator `account` is still deciding `height`, which this node finalized: send it the finalized blocks
    from `height` on (with certificates). Only raised for a message the validator delivered itself (a relayed or
    replayed one must not steer blocks, nor use up the validator's turn).

    Without this, a validator that missed the last precommits of a height waits for its next block request while
    the others, already at the next height, need its votes; on a lossy network with a bare quorum every such wait
    costs a round."""

    account: bytes
    height: int


Action = SendToValidators | ScheduleTimeout | Committed | EvidenceFound | RefusedInput | RequestSync | ServeSync
Message = Proposal | Vote


class VoteSet:
    """The votes of one type at one height and round, with power tallies per block id.

    A validator's first vote counts towards the total. An equivocator's further, conflicting votes are kept apart
    and count only for their own block id: any set of signatures for a block is a valid quorum (two quorums still
    intersect in an honest validator), and counting them lets every node see a polka that an equivocator helped to
    form, so nodes locked on it can be followed (CometBFT tracks such votes the same way).
    """

    def __init__(self, validator_set: ValidatorSet) -> None:
        """An empty set counting power in `validator_set`."""
        self._validator_set = validator_set
        self.first: dict[bytes, Vote] = {}
        """Each validator's first vote."""
        self._by_block: dict[bytes, dict[bytes, Vote]] = {}
        self._power_for: dict[bytes, int] = {}
        self.power = 0

    def holds(self, vote: Vote) -> bool:
        """Whether this exact vote is counted already."""
        return self._by_block.get(vote.block_id, {}).get(vote.validator) == vote

    def add(self, vote: Vote) -> None:
        """Count `vote` for its block id, and towards the total if it is the validator's first."""
        voters = self._by_block.setdefault(vote.block_id, {})
        if vote.validator in voters:
            return
        voters[vote.validator] = vote
        weight = self._validator_set.power(vote.validator)
        self._power_for[vote.block_id] = self._power_for.get(vote.block_id, 0) + weight
        if vote.validator not in self.first:
            self.first[vote.validator] = vote
            self.power += weight

    def has_quorum(self) -> bool:
        """More than 2/3 of the power voted (for anything)."""
        return self._validator_set.has_quorum(self.power)

    def has_quorum_for(self, block_id: bytes) -> bool:
        """More than 2/3 of the power voted for `block_id` (NIL for nil)."""
        return self._validator_set.has_quorum(self._power_for.get(block_id, 0))

    def quorum_block(self) -> bytes | None:
        """The block id (not nil) that more than 2/3 voted for, if any."""
        for block_id, power in self._power_for.items():
            if block_id != NIL and self._validator_set.has_quorum(power):
                return block_id
        return None

    def votes_for(self, block_id: bytes) -> list[Vote]:
        """The votes for `block_id`."""
        return list(self._by_block.get(block_id, {}).values())


class ConsensusEngine:
    """One node's consensus state machine over `chain`; see the module docstring.

    `key` is the node's identity (None for a node that never votes). The chain is the validator-set source and
    fixes the proposer strategy; `mempool` supplies transactions for the blocks this node proposes (and loses those
    that a finalized block includes). `behaviour` decides what goes into the blocks it proposes, and whoever runs
    the engine asks it what to send (README, "Behaviour seam"); honest by default. `defences` switches this
    node's defences (`PosDefences`, all on by default; README, "Defences").
    """

    def __init__(self, key: KeyPair | None, chain: Chain, *, timeouts: Timeouts | None = None,
                 mempool: Mempool | None = None, max_clock_drift: float = 10.0, max_buffered: int = 10_000,
                 behaviour: ValidatorBehaviour | None = None, defences: PosDefences | None = None) -> None:
        """Create the engine; nothing happens until `start`."""
        self.key = key
        self.defences = PosDefences() if defences is None else defences
        self.behaviour: ValidatorBehaviour = HonestBehaviour() if behaviour is None else behaviour
        self.chain = chain
        self.timeouts = Timeouts() if timeouts is None else timeouts
        self.mempool = Mempool() if mempool is None else mempool
        self.max_clock_drift = max_clock_drift
        self.max_buffered = max_buffered
        self.pending_evidence: dict[bytes, AnyEvidence] = {}
        """Evidence seen and not yet in a finalized block, by evidence id (at most one per offender)."""
        self._buffer: list[Message] = []
        self._buffered: set[bytes] = set()
        self._lagging: dict[bytes, tuple[int, float, float]] = {}
        """Validators seen still deciding the last finalized height: (height, first seen, last offered blocks)."""
        self._started = False
        self._reset_height()

    # State of the current height -----------------------------------------------------------------------------------

    def _reset_height(self) -> None:
        self.height = self.chain.height + 1
        self.round = 0
        self.step = Step.NEW_HEIGHT
        self.validator_set = self.chain.validator_set(self.height)
        self.locked_block: Block | None = None
        self.locked_round = NO_ROUND
        self.valid_block: Block | None = None
        self.valid_round = NO_ROUND
        self._proposals: dict[int, Proposal] = {}
        self._validity: dict[bytes, PosError | None] = {}
        self._votes: dict[tuple[int, int], VoteSet] = {}
        self._participants: dict[int, set[bytes]] = {}
        self._own_votes: list[Vote] = []
        self._timeouts_scheduled: set[tuple[int, str]] = set()
        self._polkas_seen: set[int] = set()
        self._sync_requested = False
        self._relayed: set[tuple[int, int, bytes]] = set()
        """(round, vote type, validator) of the votes this node relayed at this height (`pos.vote_relay`)."""

    @property
    def is_validator(self) -> bool:
        """Whether this node votes at the current height."""
        return self.key is not None and self.key.public_key in self.validator_set

    def _vote_set(self, round_number: int, vote_type: int) -> VoteSet:
        vote_set = self._votes.get((round_number, vote_type))
        if vote_set is None:
            vote_set = self._votes[(round_number, vote_type)] = VoteSet(self.validator_set)
        return vote_set

    # Inputs ----------------------------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Begin at the chain's next height: round 0 starts right away."""
        if self._started:
            raise RuntimeError("the engine has started already")
        self._started = True
        actions: list[Action] = []
        self._start_round(0, now, actions)
        self._evaluate(now, actions)
        return actions

    def on_proposal(self, proposal: Proposal, now: float, sender: bytes | None = None) -> list[Action]:
        """Take a proposal (from the network or crafted by a test).

        `sender` is the account of the peer that delivered it (None: the proposer itself, as on a test bus)."""
        actions: list[Action] = []
        if proposal.height < self.height and sender in (None, proposal.proposer):
            self._serve_lagging(proposal.proposer, proposal.height, now, actions)
        if self._admit(proposal, proposal.height, proposal.round, actions):
            self._take_proposal(proposal, now, actions)
            self._evaluate(now, actions)
        return actions

    def on_vote(self, vote: Vote, now: float, sender: bytes | None = None) -> list[Action]:
        """Take a prevote or precommit.

        `sender` is the account of the peer that delivered it (None: the voter itself, as on a test bus)."""
        actions: list[Action] = []
        if vote.height < self.height and sender in (None, vote.validator):
            self._serve_lagging(vote.validator, vote.height, now, actions)
        if self._admit(vote, vote.height, vote.round, actions):
            self._take_vote(vote, actions)
            self._evaluate(now, actions)
        return actions

    def on_evidence(self, evidence: AnyEvidence, now: float) -> list[Action]:
        """Take evidence gossiped by another node; valid evidence waits to be included in a block.

        Evidence of a kind whose defence is off (`pos.vote_evidence`, `pos.proposal_evidence`) is ignored."""
        if not self._collects(evidence) or self._has_evidence_against(evidence.offender):
            return []
        try:
            self.chain.check_evidence(evidence, self.height)
        except InvalidEvidence as error:
            return [RefusedInput(error)]
        self.pending_evidence[evidence.evidence_id] = evidence
        return []

    def _conflicting_commit(self, certificate: CommitCertificate, actions: list[Action]) -> None:
        """A certificate for another block at a height this node finalized, in the same round as its own: every
        validator that signed both precommitted two blocks in one round. Keep, report and gossip vote evidence
        against each (PROTOCOL.md, "Conflicting commits"), within the evidence window.

        Cheap against forged certificates: nothing is verified unless the certificate names another block at a
        finalized height of the window in the same round; validators with evidence pending or already punished are
        skipped; the first signature that does not verify ends the work on that certificate. So a certificate costs
        at most one failed verification plus one per validator newly proven at fault (once per offender)."""
        height = certificate.height
        if not self.defences.vote_evidence or not 0 < height <= self.chain.height \
                or self.height - height > self.chain.params.evidence_max_age:
            return
        own = self.chain.certificate(height)
        if own is None or own.block_id == certificate.block_id or own.round != certificate.round:
            return
        own_votes = {vote.validator: vote for vote in own.votes()}
        for vote in certificate.votes():
            first = own_votes.get(vote.validator)
            if first is None or self._has_evidence_against(vote.validator) \
                    or tombstone_height(self.chain.state, vote.validator) is not None:
                continue
            evidence = Evidence.from_votes(first, vote)
            try:
                self.chain.check_evidence(evidence, self.height)
            except InvalidEvidence as error:
                actions.append(RefusedInput(error))
                return
            self.pending_evidence[evidence.evidence_id] = evidence
            actions += [EvidenceFound(evidence), SendToValidators(evidence)]

    def _collects(self, evidence: AnyEvidence) -> bool:
        if isinstance(evidence, ProposalEvidence):
            return self.defences.proposal_evidence
        return self.defences.vote_evidence

    def _has_evidence_against(self, offender: bytes) -> bool:
        # One offence is punished once, so one pending evidence per offender is enough; this also bounds what an
        # equivocator can make a node store and gossip.
        return any(evidence.offender == offender for evidence in self.pending_evidence.values())

    def on_timeout(self, timeout: ScheduleTimeout, now: float) -> list[Action]:
        """A timeout this engine scheduled has expired."""
        actions: list[Action] = []
        if timeout.height != self.height:
            return actions
        if timeout.step == "commit":
            if self.step == Step.NEW_HEIGHT:
                self._start_round(0, now, actions)
        elif timeout.step == "gossip":
            if timeout.round == self.round and self.step != Step.NEW_HEIGHT:
                self._gossip(actions)
        elif timeout.round == self.round:
            if timeout.step == "propose" and self.step == Step.PROPOSE:  # L57
                self._vote(PREVOTE, NIL, actions)
                self.step = Step.PREVOTE
            elif timeout.step == "prevote" and self.step == Step.PREVOTE:  # L61
                self._vote(PRECOMMIT, NIL, actions)
                self.step = Step.PRECOMMIT
            elif timeout.step == "precommit":  # L65
                self._start_round(self.round + 1, now, actions)
        self._evaluate(now, actions)
        return actions

    def on_decided_block(self, block: Block, certificate: CommitCertificate, now: float) -> list[Action]:
        """Take a finalized block from sync; it is verified against its certificate and applied if next.

        Its certificate and its parent's (`block.last_commit`) are first compared with the certificates this node
        finalized at their heights: a conflicting one gives vote evidence (`_conflicting_commit`)."""
        if block.height > self.height:
            return [RefusedInput(FutureMessage(f"synced block {block.height} while deciding height {self.height}"))]
        actions: list[Action] = []
        for carried in (certificate, block.last_commit):
            if carried is not None:
                self._conflicting_commit(carried, actions)
        try:
            receipts = self.chain.apply_synced(block, certificate)
        except PosError as error:
            return [*actions, RefusedInput(error)]
        if block.height == self.height:
            self._finalized(block, certificate, receipts, now, actions)
            self._evaluate(now, actions)
        return actions

    def _serve_lagging(self, account: bytes, height: int, now: float, actions: list[Action]) -> None:
        """A message of the last finalized height from a validator of that height: if it is still deciding that
        height `SERVE_SYNC_INTERVAL` after this node first saw it lag, offer it the block.

        A validator a few hundred milliseconds behind decides on its own when the last precommits reach it: it is
        only offered blocks once it still lags a gossip interval later (so a lossless network sees none). Only
        accounts in that height's validator set count, so the memory is bounded by the validator sets; at most one
        offer per validator per `SERVE_SYNC_INTERVAL`."""
        if height != self.height - 1:
            return
        try:
            validators = self.chain.validator_set(height)
        except KeyError:
            return
        if account not in validators or (self.key is not None and account == self.key.public_key):
            return
        seen = self._lagging.get(account)
        if seen is None or seen[0] != height:
            self._lagging[account] = (height, now, now)
            return
        _, first_seen, last_offer = seen
        offered_recently = last_offer > first_seen and now - last_offer < SERVE_SYNC_INTERVAL
        if now - first_seen < SERVE_SYNC_INTERVAL or offered_recently:
            return
        self._lagging[account] = (height, first_seen, now)
        actions.append(ServeSync(account, height))

    # Admission: heights, rounds, buffering ---------------------------------------------------------------------------

    def _admit(self, message: Message, height: int, round_number: int, actions: list[Action]) -> bool:
        if height < self.height:
            actions.append(RefusedInput(StaleMessage(f"height {height} is finalized here (deciding {self.height})")))
            return False
        if height > self.height:
            self._buffer_future(message, height, actions)
            return False
        if round_number > self.round + MAX_ROUNDS_AHEAD:
            actions.append(RefusedInput(FutureMessage(f"round {round_number} is more than {MAX_ROUNDS_AHEAD} ahead of "
                                                f"{self.round}")))
            return False
        return True

    def _buffer_future(self, message: Message, height: int, actions: list[Action]) -> None:
        if not self._sync_requested:
            self._sync_requested = True
            actions.append(RequestSync(self.height))
        if height > self.height + BUFFERED_HEIGHTS:
            actions.append(RefusedInput(FutureMessage(f"height {height} is more than {BUFFERED_HEIGHTS} ahead of "
                                                f"{self.height}")))
            return
        encoded = message.encode()
        if encoded in self._buffered:
            return
        if len(self._buffer) >= self.max_buffered:
            actions.append(RefusedInput(FutureMessage(f"the buffer of future messages is full ({self.max_buffered})")))
            return
        self._buffer.append(message)
        self._buffered.add(encoded)

    def _replay_buffer(self, now: float, actions: list[Action]) -> None:
        buffered, self._buffer = self._buffer, []
        self._buffered.clear()
        for message in buffered:
            if not self._admit(message, message.height, message.round, actions):
                continue
            if isinstance(message, Proposal):
                self._take_proposal(message, now, actions)
            else:
                self._take_vote(message, actions)

    # Taking messages --------------------------------------------------------------------------------------------

    def _take_proposal(self, proposal: Proposal, now: float, actions: list[Action]) -> None:
        expected = self.chain.proposer(self.height, proposal.round)
        if proposal.proposer != expected:
            actions.append(RefusedInput(WrongProposer(f"proposal of round {proposal.round} by "
                                                f"{proposal.proposer.hex()[:8]}, expected {expected.hex()[:8]}")))
            return
        existing = self._proposals.get(proposal.round)
        if existing is not None:
            if existing.block.block_id != proposal.block.block_id or existing.pol_round != proposal.pol_round:
                actions.append(RefusedInput(ConflictingProposal(f"a second proposal for round {proposal.round}")))
                self._proposal_equivocation(existing, proposal, actions)
            return
        try:
            proposal.verify(self.chain.chain_id)
        except InvalidSignature as bad_signature:
            actions.append(RefusedInput(bad_signature))
            return
        if proposal.block.last_commit is not None and proposal.block.header.parent_id != self.chain.head.block_id:
            self._conflicting_commit(proposal.block.last_commit, actions)
        if proposal.block.header.round > proposal.round:
            actions.append(RefusedInput(WrongProposer(f"block of round {proposal.block.header.round} proposed in round "
                                                f"{proposal.round}")))
            return
        self._proposals[proposal.round] = proposal
        self._participants.setdefault(proposal.round, set()).add(proposal.proposer)
        error = self._check_validity(proposal.block, now)
        if error is not None:
            actions.append(RefusedInput(error))

    def _proposal_equivocation(self, existing: Proposal, proposal: Proposal, actions: list[Action]) -> None:
        """`proposal` differs from the round's proposal this node holds (`existing`, verified): if it is signed too,
        the proposer equivocated; keep, report and gossip the evidence (once per offender)."""
        if not self.defences.proposal_evidence or self._has_evidence_against(proposal.proposer):
            return
        try:
            proposal.verify(self.chain.chain_id)
        except InvalidSignature as bad_signature:
            actions.append(RefusedInput(bad_signature))
            return
        evidence = ProposalEvidence.from_proposals(existing, proposal)
        self.pending_evidence[evidence.evidence_id] = evidence
        actions += [EvidenceFound(evidence), SendToValidators(evidence)]

    def _take_vote(self, vote: Vote, actions: list[Action]) -> None:
        if vote.validator not in self.validator_set:
            actions.append(RefusedInput(NotAValidator(f"{vote.validator.hex()[:8]} is not a validator at height "
                                                f"{vote.height}")))
            return
        vote_set = self._vote_set(vote.round, vote.type)
        if vote_set.holds(vote):
            return
        try:
            vote.verify(self.chain.chain_id)
        except InvalidSignature as error:
            actions.append(RefusedInput(error))
            return
        first = vote_set.first.get(vote.validator)
        if first is not None and first.block_id != vote.block_id:
            if self.defences.vote_evidence and not self._has_evidence_against(vote.validator):
                evidence = Evidence.from_votes(first, vote)
                self.pending_evidence[evidence.evidence_id] = evidence
                actions += [EvidenceFound(evidence), SendToValidators(evidence)]
            # Bounded: an equivocator's extra votes count only for nil or a block proposed at this height.
            if vote.block_id != NIL and self._known_block(vote.block_id) is None:
                return
        vote_set.add(vote)
        self._participants.setdefault(vote.round, set()).add(vote.validator)
        if vote_set.first.get(vote.validator) is vote:
            self._relay_if_divergent(vote, vote_set, actions)

    def _relay_if_divergent(self, vote: Vote, vote_set: VoteSet, actions: list[Action]) -> None:
        """`pos.vote_relay`: send another validator's first vote of a round and type to the other validators when it
        is for another block than this node's own vote there (once per validator, round and type; `vote` has been
        verified). A validator that splits its votes (one to some validators, a conflicting one to the others) is
        then seen by a node that holds both; when every validator votes alike nothing is relayed."""
        if not self.defences.vote_relay or self.key is None or vote.validator == self.key.public_key:
            return
        own = vote_set.first.get(self.key.public_key)
        position = (vote.round, vote.type, vote.validator)
        if own is None or own.block_id == vote.block_id or position in self._relayed:
            return
        self._relayed.add(position)
        actions.append(SendToValidators(vote))

    def _check_validity(self, block: Block, now: float) -> PosError | None:
        block_id = block.block_id
        if block_id in self._validity:
            return self._validity[block_id]
        try:
            self.chain.check_block(block, latest_timestamp=int((now + self.max_clock_drift) * 1000),
                                   check_transactions=self.defences.check_block_transactions)
        except BadTimestamp as error:
            # Not cached: a block from a clock ahead of ours becomes acceptable as time passes.
            return error
        except PosError as error:
            self._validity[block_id] = error
            return error
        self._validity[block_id] = None
        return None

    def _is_valid(self, block: Block, now: float) -> bool:
        return self._check_validity(block, now) is None

    def _is_known_valid(self, block: Block) -> bool:
        return block.block_id in self._validity and self._validity[block.block_id] is None

    # The rules --------------------------------------------------------------------------------------------------

    def _evaluate(self, now: float, actions: list[Action]) -> None:
        rules = (self._rule_commit, self._rule_round_skip, self._rule_prevote, self._rule_polka,
                 self._rule_nil_polka, self._rule_timeouts)
        while self.step != Step.NEW_HEIGHT and any(rule(now, actions) for rule in rules):
            pass

    def _rule_commit(self, now: float, actions: list[Action]) -> bool:
        """L49: a proposal of some round and 2f+1 precommits for its block in that round: decide."""
        for (_round, vote_type), vote_set in list(self._votes.items()):
            if vote_type != PRECOMMIT:
                continue
            block_id = vote_set.quorum_block()
            if block_id is None:
                continue
            block = self._known_block(block_id)
            if block is None:
                if not self._sync_requested:
                    self._sync_requested = True
                    actions.append(RequestSync(self.height))
                continue
            if not self._is_valid(block, now):
                continue
            certificate = CommitCertificate.from_votes(vote_set.votes_for(block_id))
            try:
                # With `pos.check_block_transactions` off the block's transactions were not run before voting:
                # the chain checks them now, and a certified block that does not apply is refused, never applied.
                receipts = self.chain.commit(block, certificate, checked=self.defences.check_block_transactions)
            except PosError as error:
                self._validity[block_id] = error
                actions.append(RefusedInput(error))
                continue
            self._finalized(block, certificate, receipts, now, actions)
            return True
        return False

    def _rule_round_skip(self, now: float, actions: list[Action]) -> bool:
        """L55: messages of a later round from validators holding f+1: go to that round."""
        later = [round_number for round_number, senders in self._participants.items()
                 if round_number > self.round
                 and self.validator_set.exceeds_one_third(sum(self.validator_set.power(s) for s in senders))]
        if not later:
            return False
        self._start_round(max(later), now, actions)
        return True

    def _rule_prevote(self, now: float, actions: list[Action]) -> bool:
        """L22 and L28: prevote on the round's proposal."""
        if self.step != Step.PROPOSE:
            return False
        proposal = self._proposals.get(self.round)
        if proposal is None:
            return False
        block = proposal.block
        if proposal.pol_round == NO_ROUND:
            acceptable = self.locked_round == NO_ROUND or self._is_locked_on(block)
        elif self._vote_set(proposal.pol_round, PREVOTE).has_quorum_for(block.block_id):
            acceptable = self.locked_round <= proposal.pol_round or self._is_locked_on(block)
        else:
            return False
        self._vote(PREVOTE, block.block_id if acceptable and self._is_valid(block, now) else NIL, actions)
        self.step = Step.PREVOTE
        return True

    def _is_locked_on(self, block: Block) -> bool:
        return self.locked_block is not None and self.locked_block.block_id == block.block_id

    def _rule_polka(self, now: float, actions: list[Action]) -> bool:
        """L36 (and a27's extension to earlier rounds): a proposal with 2f+1 prevotes: lock and precommit, or
        update the valid block."""
        changed = False
        for (round_number, vote_type), vote_set in list(self._votes.items()):
            if vote_type != PREVOTE or round_number in self._polkas_seen or round_number > self.round:
                continue
            proposal = self._proposals.get(round_number)
            if proposal is None or not vote_set.has_quorum_for(proposal.block.block_id):
                continue
            if round_number == self.round and self.step < Step.PREVOTE:
                continue
            if not self._is_valid(proposal.block, now):
                continue
            self._polkas_seen.add(round_number)
            changed = True
            if round_number == self.round and self.step == Step.PREVOTE:
                self.locked_block, self.locked_round = proposal.block, round_number
                self._vote(PRECOMMIT, proposal.block.block_id, actions)
                self.step = Step.PRECOMMIT
            if round_number > self.valid_round:
                self.valid_block, self.valid_round = proposal.block, round_number
        return changed

    def _rule_nil_polka(self, now: float, actions: list[Action]) -> bool:
        """L44: 2f+1 prevotes for nil: precommit nil."""
        if self.step != Step.PREVOTE or not self._vote_set(self.round, PREVOTE).has_quorum_for(NIL):
            return False
        self._vote(PRECOMMIT, NIL, actions)
        self.step = Step.PRECOMMIT
        return True

    def _rule_timeouts(self, now: float, actions: list[Action]) -> bool:
        """L34 and L47: 2f+1 votes of any kind start the prevote and precommit timeouts (once per round)."""
        changed = False
        if self.step == Step.PREVOTE and self._vote_set(self.round, PREVOTE).has_quorum():
            changed |= self._schedule("prevote", actions)
        if self._vote_set(self.round, PRECOMMIT).has_quorum():
            changed |= self._schedule("precommit", actions)
        return changed

    def _schedule(self, step: str, actions: list[Action]) -> bool:
        key = (self.round, step)
        if key in self._timeouts_scheduled:
            return False
        self._timeouts_scheduled.add(key)
        actions.append(ScheduleTimeout(self.timeouts.for_step(step, self.round), self.height, self.round, step))
        return True

    # Transitions ------------------------------------------------------------------------------------------------

    def _start_round(self, round_number: int, now: float, actions: list[Action]) -> None:
        self.round = round_number
        self.step = Step.PROPOSE
        if round_number > 0:
            self._rebroadcast(actions)
        actions.append(ScheduleTimeout(self.timeouts.gossip, self.height, round_number, "gossip"))
        if self.key is not None and self.is_validator and self.chain.proposer(self.height,
                                                                               round_number) == self.key.public_key:
            self._propose(now, actions)
        else:
            actions.append(ScheduleTimeout(self.timeouts.for_step("propose", round_number), self.height,
                                           round_number, "propose"))

    def _propose(self, now: float, actions: list[Action]) -> None:
        assert self.key is not None
        chain_id = self.chain.chain_id
        if self.valid_block is not None:
            proposal = Proposal.create(self.key, chain_id, self.round, self.valid_round, self.valid_block)
        else:
            block = self._new_block(now)
            self._validity[block.block_id] = None
            proposal = Proposal.create(self.key, chain_id, self.round, NO_ROUND, block)
        self._proposals[self.round] = proposal
        self._participants.setdefault(self.round, set()).add(self.key.public_key)
        actions.append(SendToValidators(proposal))
        if self.valid_block is not None:
            actions += [SendToValidators(vote) for vote in self._vote_set(self.valid_round, PREVOTE).votes_for(
                self.valid_block.block_id)]

    def _new_block(self, now: float) -> Block:
        assert self.key is not None
        params = self.chain.params
        evidence = self._evidence_for_block()
        certificate = self.chain.last_certificate
        reserved = BLOCK_OVERHEAD_BYTES + (0 if certificate is None else len(certificate.encode())) + sum(
            len(item.encode()) for item in evidence)
        self.mempool.expire(now, self.chain.state)
        transactions = self.mempool.pop_for_block(self.chain.state, params.max_block_transactions,
                                                  max(params.max_block_bytes - reserved, BLOCK_ENTRY_OVERHEAD))
        chosen_transactions, chosen_evidence = self.behaviour.block_contents(self, transactions, evidence)
        return self.chain.build_block(self.key, self.round, int(now * 1000), chosen_transactions, chosen_evidence)

    def _evidence_for_block(self) -> list[AnyEvidence]:
        # Pending evidence holds one entry per offender; evidence seen at this height is due from the next one.
        chosen: list[AnyEvidence] = []
        for evidence in self.pending_evidence.values():
            if len(chosen) == self.chain.params.max_evidence_per_block:
                break
            try:
                self.chain.check_evidence(evidence, self.height)
            except InvalidEvidence:
                continue
            chosen.append(evidence)
        return chosen

    def _vote(self, vote_type: int, block_id: bytes, actions: list[Action]) -> None:
        if not self.is_validator:
            return
        assert self.key is not None
        vote = Vote(vote_type, self.height, self.round, block_id, self.key.public_key).signed(self.key,
                                                                                            self.chain.chain_id)
        vote_set = self._vote_set(self.round, vote_type)
        if self.key.public_key in vote_set.first:
            return
        vote_set.add(vote)
        self._participants.setdefault(self.round, set()).add(vote.validator)
        self._own_votes.append(vote)
        actions.append(SendToValidators(vote))
        for first in list(vote_set.first.values()):
            self._relay_if_divergent(first, vote_set, actions)

    def _rebroadcast(self, actions: list[Action]) -> None:
        """Repair lost messages: own recent votes, and the valid block's proposal with its polka."""
        recent = self._own_votes[-4:]
        actions += [SendToValidators(vote) for vote in recent]
        self._broadcast_valid_proof(actions, exclude=recent)

    def _broadcast_valid_proof(self, actions: list[Action], exclude: list[Vote]) -> None:
        if self.valid_block is None:
            return
        proposal = self._proposals.get(self.valid_round)
        if proposal is not None:
            actions.append(SendToValidators(proposal))
        actions += [SendToValidators(vote) for vote in self._vote_set(self.valid_round, PREVOTE).votes_for(
            self.valid_block.block_id) if vote not in exclude]

    def _gossip(self, actions: list[Action]) -> None:
        """Resend the current round's proposal (if valid), this node's votes of this and the previous round and its
        valid block's proof; again later."""
        # Every validator resends the round's proposal, not only its proposer: with a bare quorum a single validator
        # that misses it prevotes nil and the round fails, so one lossy path must not decide.
        current = self._proposals.get(self.round)
        if current is not None and self.is_validator and self._is_known_valid(current.block):
            actions.append(SendToValidators(current))
        # Its votes of the previous round too: a validator still collecting that round's precommits (some were
        # lost) would otherwise wait for the next round's messages and enter it late, and if it proposes there, the
        # others time out before its proposal arrives.
        actions += [SendToValidators(vote) for vote in self._own_votes if vote.round >= self.round - 1]
        self._broadcast_valid_proof(actions, exclude=self._own_votes)
        actions.append(ScheduleTimeout(self.timeouts.gossip, self.height, self.round, "gossip"))

    def _known_block(self, block_id: bytes) -> Block | None:
        for proposal in self._proposals.values():
            if proposal.block.block_id == block_id:
                return proposal.block
        return None

    def _finalized(self, block: Block, certificate: CommitCertificate, receipts: Iterable[Receipt], now: float,
                   actions: list[Action]) -> None:
        self.mempool.remove_included(block, self.chain.state)
        self.mempool.expire(now, self.chain.state)
        actions.append(Committed(block, certificate, tuple(receipts)))
        self._reset_height()
        # Drop evidence the block included, or that expired or whose offender it punished.
        for evidence_id, evidence in list(self.pending_evidence.items()):
            try:
                self.chain.check_evidence(evidence, self.height)
            except InvalidEvidence:
                del self.pending_evidence[evidence_id]
        self._replay_buffer(now, actions)
        if self.timeouts.commit > 0:
            actions.append(ScheduleTimeout(self.timeouts.commit, self.height, 0, "commit"))
        else:
            self._start_round(0, now, actions)
