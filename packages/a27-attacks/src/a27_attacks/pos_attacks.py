"""Lab 2 attacks: the PoS behaviours of this package (``pos``, ``censor``, ``withhold``, ``mempool_flood``) as
registered attacks that run on the simulated Lab 2 network (``a27 attack NAME``).

Each class only wires an existing behaviour into attacker nodes (``settings_for``), arms it when the run's keys are
known (``act``), reads what the honest nodes' chains hold at the end (``observe``: bonded stake, validator seats,
conflicting blocks) and judges from those measured numbers and the runner's audit (``judge``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from a27_ledger import KeyPair, LedgerState, Transaction, account_of, sign_transfer
from a27_pos import Chain, bonded_stake

from .base import (
    Arena,
    Attack,
    AttackerNode,
    AttackResult,
    BadParameter,
    NodeHandle,
    Outcome,
    account_key,
    non_negative,
    param,
    positive,
    register,
)
from .censor import Censor
from .ledger import DoubleSpendLab1
from .mempool_flood import future_nonce_transfers
from .pos import (
    Coalition,
    CoalitionMember,
    ConflictingTransactions,
    ProposalEquivocation,
    SelfArmingConflictingTransactions,
    VoteEquivocation,
    coalition_stakes,
    double_spend,
    safety_break_price,
)
from .withhold import Withhold


def _share(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """An attrs validator: a stake share strictly between 0 and 1."""
    if not 0.0 < value < 1.0:
        msg = f"{attribute.name} must be above 0 and below 1, got {value!r}"
        raise ValueError(msg)


def _account(text: str) -> bytes | None:
    """The account ``text`` spells as a27 prints accounts (64 hex characters), or None when it is not one."""
    if len(text) != 64:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _shared_stakes(share: float, members: int, honest_stakes: Sequence[int]) -> list[int]:
    """Stakes of ``members`` attacker validators holding ``share`` of all bonded stake together, split evenly."""
    return coalition_stakes(share, members, 1, honest_stake=sum(honest_stakes))[:members]


def _keeps_validator_set(chain: Chain, height: int) -> bool:
    """Whether ``chain`` still keeps the validator set of ``height``."""
    try:
        chain.validator_set(height)
    except KeyError:
        return False
    return True


def _honest_validators(arena: Arena) -> list[NodeHandle]:
    return [node for node in arena.honest() if node.role == "validator"]


def _note_seats(arena: Arena, names: Sequence[str]) -> None:
    """Note, as the first honest validator's chain holds it, each attacker validator's bonded stake and seat."""
    chain = _honest_validators(arena)[0].communities["pos"].chain
    next_set = chain.validator_set(chain.height + 1)
    for name in names:
        account = arena.attacker_key(name).public_key
        arena.note(f"{name} bonded stake at the end", bonded_stake(chain.state, account))
        arena.note(f"{name} validates at the end", account in next_set)


def _with(result: AttackResult, *, succeeded: bool, broken: Sequence[str] = (), cost: Mapping[str, int] | None = None,
          effect: Mapping[str, object] | None = None) -> AttackResult:
    """
    The default verdict of an attack by validators, with its own success, extra guarantees broken, costs and
    effects. What the attacker's accounts hold beyond the replay is, for a validator, block rewards and fees (it
    proposed more or fewer blocks than in the replay, or in a longer or shorter chain): reported as ``attacker
    accounts' gain over the replay``, not as tokens stolen.
    """
    all_broken = tuple(dict.fromkeys((*result.broken, *broken)))
    return attrs.evolve(result, succeeded=succeeded or bool(all_broken), stolen=0, broken=all_broken,
                        cost={**result.cost, **(cost or {})},
                        honest_effect={"attacker accounts' gain over the replay (rewards, fees)": result.stolen,
                                       **result.honest_effect, **(effect or {})})


class _Equivocator(Attack):
    """
    One attacker validator, ``a0``, running an equivocating behaviour; judged on whether it kept stake and seat.

    A subclass sets ``name``, ``summary``, ``defences``, the behaviour (``behaviour_type``), what a0 signs twice
    (``twins``, which makes ``success``) and its ``stake_share`` parameter; the rest is shared.
    """

    lab = "pos"
    family = "byzantine"
    behaviour_type: ClassVar[type[VoteEquivocation] | type[ProposalEquivocation]]
    twins: ClassVar[str]
    """What a0 signs two of, in the success line (``conflicting votes``)."""
    stake_share: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Write ``success`` from ``twins``."""
        super().__init_subclass__(**kwargs)
        cls.success = f"a0 signed {cls.twins} and ends the run with its whole stake and its validator seat"

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One validator."""
        return (AttackerNode("a0", "validator", "signs two conflicting messages where it should sign one"),)

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """``stake_share`` of all bonded stake."""
        return _shared_stakes(self.stake_share, 1, honest_stakes)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The equivocating behaviour."""
        return {"pos": {"behaviour": self.behaviour_type()}}

    def observe(self, arena: Arena) -> None:
        """Twins signed, and the attacker's stake and seat in the honest chain."""
        arena.note("twins signed by a0", arena.attacker("a0").communities["pos"].behaviour.twins_signed)
        _note_seats(arena, ["a0"])

    def judge(self, outcome: Outcome) -> AttackResult:
        """Success: a0 signed twins and kept its stake and its seat (accountability broken)."""
        twins = int(outcome.notes.get("twins signed by a0", 0))  # type: ignore[call-overload]
        punished = outcome.attacker_slashed > 0 or not outcome.notes.get("a0 validates at the end", True)
        unpunished = twins > 0 and not punished
        return _with(super().judge(outcome), succeeded=unpunished, broken=("accountability",) if unpunished else ())


@register
@attrs.frozen
class VoteEquivocationAttack(_Equivocator):
    """A validator that signs a conflicting twin of every vote it casts."""

    name = "vote-equivocation"
    real_node = True
    summary = (
        "An attacker validator signs a conflicting twin of each of its votes (nil for a block, a made-up block for "
        "nil) and sends both to every validator in opposite orders, to split their tallies; with split=true it sends "
        "the vote to one half of the validators and the twin to the other half, so that no one receives both. Honest "
        "nodes that see both build vote evidence, include it in a block, and the equivocator is slashed and "
        "tombstoned; against the split, honest validators relay a vote that differs from their own (pos.vote_relay).")
    defences = ("pos.vote_evidence", "pos.vote_relay")
    behaviour_type = VoteEquivocation
    twins = "conflicting votes"

    stake_share: float = param(0.1, "share of all bonded stake a0 holds", _share)
    split: bool = param(False, "send the vote to one half of the validators and its twin to the other half")

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The equivocating behaviour, split or not."""
        return {"pos": {"behaviour": VoteEquivocation(split=self.split)}}


@register
@attrs.frozen
class ProposalEquivocationAttack(_Equivocator):
    """A proposer that signs two blocks for its height and round and shows each to half of the validators."""

    name = "proposal-equivocation"
    real_node = True
    summary = (
        "An attacker validator, whenever it proposes, signs two different proposals for its height and round and "
        "sends one to half of the validators and the other to the rest, so that neither gets a quorum and the round "
        "is lost. Honest validators resend the proposal they hold; a node that sees both builds proposal evidence "
        "and the proposer is slashed and loses its seat.")
    defences = ("pos.proposal_evidence",)
    behaviour_type = ProposalEquivocation
    twins = "twin proposals"

    stake_share: float = param(0.2, "share of all bonded stake a0 holds (how often it proposes)", _share)


@register
@attrs.frozen
class InvalidBlock(Attack):
    """A Byzantine proposer adds a double spend or an overdraft of its own to every block it proposes."""

    name = "invalid-block"
    real_node = True
    lab = "pos"
    family = "byzantine"
    summary = (
        "An attacker validator adds transfers of its own that cannot apply to every block it proposes: two "
        "transfers of its whole balance under one nonce (double-spend) or one of more than it holds (overdraft). "
        "Honest validators dry-run a proposal's transactions before voting and prevote nil; without that check "
        "they certify a block that no node can apply, and the chain halts.")
    success = "the chain halts: honest transfers fail that did not in the honest replay (availability)"
    defences = ("pos.check_block_transactions",)
    accounts = ("sink-a", "sink-b")

    stake_share: float = param(0.2, "share of all bonded stake a0 holds (how often it proposes)", _share)
    at: float = param(2.0, "simulated seconds after the workload starts when a0 arms its transfers", non_negative)
    kind: str = param("double-spend", "double-spend (two same-nonce transfers) or overdraft (one beyond the balance)")

    def check(self, validators: int, light_nodes: int) -> None:
        """``kind`` must be one this attack knows."""
        if self.kind not in ("double-spend", "overdraft"):
            msg = f"{self.name}: kind must be double-spend or overdraft, got {self.kind!r}"
            raise BadParameter(msg)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One validator."""
        return (AttackerNode("a0", "validator", "proposes blocks holding transfers that cannot apply"),)

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """``stake_share`` of all bonded stake."""
        return _shared_stakes(self.stake_share, 1, honest_stakes)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The conflicting-transactions proposer, armed in ``act``."""
        return {"pos": {"behaviour": ConflictingTransactions(())}}

    def node_settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """On a real node (no ``act``): a proposer that arms itself when it first builds a block, paying ``sink-a``
        and ``sink-b``, here keys derived from their names (``account_key``)."""
        sinks = [account_key(name).public_key for name in self.accounts]
        return {"pos": {"behaviour": SelfArmingConflictingTransactions(
            lambda key, balance, nonce: self.transfers(key, sinks, balance, nonce))}}

    def transfers(self, key: KeyPair, sinks: Sequence[bytes], balance: int, nonce: int) -> list[Transaction]:
        """The transfers from ``key``'s account that cannot apply: ``kind`` of ``balance`` at ``nonce``."""
        if self.kind == "double-spend":
            return double_spend(key, sinks, balance, nonce)
        return [sign_transfer(key, sinks[0], balance + 1, nonce)]

    async def act(self, arena: Arena) -> None:
        """At ``at``, sign the transfers from a0's account and hand them to its proposer behaviour."""
        await arena.sleep(max(0.0, self.at - arena.now()))
        me = arena.attacker("a0")
        key = arena.attacker_key("a0")
        state = me.communities["pos"].chain.state
        nonce, balance = state.next_nonce(key.public_key), state.balance(key.public_key)
        sinks = [arena.attacker_key(sink).public_key for sink in self.accounts]
        extra = self.transfers(key, sinks, balance, nonce)
        me.communities["pos"].behaviour.extra = tuple(extra)
        arena.note("transfers added to a0's blocks", f"{len(extra)} ({self.kind}, {balance:,} each, nonce {nonce})")

    def observe(self, arena: Arena) -> None:
        """Heights finalized, and blocks of a0's in the honest chain."""
        chain = _honest_validators(arena)[0].communities["pos"].chain
        account = arena.attacker_key("a0").public_key
        mine = sum(1 for height in range(1, chain.height + 1)
                   if (block := chain.block(height)) is not None and block.header.proposer == account)
        arena.note("height finalized (first honest validator)", chain.height)
        arena.note("blocks proposed by a0 in the honest chain", mine)
        arena.note("credited to sink-a and sink-b", sum(chain.state.balance(arena.attacker_key(sink).public_key)
                                                        for sink in self.accounts))


@register
@attrs.frozen
class DoubleSpendPos(DoubleSpendLab1):
    """The Lab 1 double spend against the PoS network: consensus orders the two transfers, one applies."""

    name = "double-spend-pos"
    lab = "pos"
    family = "double-spend"
    summary = (
        "A light node owned by the attacker signs two transfers with the same nonce, each of its whole balance, to "
        "two accounts it also controls, and sends them to two different validators at the same simulated instant. "
        "Under PoS the validators agree on one order of blocks and the ledger applies one nonce once, so at most "
        "one transfer becomes final; no defence switch of this build lets the second one through (it is a control).")
    success = "honest nodes end with different ledgers or the attacker's accounts are credited the balance twice"
    defences = ()
    structural = True

    def check(self, validators: int, light_nodes: int) -> None:
        """As Lab 1's, and no ``forward``: it races Lab 1's log, and PoS has no ledger community to forward through
        (consensus orders the transfers whatever the sinks do)."""
        super().check(validators, light_nodes)
        if self.forward:
            msg = f"{self.name}: forward is a Lab 1 parameter (double-spend-lab1); under PoS leave it off"
            raise BadParameter(msg)

    def ledger_state(self, me: NodeHandle) -> LedgerState:
        """The attacker light node's finalized chain state."""
        return me.communities["pos"].chain.state


SLASHABLE_COMPUTED = "slashable (computed)"
"""The coalition's cost entry for the price computed from the two certificates (``safety_break_price``), beside
``slashed``, the stake the honest chains slashed in the run."""


@attrs.define
class _CoalitionRun:
    """What the members of one run share: the coalition, and the accounts of the validators on side B."""

    side_b: set[bytes] = attrs.field(factory=set)
    coalition: Coalition | None = None


@register
@attrs.frozen
class CoalitionAttack(Attack):
    """Attacker validators double-propose and double-vote together, showing side A one block and side B another."""

    name = "coalition"
    real_node = True
    real_node_act = True
    lab = "pos"
    family = "byzantine"
    summary = (
        "Attacker validators holding stake_share of all bonded stake double-sign together: the honest validators "
        "are split in two sides, side A gets the coalition's real proposals and votes, side B their twins. Above a "
        "third of the stake both sides gather a commit certificate at one height (conflicting finality); at a third "
        "or less BFT quorums intersect and it fails (no defence switch: the stake share decides). Honest nodes that "
        "learn the other side's certificate (the next height's proposals and synced blocks carry it) turn it into "
        "vote evidence against every double signer (pos.vote_evidence), and the coalition is slashed.")
    success = "two different blocks final at one height among the honest nodes (finality broken)"
    defences = ()
    structural = True

    stake_share: float = param(0.4, "share of all bonded stake the coalition holds together", _share)
    members: int = param(2, "attacker validators in the coalition", positive)
    _run: _CoalitionRun = attrs.field(factory=_CoalitionRun, init=False, repr=False, eq=False)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """``members`` validators."""
        return tuple(AttackerNode(f"a{index}", "validator", "double-signs with the coalition")
                     for index in range(self.members))

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """``stake_share`` of all bonded stake, split evenly."""
        return _shared_stakes(self.stake_share, self.members, honest_stakes)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """Coalition members sharing one coalition per run (a fresh one when ``a0`` is built)."""
        return self._member(fresh=node.name == "a0")

    def node_settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """On real nodes one process runs every member (the node it plays and the others as identities, bonded by the
        keys its config holds), from one attack instance: they share one coalition whichever member it plays."""
        return self._member(fresh=False)

    def _member(self, *, fresh: bool) -> dict[str, dict[str, object]]:
        """A member of this run's coalition, made first when ``fresh`` or when there is none yet."""
        if fresh or self._run.coalition is None:
            side_b: set[bytes] = set()
            self._run.side_b = side_b
            self._run.coalition = Coalition(lambda peer: account_of(peer.public_key.key_to_bin()) in side_b)
        return {"pos": {"behaviour": CoalitionMember(self._run.coalition)}}

    async def act(self, arena: Arena) -> None:
        """Put the second half of the honest validators on side B (before that, members send only real messages)."""
        validators = _honest_validators(arena)
        side_b = validators[len(validators) // 2:]
        self._run.side_b.update(node.public_key for node in side_b)
        arena.note("side B", ", ".join(node.name for node in side_b))

    def observe(self, arena: Arena) -> None:
        """The first height where honest nodes finalized different blocks, and its computed price
        (``safety_break_price``); what was slashed is measured by the runner (``Outcome.attacker_slashed``)."""
        nodes = [node for node in arena.honest() if node.communities["pos"].chain.height > 0]
        chains = {node.name: node.communities["pos"].chain for node in nodes}
        top = max((chain.height for chain in chains.values()), default=0)
        for height in range(1, top + 1):
            held = {name: chain.block(height) for name, chain in chains.items() if chain.height >= height}
            ids = {block.block_id for block in held.values() if block is not None}
            if len(ids) < 2:
                continue
            first, *_ = held
            second = next(name for name, block in held.items()
                          if block is not None and block.block_id != held[first].block_id)
            # Priced on a chain that still keeps the validator set of that height (stakes before any slashing):
            # a chain that went on for more than evidence_max_age blocks has dropped it.
            pricing = next((chains[name] for name in held if _keeps_validator_set(chains[name], height)),
                           chains[first])
            price = safety_break_price(pricing, chains[first].certificate(height), chains[second].certificate(height))
            arena.note("conflicting finality at height", height)
            arena.note("nodes finalizing each block", "; ".join(
                f"{block_id.hex()[:8]}: " + ", ".join(name for name, block in held.items()
                                                      if block is not None and block.block_id == block_id)
                for block_id in sorted(ids)))
            arena.note("stake that signed both certificates", price.offender_stake)
            arena.note("stake slashing burns once the evidence is included (computed)", price.slashed_stake)
            break
        _note_seats(arena, [node.name for node in self.attacker_nodes()])

    def judge(self, outcome: Outcome) -> AttackResult:
        """Success: conflicting finality. Its cost: ``slashed``, the stake slashed from the coalition in the run (the
        default verdict's, measured on the honest chains), beside the price computed from the two certificates."""
        height = outcome.notes.get("conflicting finality at height")
        cost = {}
        if height is not None:
            cost = {"stake provably at fault": int(outcome.notes["stake that signed both certificates"]),  # type: ignore[call-overload]
                    SLASHABLE_COMPUTED: int(outcome.notes[  # type: ignore[call-overload]
                        "stake slashing burns once the evidence is included (computed)"])}
        return _with(super().judge(outcome), succeeded=height is not None,
                     broken=("finality",) if height is not None else (), cost=cost)


@register
@attrs.frozen
class CensorAttack(Attack):
    """An attacker validator that leaves a light node's transactions out of its blocks and relays none of them."""

    name = "censor"
    real_node = True
    lab = "pos"
    family = "byzantine"
    summary = (
        "An attacker validator admits the victim light node's transfers, then neither relays them to the other "
        "validators nor includes them in its blocks. When it is the first validator the victim asks (light nodes "
        "ask in account order) the victim waits on it; pos.resubmit sends a transfer not final after "
        "resubmit_after seconds to the next validator. In simulation the victim is a light node by name; on a real "
        "node (a27 node run, a battle) it is an account: its public key in 64 hex characters.")
    success = ("the victim's transfers fail (not final within the lab's transfer timeout) more often than in the "
               "honest replay, or their median delay grows by at least min_delay seconds")
    defences = ("pos.resubmit",)

    victim: str = param("l0", "the light node whose transfers are censored (on a real node: its account, 64 hex "
                              "characters)")
    stake_share: float = param(0.2, "share of all bonded stake a0 holds", _share)
    min_delay: float = param(30.0, "extra median delay (seconds) of the victim's transfers that counts as success",
                             positive)

    def check(self, validators: int, light_nodes: int) -> None:
        """The victim must be one of the lab's light nodes."""
        if self.victim not in {f"l{index}" for index in range(light_nodes)}:
            msg = f"{self.name}: victim {self.victim!r} is not a light node (l0..l{light_nodes - 1})"
            if _account(self.victim) is not None:
                msg += "; an account in hex names the victim on a real node only"
            raise BadParameter(msg)

    def check_real_node(self) -> None:
        """On a real node the victim is an account: nothing names the lab's light nodes there."""
        if _account(self.victim) is None:
            msg = (f"{self.name}: on a real node victim must be an account (its public key in 64 hex characters, as "
                   f"a27 prints accounts), got {self.victim!r}")
            raise BadParameter(msg)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One validator."""
        return (AttackerNode("a0", "validator", "censors the victim's transfers"),)

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """``stake_share`` of all bonded stake."""
        return _shared_stakes(self.stake_share, 1, honest_stakes)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The censor, given its victim in ``act``."""
        return {"pos": {"behaviour": Censor(())}}

    def node_settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The censor of the victim's account from the start (``check_real_node`` made sure it is one)."""
        victim = _account(self.victim)
        return {"pos": {"behaviour": Censor(() if victim is None else (victim,))}}

    async def act(self, arena: Arena) -> None:
        """Censor the victim's account from the start."""
        victim = next(node for node in arena.honest() if node.name == self.victim)
        arena.attacker("a0").communities["pos"].behaviour.victims = frozenset({victim.public_key})
        mine = arena.attacker_key("a0").public_key
        accounts = sorted([*(node.public_key for node in _honest_validators(arena)), mine])
        arena.note("a0's place in the victim's validator order", accounts.index(mine))

    def judge(self, outcome: Outcome) -> AttackResult:
        """From the victim's own transfers, against the replay."""
        failed, latency = outcome.by_sender.get(self.victim, (0, None))
        replay_failed, replay_latency = outcome.replay_by_sender.get(self.victim, (0, None))
        extra = None if latency is None or replay_latency is None else round(latency - replay_latency, 6)
        hurt = failed > replay_failed or (extra is not None and extra >= self.min_delay)
        effect = {f"{self.victim}: failed transfers": failed, f"{self.victim}: failed in the replay": replay_failed,
                  f"{self.victim}: median verdict latency": latency,
                  f"{self.victim}: median in the replay": replay_latency,
                  f"{self.victim}: extra median delay": extra}
        return _with(super().judge(outcome), succeeded=hurt, broken=("availability",) if hurt else (), effect=effect)


@register
@attrs.frozen
class WithholdAttack(Attack):
    """An attacker validator that withholds its proposals, its blocks and, if asked, its votes."""

    name = "withhold"
    real_node = True
    lab = "pos"
    family = "byzantine"
    summary = (
        "An attacker validator withholds its own proposals and the finalized blocks others ask it for, and with "
        "votes=true its votes too. Its lost rounds only delay transfers while it holds under a third of the stake "
        "(round timeouts, quorums, the light node's failover: structural, no defence switch); from a third on "
        "with its votes withheld no quorum forms and the chain halts (the BFT liveness bound).")
    success = "honest transfers fail that did not in the honest replay (availability)"
    defences = ()
    structural = True

    stake_share: float = param(0.2, "share of all bonded stake a0 holds", _share)
    votes: bool = param(False, "withhold its votes too")

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One validator."""
        return (AttackerNode("a0", "validator", "withholds proposals, blocks and maybe votes"),)

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """``stake_share`` of all bonded stake."""
        return _shared_stakes(self.stake_share, 1, honest_stakes)

    def settings_for(self, node: AttackerNode) -> dict[str, dict[str, object]]:
        """The withholding behaviour."""
        return {"pos": {"behaviour": Withhold(votes=self.votes)}}

    def observe(self, arena: Arena) -> None:
        """Heights finalized."""
        arena.note("height finalized (first honest validator)",
                   _honest_validators(arena)[0].communities["pos"].chain.height)

    def judge(self, outcome: Outcome) -> AttackResult:
        """The default verdict, with the extra median latency."""
        extra = None if outcome.honest_latency is None or outcome.replay_latency is None \
            else round(outcome.honest_latency - outcome.replay_latency, 6)
        return _with(super().judge(outcome), succeeded=False, effect={"extra median verdict latency": extra})


@register
@attrs.frozen
class MempoolFlood(Attack):
    """An attacker light node fills the validators' mempools with transfers behind a nonce gap."""

    name = "mempool-flood"
    lab = "pos"
    family = "flooding"
    summary = (
        "An attacker light node signs count transfers from its account whose nonces leave a gap (none can ever be "
        "included) and submits them to every validator (all of one validator's at once), to fill their mempools and "
        "crowd out honest transfers. The mempool's bounds (nonces ahead, gapped transactions per sender and in "
        "all) are structural and always on (no defence switch); the flood costs nothing as long as nothing is "
        "included.")
    success = "honest transfers fail that did not in the honest replay (availability)"
    defences = ()
    structural = True
    accounts = ("sink",)
    real_node = True
    real_node_act = True

    at: float = param(2.0, "simulated seconds after the workload starts when the flood is sent", non_negative)
    count: int = param(200, "gapped transfers signed", positive)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """One light node."""
        return (AttackerNode("a0", "light", "submits transfers that can never be included"),)

    async def act(self, arena: Arena) -> None:
        """At ``at``, submit the flood to every validator concurrently; note how much each admitted."""
        await arena.sleep(max(0.0, self.at - arena.now()))
        key = arena.attacker_key("a0")
        state = arena.attacker("a0").communities["pos"].chain.state
        flood = future_nonce_transfers([key], state, arena.attacker_key("sink").public_key, per_key=self.count)
        for validator in _honest_validators(arena):
            results = await asyncio.gather(*(arena.send_transaction("a0", transfer, validator.name)
                                             for transfer in flood))
            arena.note(f"admitted by {validator.name}", sum(result.accepted for result in results))
