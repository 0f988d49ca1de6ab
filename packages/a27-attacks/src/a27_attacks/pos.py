"""Byzantine validators against a27-pos: equivocation, conflicting transactions, and a double-signing coalition.

Each attack is a `ValidatorBehaviour` (the seam of `a27_pos.behaviour`): an honest node with a hook overridden. It
signs only with its own validator key and sends only messages PROTOCOL.md documents, so it runs unchanged on the
in-memory `MessageBus` and in a `PosCommunity`. The defences that stop them live in a27-pos (`PosDefences`):

| attack | defence | with the defence off |
| --- | --- | --- |
| `VoteEquivocation` | `pos.vote_evidence` | the equivocator keeps its stake and its seat |
| `VoteEquivocation(split=True)` | `pos.vote_relay` (and `pos.vote_evidence`) | no node sees both votes: unpunished |
| `ProposalEquivocation` | `pos.proposal_evidence` | the proposer keeps its stake and splits every round it proposes |
| `ConflictingTransactions` | `pos.check_block_transactions` | honest nodes certify a block nobody can apply: halt |
| `CoalitionMember` (> 1/3) | none stops it (BFT bound); `pos.vote_evidence` slashes it | 2 blocks final at 1 height |

Measures for a scoreboard: `stolen_tokens` (what a double spend got credited beyond one payment) and
`safety_break_price` (the stake that signed both of two conflicting certificates, and what slashing burns of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

import attrs

from a27_ledger import KeyPair, Transaction, Transfer, sign_transfer
from a27_pos import (
    NIL,
    NO_ROUND,
    Block,
    CommitCertificate,
    ConsensusEngine,
    Evidence,
    HonestBehaviour,
    Proposal,
    Vote,
    bonded_stake,
)
from a27_pos.behaviour import ConsensusMessage
from a27_pos.chain import Chain

Recipient = TypeVar("Recipient")
log = logging.getLogger(__name__)
CONFLICTING_ID = bytes([0xEE]) * 32
"""The block id a twin of a nil vote votes for."""


def _own(engine: ConsensusEngine, account: bytes) -> KeyPair | None:
    """The engine's key if `account` is its own (an attacker signs only with its own key)."""
    key = engine.key
    return key if key is not None and key.public_key == account else None


def _halves(recipients: Sequence[Recipient]) -> tuple[list[Recipient], list[Recipient]]:
    half = len(recipients) // 2
    return list(recipients[:half]), list(recipients[half:])


def twin_block(engine: ConsensusEngine, key: KeyPair, block: Block,
               transactions: Sequence[Transaction] | None = None) -> Block:
    """A second block for `block`'s height and round, signed by `key`: other `transactions` if given, else the same
    contents one millisecond later (so its id differs)."""
    chosen = block.transactions if transactions is None else tuple(transactions)
    timestamp = block.header.timestamp + (1 if transactions is None else 0)
    return engine.chain.build_block(key, block.header.round, timestamp, chosen, block.evidence)


class VoteEquivocation(HonestBehaviour):
    """Signs a second, conflicting vote for every vote it casts (nil for a block, a made-up block for nil) and sends
    both to every validator, the real one first to one half and the twin first to the other, to split them. With
    `split`, each half gets only one of the two: the real vote to the first half, the twin to the second, so that no
    validator receives both.

    Stopped by `pos.vote_evidence`: any honest node that receives both builds evidence; the equivocator is slashed
    (`slash_percent` of its stake burned) and never validates again. The split variant needs `pos.vote_relay` too:
    a validator whose own vote differs from the one it got relays that one, and a node of the other half holds both."""

    def __init__(self, split: bool = False) -> None:
        """No twin signed yet; `split` sends each half one vote only."""
        self.split = split
        self.twins_signed = 0
        """How many conflicting twin votes this validator signed."""

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """The vote and its twin to each recipient, in opposite orders to the two halves (with `split`: the vote to
        one half, the twin to the other); anything else as is."""
        key = _own(engine, message.validator) if isinstance(message, Vote) else None
        if key is None or not isinstance(message, Vote):
            return [(message, recipients)]
        twin = attrs.evolve(message, block_id=CONFLICTING_ID if message.is_nil else NIL).signed(
            key, engine.chain.chain_id)
        self.twins_signed += 1
        first_half, second_half = _halves(recipients)
        if self.split:
            return [(message, first_half), (twin, second_half)]
        sends: list[tuple[ConsensusMessage, Sequence[Recipient]]] = []
        for recipient in first_half:
            sends += [(message, [recipient]), (twin, [recipient])]
        for recipient in second_half:
            sends += [(twin, [recipient]), (message, [recipient])]
        return sends


class ProposalEquivocation(HonestBehaviour):
    """As proposer, signs two different proposals for its height and round (the same contents a millisecond apart)
    and sends one to the first half of the validators and the other to the rest, so that neither gets a quorum of
    prevotes and the round is lost.

    Stopped by `pos.proposal_evidence`: an honest node that sees both (honest validators resend the round's proposal
    they hold every gossip interval) builds proposal evidence; the proposer is slashed and loses its seat."""

    def __init__(self) -> None:
        """No twin signed yet."""
        self._twins: dict[tuple[int, int], Proposal] = {}
        self.twins_signed = 0
        """How many second proposals this proposer signed."""

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """Its own fresh proposal to one half, the twin to the other; anything else as is."""
        key = _own(engine, message.proposer) if isinstance(message, Proposal) else None
        if key is None or not isinstance(message, Proposal) or message.pol_round != NO_ROUND:
            return [(message, recipients)]
        twin = self._twins.get((message.height, message.round))
        if twin is None:
            if message.height != engine.chain.height + 1:
                return [(message, recipients)]
            block = twin_block(engine, key, message.block)
            twin = Proposal.create(key, engine.chain.chain_id, message.round, NO_ROUND, block)
            self._twins = {position: kept for position, kept in self._twins.items() if position[0] >= message.height}
            self._twins[(message.height, message.round)] = twin
            self.twins_signed += 1
        first_half, second_half = _halves(recipients)
        return [(message, first_half), (twin, second_half)]


class ConflictingTransactions(HonestBehaviour):
    """As proposer, adds `extra` (typically a second transfer of its own with a nonce already used: a double spend)
    to the transactions of every block it builds.

    Stopped by `pos.check_block_transactions`: honest validators dry-run a proposal's transactions before voting
    and prevote nil for a block that does not apply. With it off they certify the block, and then no node can apply
    it (the ledger checks every transaction when it applies a block): nothing is credited twice, but the chain halts.
    """

    def __init__(self, extra: Iterable[Transaction]) -> None:
        """Add `extra` to every block this validator proposes."""
        self.extra = tuple(extra)

    def block_contents(self, engine: ConsensusEngine, transactions: Sequence[Transaction],
                       evidence: Sequence[Any]) -> tuple[Sequence[Transaction], Sequence[Any]]:
        """The honest choice followed by the extra transactions it does not hold already."""
        held = {transaction.tx_id for transaction in transactions}
        return [*transactions, *(extra for extra in self.extra if extra.tx_id not in held)], evidence


class SelfArmingConflictingTransactions(ConflictingTransactions):
    """`ConflictingTransactions` for a node that runs alone (a real node process, where no `act` arms it): when it
    first builds a block it signs `arm(key, balance, nonce)` from its own account's balance and next nonce in its
    chain, and adds those transactions to that block and every later one it builds."""

    def __init__(self, arm: Callable[[KeyPair, int, int], Sequence[Transaction]]) -> None:
        """Nothing signed yet; `arm` makes the transactions from the key, its balance and its next nonce."""
        super().__init__(())
        self.arm = arm
        self.blocks_built = 0
        """How many blocks this validator built with the extra transactions."""

    def block_contents(self, engine: ConsensusEngine, transactions: Sequence[Transaction],
                       evidence: Sequence[Any]) -> tuple[Sequence[Transaction], Sequence[Any]]:
        """Arm on the first block built (logged), then add the extra transactions as `ConflictingTransactions`."""
        key = engine.key
        if key is None:
            return transactions, evidence
        if not self.extra:
            state = engine.chain.state
            balance, nonce = state.balance(key.public_key), state.next_nonce(key.public_key)
            self.extra = tuple(self.arm(key, balance, nonce))
            log.info("conflicting transactions armed: %d transfers from %s... (balance %d, nonce %d)",
                     len(self.extra), key.public_key.hex()[:16], balance, nonce)
        self.blocks_built += 1
        log.info("block %d with %d conflicting transactions built at height %d", self.blocks_built, len(self.extra),
                 engine.chain.height + 1)
        return super().block_contents(engine, transactions, evidence)


def double_spend(key: KeyPair, payees: Sequence[bytes], amount: int, nonce: int, fee: int = 0) -> list[Transaction]:
    """Transfers of `amount` from `key`'s account to each of `payees`, all with one `nonce`: at most one can apply."""
    return [sign_transfer(key, payee, amount, nonce, fee) for payee in payees]


def stolen_tokens(chains: Iterable[Chain], transfers: Collection[Transaction]) -> int:
    """What a double spend got credited beyond one payment: the amounts of the distinct `transfers` that any of
    `chains` applied, less the largest one (the payment the spender could make once). 0 when the defences held."""
    wanted = {transfer.tx_id: transfer for transfer in transfers}
    applied: dict[bytes, int] = {}
    for chain in chains:
        for height in range(1, chain.height + 1):
            block = chain.block(height)
            for transaction in () if block is None else block.transactions:
                if transaction.tx_id in wanted and isinstance(transaction.body, Transfer):
                    applied[transaction.tx_id] = transaction.body.amount
    return sum(applied.values()) - max(applied.values(), default=0)


@attrs.define
class Coalition:
    """Validators that double-sign together (they share this object: attackers may talk off-chain).

    The honest validators are split in two sides: side A gets the coalition's real proposals and votes, side B
    (`on_side_b`) their twins. When a member proposes, both sides get a block; members prevote and precommit both,
    each side seeing only its own. With the coalition's stake plus either side's above two thirds both sides
    finalize, which needs the coalition to hold more than one third of the stake (quorum intersection).
    `twin_transactions`, if set, replaces the transactions of the twin block (side B's payee of a double spend).
    """

    on_side_b: Callable[[Any], bool]
    twin_transactions: Sequence[Transaction] | None = None
    twin_of: dict[bytes, bytes] = attrs.field(factory=dict)
    """Block id of each real block a member proposed -> its twin's block id."""
    twins: dict[bytes, Proposal] = attrs.field(factory=dict)
    """Twin proposals by the real block's id."""
    untwinned: set[bytes] = attrs.field(factory=set)
    """Real blocks a member first proposed to no side-B validator (before the split): never twinned, since side B
    holds the real proposal; twin votes for them would only show side B a member's two votes (vote evidence)."""

    def split(self, recipients: Sequence[Recipient]) -> tuple[list[Recipient], list[Recipient]]:
        """Recipients that get real messages (members and side A), and those that get twins (side B)."""
        return ([recipient for recipient in recipients if not self.on_side_b(recipient)],
                [recipient for recipient in recipients if self.on_side_b(recipient)])


def coalition_stakes(share: float, members: int, honest: int, honest_stake: int = 10_000) -> list[int]:
    """Stakes for `members` coalition validators (first) and `honest` validators of `honest_stake` each, such that
    the coalition holds `share` (0 < share < 1) of the bonded stake, split evenly among its members."""
    if not 0 < share < 1 or members < 1 or honest < 1:
        raise ValueError("share must be in (0, 1), with at least one member and one honest validator")
    total = round(share / (1 - share) * honest * honest_stake)
    return [total // members] * members + [honest_stake] * honest


class CoalitionMember(HonestBehaviour):
    """One member of a double-signing `Coalition` (see there)."""

    def __init__(self, coalition: Coalition) -> None:
        """Join `coalition`."""
        self.coalition = coalition

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """Real messages to members and side A; to side B the twin proposal, twin votes for the twin block. A block
        this member first proposed to no side-B validator (before the split) gets no twin: every message about it is
        real."""
        real, twin_side = self.coalition.split(recipients)
        twin = self._twin(engine, message, bool(twin_side))
        if twin is None:
            return [(message, recipients)]
        return [(message, real), (twin, twin_side)]

    def _twin(self, engine: ConsensusEngine, message: ConsensusMessage, to_side_b: bool) -> ConsensusMessage | None:
        coalition = self.coalition
        if isinstance(message, Proposal):
            key = _own(engine, message.proposer)
            block_id = message.block.block_id
            if key is None or message.pol_round != NO_ROUND or message.height != engine.chain.height + 1 \
                    or block_id in coalition.untwinned:
                return coalition.twins.get(block_id)
            twin = coalition.twins.get(block_id)
            if twin is None and not to_side_b:
                coalition.untwinned.add(block_id)
                return None
            if twin is None:
                block = twin_block(engine, key, message.block, coalition.twin_transactions)
                twin = Proposal.create(key, engine.chain.chain_id, message.round, NO_ROUND, block)
                coalition.twins[message.block.block_id] = twin
                coalition.twin_of[message.block.block_id] = block.block_id
            return twin
        if isinstance(message, Vote) and message.block_id in coalition.twin_of:
            key = _own(engine, message.validator)
            if key is not None:
                return attrs.evolve(message, block_id=coalition.twin_of[message.block_id]).signed(
                    key, engine.chain.chain_id)
        return None


@attrs.frozen
class SafetyBreak:
    """Two blocks final at one height, and what it provably costs the validators that made it happen."""

    height: int
    offenders: tuple[bytes, ...]
    """Validators whose precommits are in both certificates (same round: each pair is vote evidence)."""
    offender_stake: int
    """Their bonded stake at the conflict (more than a third of the total whenever safety broke)."""
    slashed_stake: int
    """What slashing burns of it once the evidence is included: `slash_percent` of each offender's stake."""
    evidence: tuple[Evidence, ...]


def safety_break_price(chain: Chain, first: CommitCertificate, second: CommitCertificate) -> SafetyBreak:
    """The price of two conflicting certificates at one height, measured on `chain` (a chain that finalized one of
    them, holding the validator set and stakes of that height): the offenders' evidence, stake and slashed stake.

    ValueError unless the certificates are for different blocks at one height."""
    evidence = tuple(Evidence.conflicting_certificates(first, second))
    try:
        validator_set = chain.validator_set(first.height)
        stakes = [validator_set.power(item.offender) for item in evidence]
    except KeyError:
        stakes = [bonded_stake(chain.state, item.offender) for item in evidence]
    percent = chain.params.slash_percent
    return SafetyBreak(first.height, tuple(item.offender for item in evidence), sum(stakes),
                       sum(stake * percent // 100 for stake in stakes), evidence)
