"""Long-range fork: validators that have unbonded sign another history from an old height.

A commit certificate proves only that the validator set of its height signed. Once that set has unbonded and its
stake was released (`unbonding_delay` blocks later), its members risk nothing by signing a second history from a
height where they held more than two thirds: evidence against them can no longer be included (it is older than
`evidence_max_age`) and there is nothing left to slash. Every certificate of that history verifies against the
validator sets the history itself computes, so a node that syncs from genesis (a new light node, a validator
restarting with an empty store) cannot tell it from the real chain by signatures. The attacker's spending on the
real chain (the tokens it unbonded and paid away) is then undone for that node, and the tokens are spent again.

The defence lives in a27-pos: `pos.checkpoints` (weak subjectivity, `a27_pos.Checkpoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from a27_ledger import KeyPair, Transaction, account_of, sign_transfer
from a27_pos import (
    PRECOMMIT,
    Block,
    Chain,
    CheckpointMismatch,
    CommitCertificate,
    PosError,
    PosGenesis,
    Vote,
    sign_unbond,
)

from .base import (
    Arena,
    Attack,
    AttackerNode,
    AttackResult,
    BadParameter,
    Outcome,
    non_negative,
    param,
    positive,
    register,
)

CertifiedBlock = tuple[Block, CommitCertificate]
"""A finalized block with its commit certificate, as block sync carries it."""

MAX_ROUNDS = 64
"""Rounds tried per height for one of the attacker's keys to be the proposer."""


class ForkImpossible(Exception):
    """The keys given cannot sign the forged history (not the proposer in any round tried, or not two thirds)."""


@attrs.frozen
class SyncOutcome:
    """What a syncing node made of a history it was served: blocks applied, and the error that stopped it if any."""

    applied: int
    refused: PosError | None


def forge_history(genesis: PosGenesis, shared: Iterable[CertifiedBlock], keys: Sequence[KeyPair],
                  transactions: Iterable[Sequence[Transaction]], *, block_interval_ms: int = 1_000,
                  ) -> list[CertifiedBlock]:
    """An alternative history: the `shared` prefix of the real chain replayed, then one block per entry of
    `transactions`, each proposed by one of `keys` (in the first round where one is the proposer) and certified by
    the precommits of all of `keys` that validate at its height.

    Returns the forged blocks only (the prefix is the real chain's). ForkImpossible if `keys` do not hold more than
    two thirds of some height's validator set or never propose within MAX_ROUNDS rounds."""
    chain = Chain.start(genesis)
    for block, certificate in shared:
        chain.apply_synced(block, certificate)
    by_account = {key.public_key: key for key in keys}
    forged: list[CertifiedBlock] = []
    for contents in transactions:
        height = chain.height + 1
        validator_set = chain.validator_set(height)
        signers = [key for key in keys if key.public_key in validator_set]
        if not validator_set.has_quorum(sum(validator_set.power(key.public_key) for key in signers)):
            raise ForkImpossible(f"the keys hold no two-thirds quorum of height {height}")
        round_number = next((candidate for candidate in range(MAX_ROUNDS)
                             if chain.proposer(height, candidate) in by_account), None)
        if round_number is None:
            raise ForkImpossible(f"none of the keys proposes at height {height} within {MAX_ROUNDS} rounds")
        proposer = by_account[chain.proposer(height, round_number)]
        block = chain.build_block(proposer, round_number, chain.head.timestamp + block_interval_ms, contents)
        certificate = CommitCertificate.from_votes(
            Vote(PRECOMMIT, height, round_number, block.block_id, key.public_key).signed(key, chain.chain_id)
            for key in signers)
        chain.commit(block, certificate)
        forged.append((block, certificate))
    return forged


def serve_history(victim: Chain, history: Iterable[CertifiedBlock]) -> SyncOutcome:
    """Hand `victim` the blocks of `history` in height order, as block sync does with a peer's BlockResponses
    (`Chain.apply_synced`, the path of both a light node and a validator catching up); stop at the first refusal."""
    applied = 0
    for block, certificate in history:
        before = victim.height
        try:
            victim.apply_synced(block, certificate)
        except PosError as error:
            return SyncOutcome(applied, error)
        applied += victim.height - before
    return SyncOutcome(applied, None)


SPENDER, HOLDER = "a0", "a1"
"""The attacker validators of `LongRange`: the spender (its unbonded stake is spent twice) and the bulk holder."""
LATE_NODE = "n0"
"""The node `LongRange` has join late."""


@register
@attrs.frozen
class LongRange(Attack):
    """Validators that held more than two thirds at genesis unbond, then serve a late node a history they forged."""

    name = "long-range"
    lab = "pos"
    family = "byzantine"
    summary = (
        "Two attacker validators hold more than two thirds of the genesis stake (a1 alone more than two thirds once "
        "a0 is gone). Both unbond at the start; once a0's stake is released it pays it all to the first honest light "
        "node (the merchant) on the real chain. Then a node n0 joins with an empty store and syncs from genesis, and "
        "a1 serves it a history forged from genesis, certified by the old validators' keys (nothing left to slash), "
        "in which a0 unbonds and pays the same tokens to the attacker's sink instead. Defence: the operator hands "
        "n0 a checkpoint of an honest chain out of band (pos.checkpoints) and n0 refuses the fork at its height.")
    real_node = True
    real_node_act = True
    success = ("the late node adopts (syncs past the honest height it joined at) a chain in which a0's unbonded "
               "tokens went to the sink, while the real chain paid them to the merchant")
    defences = ("pos.checkpoints",)
    accounts = ("sink",)

    unbonding_delay: int = param(3, "blocks until unbonded stake is released (the scenario's, for this attack)",
                                 positive)
    join_at: float = param(9.0, "simulated second at which the late node joins", positive)
    settle: float = param(4.0, "simulated seconds the late node syncs before it is judged", positive)
    fee: int = param(1, "fee of each of the attacker's transactions", non_negative)
    serve_for: float = param(60.0, "real node only: seconds from join_at during which the forged history is served "
                                   "to every node that becomes this node's peer", positive)
    lead: int = param(30, "real node only: blocks the forged history runs past the honest height when it is forged "
                          "(nodes join later; the fork must reach the honest height they join at)", positive)

    def attacker_nodes(self) -> tuple[AttackerNode, ...]:
        """Two validators: the spender and the bulk of the old stake."""
        return (AttackerNode(SPENDER, "validator", "unbonds, pays the merchant, pays the sink in the fork"),
                AttackerNode(HOLDER, "validator", "unbonds, signs the forged history and serves it"))

    def scenario_changes(self) -> Mapping[str, object]:
        """A short unbonding delay (and evidence age within it) so stake is released within the run."""
        return {"unbonding_delay": self.unbonding_delay, "evidence_max_age": min(2, self.unbonding_delay)}

    def attacker_stakes(self, honest_stakes: Sequence[int]) -> Sequence[int] | None:
        """a0 bonds the smallest honest stake; a1 twice all honest stake plus one (above two thirds without a0)."""
        return (min(honest_stakes), 2 * sum(honest_stakes) + 1)

    def check_real_node(self) -> None:
        """Refuse what only the simulator does on a real node: the late node there is its operator's, so nothing to
        wait for it (``settle``); the red node process plays a1 and holds a0's key (``[behaviour_keys]``).

        :raises BadParameter: for a ``settle`` other than its default.
        """
        if self.settle != attrs.fields(LongRange).settle.default:
            msg = ("long-range: settle: a real node judges no late node (its operator starts it); on a real node the "
                   "forged history is served for serve_for seconds instead")
            raise BadParameter(msg)

    async def act(self, arena: Arena) -> None:
        """Unbond both, pay the merchant with a0's released stake, then fork from genesis for a late node (in the
        simulator) or for every node that becomes this node's peer (on a real node: ``_act_on_real_node``)."""
        if not arena.simulated():
            await self._act_on_real_node(arena)
            return
        spender, holder = arena.attacker_key(SPENDER), arena.attacker_key(HOLDER)
        # The honest chain as the first honest validator holds it: an unbonded validator is no longer sent Status.
        chain: Chain = arena.honest()[0].communities["pos"].chain
        genesis: PosGenesis = arena.attacker(SPENDER).communities["pos"].settings.genesis
        merchant = next(node for node in arena.honest() if node.role == "light")
        before = await self._unbond_and_pay(arena, chain, genesis, merchant.public_key,
                                            validator=arena.honest()[0].name, poll=0.25)
        honest_height = chain.height
        sink = arena.attacker_key("sink").public_key
        fork = self._fork(genesis, spender, holder, sink, honest_height + 2)
        late = await arena.join_late(LATE_NODE)
        arena.note("forged blocks served", arena.serve_blocks(HOLDER, LATE_NODE, fork))
        await arena.sleep(self.settle)
        late_chain: Chain = late.communities["pos"].chain
        checkpoint = late_chain.checkpoint
        arena.note("honest height when n0 joined", honest_height)
        arena.note("n0 checkpoint height", checkpoint.height if checkpoint is not None else None)
        arena.note("n0 height", late_chain.height)
        first = late_chain.block(1) if late_chain.height > 0 else None
        arena.note("n0 on the fork", first is not None and first.block_id == fork[0][0].block_id)
        arena.note("sink credited on n0's chain", late_chain.state.balance(sink))
        arena.note("merchant credited on n0's chain", late_chain.state.balance(merchant.public_key) - before)
        arena.note("n0 refused at the checkpoint", late.communities["pos"].drops.get(CheckpointMismatch.reason, 0))

    async def _unbond_and_pay(self, arena: Arena, chain: Chain, genesis: PosGenesis, merchant: bytes, *,
                              validator: str, poll: float, keep_up: Callable[[], None] = lambda: None) -> int:
        """Unbond a0 and a1 (through ``validator``), wait for a0's stake to be released on ``chain``, pay it all to
        ``merchant`` and wait until ``chain`` shows it paid, each wait looking every ``poll`` s (after ``keep_up()``)
        until ``join_at`` at most; then wait for ``join_at``. Returns the merchant's balance before the payment."""
        spender, holder = arena.attacker_key(SPENDER), arena.attacker_key(HOLDER)
        stakes = dict(genesis.stakes)
        amount = stakes[spender.public_key]
        for name, key in ((SPENDER, spender), (HOLDER, holder)):
            sent = await arena.send_transaction(name, sign_unbond(key, stakes[key.public_key], 0, self.fee), validator)
            arena.note(f"{name} unbond admitted", sent.accepted)
        while chain.state.balance(spender.public_key) < amount + self.fee and arena.now() < self.join_at:
            keep_up()
            await arena.sleep(poll)
        before = chain.state.balance(merchant)
        sent = await arena.send_transaction(SPENDER, sign_transfer(spender, merchant, amount, 1, self.fee), validator)
        arena.note("payment to the merchant admitted", sent.accepted)
        while chain.state.balance(merchant) < before + amount and arena.now() < self.join_at:
            keep_up()
            await arena.sleep(poll)
        arena.note("merchant paid on the real chain", chain.state.balance(merchant) - before)
        await arena.sleep(max(0.0, self.join_at - arena.now()))
        return before

    def _fork(self, genesis: PosGenesis, spender: KeyPair, holder: KeyPair, sink: bytes,
              top: int) -> list[CertifiedBlock]:
        """The forged history from genesis, signed by a0 and a1: a0 unbonds at height 1, pays its stake to the sink
        once it is released, then empty blocks up to height ``top``."""
        amount = dict(genesis.stakes)[spender.public_key]
        spend_height = genesis.params.unbonding_delay + 3
        contents = [[sign_unbond(spender, amount, 0, self.fee)], *([] for _ in range(spend_height - 2)),
                    [sign_transfer(spender, sink, amount, 1, self.fee)]]
        contents += [[] for _ in range(max(0, top - len(contents)))]
        return forge_history(genesis, (), [spender, holder], contents)

    async def _act_on_real_node(self, arena: Arena) -> None:
        """
        The act in the red node process that plays a1 and holds a0's key: it sees the real chain only through its own
        node, which, unbonded, is sent no more blocks, so it asks the first honest validator for them itself
        (``PosCommunity.request_blocks``, the documented BlockRequest). The merchant is the first honest validator
        (a real node knows only the genesis validators). At ``join_at`` it forges the history and then, for
        ``serve_for`` seconds, serves it unasked to every node that becomes its peer and is no genesis validator; the
        fork runs ``lead`` blocks past the honest height, since those nodes join later.
        """
        try:
            spender, holder = arena.attacker_key(SPENDER), arena.attacker_key(HOLDER)
            pos = arena.attacker(HOLDER).communities["pos"]
        except Exception as error:
            msg = (f'long-range on a real node: the process plays a1 and holds a0\'s key (behaviour_node = "a1", '
                   f'[behaviour_keys] a0 = "a0.key" in its config): {error}')
            raise BadParameter(msg) from None
        chain: Chain = pos.chain
        genesis: PosGenesis = pos.settings.genesis
        merchant = arena.honest()[0]

        def catch_up() -> None:
            peer = next((peer for peer in pos.get_peers()
                         if account_of(peer.public_key.key_to_bin()) == merchant.public_key), None)
            if peer is not None:
                pos.request_blocks(chain.height + 1, peer)

        await self._unbond_and_pay(arena, chain, genesis, merchant.public_key, validator=merchant.name, poll=0.5,
                                   keep_up=catch_up)
        for _ in range(4):  # the head as the validators have it now, a batch per request
            catch_up()
            await arena.sleep(0.5)
        honest_height = chain.height
        arena.note("honest height when the fork was forged", honest_height)
        sink = arena.attacker_key("sink").public_key
        fork = self._fork(genesis, spender, holder, sink, honest_height + self.lead)
        arena.note("forged blocks", len(fork))
        validators = set(dict(genesis.stakes))
        served: set[bytes] = set()
        deadline = arena.now() + self.serve_for
        while arena.now() < deadline:
            for peer in pos.get_peers():
                account = account_of(peer.public_key.key_to_bin())
                if account not in validators and account not in served:
                    served.add(account)
                    count = arena.serve_blocks(HOLDER, account.hex(), fork)
                    arena.note(f"forged history served to {account.hex()[:16]}", count)
            await arena.sleep(0.25)

    def judge(self, outcome: Outcome) -> AttackResult:
        """Stolen: the tokens the sink holds on the late node's chain, when that node synced past the honest height
        it joined at on the fork and the real chain had paid them to the merchant."""
        notes = outcome.notes
        on_fork = bool(notes.get("n0 on the fork"))
        adopted = on_fork and _number(notes.get("n0 height")) >= _number(notes.get("honest height when n0 joined"))
        stolen = min(_number(notes.get("sink credited on n0's chain")),
                     _number(notes.get("merchant paid on the real chain"))) if adopted else 0
        # Not the default's theft measures: a0 and a1 unbond, so their released stake shows as balance against a
        # replay in which it stays bonded; that is their own stake, not tokens stolen.
        verdict = super().judge(outcome)
        broken = tuple(dict.fromkeys((*verdict.broken, "agreement"))) if adopted else verdict.broken
        return attrs.evolve(verdict, succeeded=stolen > 0 or bool(broken), stolen=stolen,
                            broken=broken,
                            honest_effect={**verdict.honest_effect, "late node adopted the fork": adopted,
                                           "late node's height": notes.get("n0 height")})


def _number(value: object) -> int:
    """An int note (0 when missing)."""
    return value if isinstance(value, int) else 0
