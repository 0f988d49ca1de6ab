"""PoS attacks (a27_attacks.pos) against honest nodes, each with its defence off (the attack works) and on (it
fails): in memory on `MessageBus`, and the proposal equivocation once more between IPv8 communities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from ipv8.community import CommunitySettings
from ipv8.peer import Peer
from ipv8.test.base import TestBase
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_attacks.pos import (
    Coalition,
    CoalitionMember,
    ConflictingTransactions,
    ProposalEquivocation,
    VoteEquivocation,
    coalition_stakes,
    double_spend,
    safety_break_price,
    stolen_tokens,
)
from a27_ledger import KeyPair
from a27_ledger.testing import make_keys
from a27_pos import (
    NO_ROUND,
    PREVOTE,
    Chain,
    MessageBus,
    PosCommunity,
    PosDefences,
    PosSettings,
    Proposal,
    ProposalEvidence,
    Timeouts,
    ValidatorBehaviour,
    Vote,
    bonded_stake,
    make_engines,
    tombstone_height,
)
from a27_pos.testing import LoopClock, make_pos_genesis, make_validators

ATTACKER = 0
STAKE = 10_000
DEFENDED, UNDEFENDED = PosDefences(), PosDefences.none()
MERCHANTS = make_keys(2, seed=98)


def run(behaviours: Mapping[int, ValidatorBehaviour], defences: PosDefences, *, seed: int = 1,
        keys: Sequence[KeyPair] | None = None, stakes: Sequence[int] | int = STAKE, until: float = 20.0,
        submit: Sequence[tuple[object, Sequence[int]]] = ()) -> MessageBus:
    """Four validators of equal stake (or `keys` with `stakes`) for `until` simulated seconds."""
    if keys is None:
        keys, genesis = make_validators(4, stakes, seed=seed)
    else:
        genesis = make_pos_genesis(keys, stakes)
    bus = MessageBus(make_engines(keys, genesis, behaviours=behaviours, defences=defences), seed=seed)
    for transaction, nodes in submit:
        bus.submit(transaction, nodes)  # type: ignore[arg-type]
    bus.run(until)
    return bus


def honest_chains(bus: MessageBus) -> list[Chain]:
    return [bus.engines[index].chain for index in bus.honest]


def account(bus: MessageBus, index: int) -> bytes:
    key = bus.engines[index].key
    assert key is not None
    return key.public_key


def assert_safe(bus: MessageBus) -> None:
    """Honest nodes agree on every height and the supply invariant holds on each."""
    assert bus.finalized_conflicts() == []
    for chain in honest_chains(bus):
        chain.check_invariants()


# Vote equivocation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_vote_equivocation_is_slashed_with_vote_evidence_and_free_without(seed: int) -> None:
    defended = run({ATTACKER: VoteEquivocation()}, DEFENDED, seed=seed)
    undefended = run({ATTACKER: VoteEquivocation()}, UNDEFENDED, seed=seed)
    offender = account(defended, ATTACKER)
    for bus in (defended, undefended):
        assert_safe(bus)
        assert bus.min_height() >= 10
    for chain in honest_chains(defended):
        assert bonded_stake(chain.state, offender) == STAKE - 1_000
        assert chain.state.store.meta().burned == 1_000
        assert tombstone_height(chain.state, offender) is not None
        assert offender not in chain.validator_set(chain.height + 1)
    for chain in honest_chains(undefended):
        assert bonded_stake(chain.state, offender) == STAKE
        assert chain.state.store.meta().burned == 0
        assert offender in chain.validator_set(chain.height + 1)
    assert defended.evidence_found and not undefended.evidence_found


@pytest.mark.parametrize("seed", [1, 2])
def test_a_split_vote_equivocation_is_caught_by_relaying_divergent_votes_and_free_without(seed: int) -> None:
    defended = run({ATTACKER: VoteEquivocation(split=True)}, DEFENDED, seed=seed)
    offender = account(defended, ATTACKER)
    for chain in honest_chains(defended):
        assert bonded_stake(chain.state, offender) == STAKE - 1_000
        assert offender not in chain.validator_set(chain.height + 1)
    assert defended.evidence_found
    # Without the relay no honest node receives both votes: vote evidence alone cannot see the split.
    for defences in (PosDefences(vote_relay=False), UNDEFENDED):
        attacker = VoteEquivocation(split=True)
        undefended = run({ATTACKER: attacker}, defences, seed=seed)
        assert attacker.twins_signed > 0 and not undefended.evidence_found
        for chain in honest_chains(undefended):
            assert bonded_stake(chain.state, offender) == STAKE and chain.store.evidence(offender) == []
            assert offender in chain.validator_set(chain.height + 1)
    for bus in (defended, undefended):
        assert_safe(bus)
        assert bus.min_height() >= 10


# Proposal equivocation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_proposal_equivocation_is_slashed_with_proposal_evidence_and_free_without(seed: int) -> None:
    defended_attacker, undefended_attacker = ProposalEquivocation(), ProposalEquivocation()
    defended = run({ATTACKER: defended_attacker}, DEFENDED, seed=seed)
    undefended = run({ATTACKER: undefended_attacker}, UNDEFENDED, seed=seed)
    offender = account(defended, ATTACKER)
    for bus in (defended, undefended):
        assert_safe(bus)
    for chain in honest_chains(defended):
        [(_, evidence)] = chain.store.evidence(offender)
        assert isinstance(evidence, ProposalEvidence)
        assert bonded_stake(chain.state, offender) == STAKE - 1_000
        assert offender not in chain.validator_set(chain.height + 1)
    assert {type(evidence) for _, evidence in defended.evidence_found} == {ProposalEvidence}
    # Slashed after its first split, it never proposed again; undefended, it splits every round it proposes.
    assert defended_attacker.twins_signed == 1 and undefended_attacker.twins_signed >= 2
    for chain in honest_chains(undefended):
        assert bonded_stake(chain.state, offender) == STAKE and chain.store.evidence(offender) == []
        assert offender in chain.validator_set(chain.height + 1)


# Conflicting transactions ---------------------------------------------------------------------------------------


def test_a_proposer_double_spending_in_its_own_block_steals_nothing_and_the_chain_goes_on() -> None:
    keys, _ = make_validators(4, seed=3)
    spend = double_spend(keys[ATTACKER], [merchant.public_key for merchant in MERCHANTS], 500_000, 0)
    bus = run({ATTACKER: ConflictingTransactions(spend)}, DEFENDED, seed=3)
    assert stolen_tokens(honest_chains(bus), spend) == 0
    assert_safe(bus)
    assert bus.min_height() >= 10
    assert sum(count for (index, name), count in bus.rejections.items()
               if index != ATTACKER and name == "InvalidBlock") > 0


def test_without_the_transaction_check_honest_nodes_certify_the_double_spend_and_the_chain_halts() -> None:
    keys, _ = make_validators(4, seed=3)
    spend = double_spend(keys[ATTACKER], [merchant.public_key for merchant in MERCHANTS], 500_000, 0)
    bus = run({ATTACKER: ConflictingTransactions(spend)}, PosDefences(check_block_transactions=False), seed=3)
    # Nothing credited twice (the ledger checks when it applies), but availability is gone: the attacker's first
    # block got a certificate no node can apply, and no height follows it.
    assert stolen_tokens(honest_chains(bus), spend) == 0
    assert_safe(bus)
    stuck = bus.min_height()
    assert stuck <= 2
    bus.run(40.0)
    assert max(engine.chain.height for engine in bus.engines) == stuck


@pytest.mark.parametrize("defences", [DEFENDED, UNDEFENDED], ids=["defended", "undefended"])
def test_a_double_spend_through_two_validators_at_once_credits_one_payee(defences: PosDefences) -> None:
    keys, _ = make_validators(4, seed=4)
    spender = keys[3]
    spend = double_spend(spender, [merchant.public_key for merchant in MERCHANTS], 500_000, 0)
    bus = run({}, defences, seed=4, submit=[(spend[0], [0, 1]), (spend[1], [2, 3])])
    assert stolen_tokens(honest_chains(bus), spend) == 0
    assert_safe(bus)
    paid = [[chain.state.balance(merchant.public_key) for merchant in MERCHANTS] for chain in honest_chains(bus)]
    assert all(sorted(balances) == [0, 500_000] for balances in paid) and len({tuple(row) for row in paid}) == 1


# Coalition double-signing ---------------------------------------------------------------------------------------

MEMBERS, HONEST = 2, 4


def coalition_run(share: float, seed: int, defences: PosDefences = DEFENDED) -> tuple[MessageBus, list]:
    """A coalition of MEMBERS validators holding `share` of the stake double-signs; the double spend pays merchant
    0 in the real block (side A: honest validators 2, 3) and merchant 1 in its twin (side B: 4, 5)."""
    keys = make_keys(MEMBERS + HONEST, seed=seed)
    side_b = set(range(MEMBERS + HONEST // 2, MEMBERS + HONEST))
    spend = double_spend(keys[0], [merchant.public_key for merchant in MERCHANTS], 500_000, 0)
    coalition = Coalition(on_side_b=lambda recipient: recipient in side_b, twin_transactions=[spend[1]])
    bus = run({index: CoalitionMember(coalition) for index in range(MEMBERS)}, defences, seed=seed, keys=keys,
              stakes=coalition_stakes(share, MEMBERS, HONEST), submit=[(spend[0], range(MEMBERS))])
    return bus, spend


@pytest.mark.parametrize("share", [0.25, 0.33])
@pytest.mark.parametrize("defences", [DEFENDED, UNDEFENDED], ids=["defended", "undefended"])
def test_a_coalition_below_a_third_finalizes_no_conflicting_blocks(share: float, defences: PosDefences) -> None:
    for seed in (1, 2, 3):
        bus, spend = coalition_run(share, seed, defences)
        assert_safe(bus)
        assert bus.min_height() >= 10
        assert stolen_tokens(honest_chains(bus), spend) == 0


@pytest.mark.parametrize("share", [0.34, 0.5])
def test_a_coalition_above_a_third_breaks_safety_and_pays_for_it_in_provable_stake(share: float) -> None:
    bus, spend = coalition_run(share, seed=1)
    [(height, _)] = bus.finalized_conflicts()[:1]
    side_a, side_b = bus.engines[MEMBERS].chain, bus.engines[MEMBERS + HONEST - 1].chain
    assert stolen_tokens([side_a, side_b], spend) == 500_000
    first, second = side_a.certificate(height), side_b.certificate(height)
    assert first is not None and second is not None
    price = safety_break_price(side_a, first, second)
    members = {account(bus, index) for index in range(MEMBERS)}
    assert set(price.offenders) == members and price.height == height
    total = sum(coalition_stakes(share, MEMBERS, HONEST))
    member_stakes = coalition_stakes(share, MEMBERS, HONEST)[:MEMBERS]
    assert price.offender_stake == sum(member_stakes) > total / 3
    assert price.slashed_stake == sum(stake * 10 // 100 for stake in member_stakes)
    for evidence in price.evidence:
        evidence.verify(side_a.chain_id)


@pytest.mark.parametrize("share", [0.34, 0.4, 0.5])
def test_a_coalition_above_a_third_is_slashed_once_the_conflicting_commit_is_learned(share: float) -> None:
    bus, _ = coalition_run(share, seed=1)
    [(height, _)] = bus.finalized_conflicts()[:1]
    stakes = coalition_stakes(share, MEMBERS, HONEST)
    members = [account(bus, index) for index in range(MEMBERS)]
    side_a, side_b = range(MEMBERS, MEMBERS + HONEST // 2), range(MEMBERS + HONEST // 2, MEMBERS + HONEST)
    # Side B learned side A's block through the next height's proposals (their last commit) and holds evidence
    # against every double signer; side A, which goes on, got it by gossip and slashed them by slash_percent.
    for index in side_b:
        assert {evidence.offender for evidence in bus.engines[index].pending_evidence.values()} == set(members)
    for index in side_a:
        chain = bus.engines[index].chain
        assert chain.height > height
        assert chain.state.store.meta().burned == sum(stake * 10 // 100 for stake in stakes[:MEMBERS])
        for member, stake in zip(members, stakes, strict=False):
            assert bonded_stake(chain.state, member) == stake - stake * 10 // 100
            assert tombstone_height(chain.state, member) is not None
    for index in bus.honest:
        chain = bus.engines[index].chain
        for honest in range(MEMBERS, MEMBERS + HONEST):
            assert bonded_stake(chain.state, account(bus, honest)) == stakes[honest]
            assert tombstone_height(chain.state, account(bus, honest)) is None


def test_a_block_first_proposed_before_the_split_is_never_twinned() -> None:
    # A twin vote for a block whose twin proposal side B never got splits nothing: it only shows side B (which
    # holds the real proposal and relays the real votes) a member's two prevotes, so that member alone is slashed.
    keys, genesis = make_validators(MEMBERS + HONEST, seed=1)
    engine = make_engines(keys, genesis)[0]
    side_b: set[int] = set()
    member = CoalitionMember(Coalition(on_side_b=lambda recipient: recipient in side_b))
    recipients = list(range(1, MEMBERS + HONEST))
    key, chain_id = keys[0], engine.chain.chain_id

    def proposal(timestamp: int) -> Proposal:
        return Proposal.create(key, chain_id, 0, NO_ROUND, engine.chain.build_block(key, 0, timestamp))

    def prevote(block: Proposal) -> Vote:
        return Vote(PREVOTE, 1, 0, block.block.block_id, key.public_key).signed(key, chain_id)

    early = proposal(1_000)
    assert member.outgoing(engine, early, recipients) == [(early, recipients)]
    side_b.update(range(MEMBERS + HONEST // 2, MEMBERS + HONEST))
    assert member.outgoing(engine, early, recipients) == [(early, recipients)]
    vote = prevote(early)
    assert member.outgoing(engine, vote, recipients) == [(vote, recipients)]
    # A block proposed after the split is twinned, and so are the votes for it.
    late = proposal(2_000)
    [(real, side_a), (twin, twin_side)] = member.outgoing(engine, late, recipients)
    assert real == late and isinstance(twin, Proposal) and twin.block.block_id != late.block.block_id
    assert side_a == [1, 2, 3] and twin_side == [4, 5]
    [(_, _), (twin_vote, _)] = member.outgoing(engine, prevote(late), recipients)
    assert isinstance(twin_vote, Vote) and twin_vote.block_id == twin.block.block_id


def test_a_coalition_that_splits_after_its_first_proposal_is_slashed_in_full() -> None:
    # As in a simulated run: side B is chosen once the nodes started, after a member's first proposal went out to
    # every validator. Every member that signed both certificates is slashed on the side that goes on, not only one.
    keys = make_keys(MEMBERS + HONEST, seed=1)
    side_b: set[int] = set()
    coalition = Coalition(on_side_b=lambda recipient: recipient in side_b)
    engines = make_engines(keys, make_pos_genesis(keys, coalition_stakes(0.4, MEMBERS, HONEST)),
                           behaviours={index: CoalitionMember(coalition) for index in range(MEMBERS)})
    bus = MessageBus(engines, seed=1)
    bus.at(0.0, lambda: side_b.update(range(MEMBERS + HONEST // 2, MEMBERS + HONEST)))
    bus.run(20.0)
    [(height, _)] = bus.finalized_conflicts()[:1]
    members = [account(bus, index) for index in range(MEMBERS)]
    for index in range(MEMBERS, MEMBERS + HONEST // 2):
        chain = bus.engines[index].chain
        assert chain.height > height
        assert [tombstone_height(chain.state, member) for member in members] == [height] * MEMBERS


def test_without_vote_evidence_a_conflicting_commit_slashes_no_one() -> None:
    bus, _ = coalition_run(0.4, seed=1, defences=PosDefences(vote_evidence=False))
    assert bus.finalized_conflicts()
    for index in bus.honest:
        assert bus.engines[index].chain.state.store.meta().burned == 0
        assert not bus.engines[index].pending_evidence


def test_coalition_stakes_give_the_share_asked() -> None:
    stakes = coalition_stakes(0.4, 2, 4)
    assert abs(sum(stakes[:2]) / sum(stakes) - 0.4) < 1e-4
    with pytest.raises(ValueError, match="share"):
        coalition_stakes(1.0, 2, 4)


# Between IPv8 communities ---------------------------------------------------------------------------------------

FAST = Timeouts(propose=0.3, prevote=0.1, precommit=0.1, increment=0.05, commit=0.05, gossip=0.2)


class ProposalEquivocationOverIPv8(TestBase[PosCommunity]):
    """Four validators of equal stake on IPv8's test network; validator 0 signs two proposals per round it leads."""

    defences = DEFENDED

    def setUp(self) -> None:
        self.clock = LoopClock(0.0)
        super().setUp()
        self.keys = make_keys(4, seed=77)
        self.genesis = make_pos_genesis(self.keys, [STAKE] * 4, balance=1_000)
        self.attacker = ProposalEquivocation()
        self._unbuilt = list(self.keys)
        self.initialize(PosCommunity, 4)

    def create_node(self, settings: CommunitySettings | None = None, create_dht: bool = False,
                    enable_statistics: bool = False) -> MockIPv8:
        index = len(self.keys) - len(self._unbuilt)
        key = self._unbuilt.pop(0)
        node = PosSettings(genesis=self.genesis, timeouts=FAST, status_interval=0.1, retry_interval=0.2,
                           clock=self.clock, defences=self.defences)
        if index == ATTACKER:
            node.behaviour = self.attacker
        return MockIPv8(Peer(key.ipv8_key()), PosCommunity, node)

    async def run_until_height(self, height: int, timeout: float = 30.0) -> None:
        waited = 0.0
        while min(self.overlay(index).chain.height for index in range(1, 4)) < height:
            self.assertLess(waited, timeout, "the honest validators did not reach the height in time")
            await self.deliver_messages(0.05)
            waited += 0.05


class TestProposalEquivocationDefended(ProposalEquivocationOverIPv8):
    async def test_the_proposer_is_caught_over_the_wire_and_slashed_on_every_honest_node(self) -> None:
        offender = self.keys[ATTACKER].public_key
        await self.run_until_height(8)
        self.assertGreaterEqual(self.attacker.twins_signed, 1)
        self.assertTrue(any(self.overlay(index).stats["evidence found"] for index in range(1, 4)))
        for index in range(1, 4):
            chain = self.overlay(index).chain
            [(_, evidence)] = chain.store.evidence(offender)
            self.assertIsInstance(evidence, ProposalEvidence)
            self.assertEqual(STAKE - 1_000, bonded_stake(chain.state, offender))
            chain.check_invariants()
        self.assertEqual(1, len({self.overlay(index).chain.block(8).block_id for index in range(1, 4)}))


class TestProposalEquivocationUndefended(ProposalEquivocationOverIPv8):
    defences = UNDEFENDED

    async def test_the_proposer_keeps_its_stake_and_keeps_splitting(self) -> None:
        offender = self.keys[ATTACKER].public_key
        await self.run_until_height(8)
        self.assertGreaterEqual(self.attacker.twins_signed, 2)
        for index in range(1, 4):
            chain = self.overlay(index).chain
            self.assertEqual(STAKE, bonded_stake(chain.state, offender))
            self.assertEqual([], chain.store.evidence(offender))
