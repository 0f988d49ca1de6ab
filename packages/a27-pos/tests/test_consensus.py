"""The consensus engine, driven message by message with crafted input."""

from __future__ import annotations

from functools import partial

import attrs
import pytest
from byzantine import Equivocate, Silent

from a27_ledger import KeyPair, sign_transfer
from a27_pos import (
    NIL,
    NO_ROUND,
    PRECOMMIT,
    PREVOTE,
    BadMerkleRoot,
    Block,
    Chain,
    Committed,
    ConflictingProposal,
    ConsensusEngine,
    Evidence,
    EvidenceFound,
    FutureMessage,
    InvalidCertificate,
    InvalidEvidence,
    InvalidSignature,
    NotAValidator,
    PosDefences,
    PosParams,
    Proposal,
    RefusedInput,
    RequestSync,
    ScheduleTimeout,
    SendToValidators,
    ServeSync,
    StaleMessage,
    Step,
    Timeouts,
    Vote,
    WrongProposer,
    bonded_stake,
    tombstone_height,
)
from a27_pos.behaviour import ValidatorBehaviour
from a27_pos.block import BLOCK_DOMAIN
from a27_pos.consensus import Action
from a27_pos.inmemory import MessageBus, make_engines
from a27_pos.testing import certify, extend, make_validators

KEYS, GENESIS = make_validators(4, seed=51)
CHAIN_ID = GENESIS.chain_id
STRANGER = KeyPair.from_seed(b"\x66" * 32)
NOW = 10.0


def key_of(account: bytes) -> KeyPair:
    return next(key for key in KEYS if key.public_key == account)


def proposer(height: int, round_number: int) -> KeyPair:
    return key_of(Chain.start(GENESIS).proposer(height, round_number))


def engine_of(key: KeyPair | None) -> ConsensusEngine:
    return ConsensusEngine(key, Chain.start(GENESIS), timeouts=Timeouts(commit=0.0))


def follower() -> ConsensusEngine:
    """An engine of a validator that does not propose at height 1, round 0."""
    return engine_of(next(key for key in KEYS if key is not proposer(1, 0)))


def vote(key: KeyPair, vote_type: int, block_id: bytes, height: int = 1, round_number: int = 0) -> Vote:
    return Vote(vote_type, height, round_number, block_id, key.public_key).signed(key, CHAIN_ID)


def proposal(engine: ConsensusEngine, round_number: int = 0, pol_round: int = NO_ROUND,
             block: Block | None = None, signer: KeyPair | None = None) -> Proposal:
    key = key_of(engine.chain.proposer(engine.height, round_number))
    if block is None:
        block = engine.chain.build_block(key, round_number, int(NOW * 1000))
    return Proposal.create(signer or key, CHAIN_ID, round_number, pol_round, block)


def broadcasts(actions: list[Action]) -> list[object]:
    return [action.message for action in actions if isinstance(action, SendToValidators)]


def rejected(actions: list[Action]) -> list[type]:
    return [type(action.error) for action in actions if isinstance(action, RefusedInput)]


def others(engine: ConsensusEngine) -> list[KeyPair]:
    return [key for key in KEYS if key is not engine.key]


def test_the_proposer_proposes_and_the_others_wait() -> None:
    engine = engine_of(proposer(1, 0))
    actions = engine.start(NOW)
    [sent] = [message for message in broadcasts(actions) if isinstance(message, Proposal)]
    assert sent.round == 0 and sent.pol_round == NO_ROUND
    sent.verify(CHAIN_ID)
    assert vote(engine.key, PREVOTE, sent.block.block_id) in broadcasts(actions)  # type: ignore[arg-type]
    waiting = follower()
    assert ScheduleTimeout(1.0, 1, 0, "propose") in waiting.start(NOW)
    assert waiting.step == Step.PROPOSE
    with pytest.raises(RuntimeError):
        waiting.start(NOW)


def test_a_height_from_proposal_to_commit() -> None:
    engine = follower()
    engine.start(NOW)
    offer = proposal(engine)
    block_id = offer.block.block_id
    assert broadcasts(engine.on_proposal(offer, NOW)) == [vote(engine.key, PREVOTE, block_id)]  # type: ignore[arg-type]
    assert engine.step == Step.PREVOTE
    voters = others(engine)
    assert broadcasts(engine.on_vote(vote(voters[0], PREVOTE, block_id), NOW)) == []
    actions = engine.on_vote(vote(voters[1], PREVOTE, block_id), NOW)
    assert broadcasts(actions) == [vote(engine.key, PRECOMMIT, block_id)]  # type: ignore[arg-type]
    assert engine.locked_round == 0 and engine.valid_round == 0
    engine.on_vote(vote(voters[0], PRECOMMIT, block_id), NOW)
    actions = engine.on_vote(vote(voters[1], PRECOMMIT, block_id), NOW)
    [committed] = [action for action in actions if isinstance(action, Committed)]
    assert committed.block == offer.block
    assert set(committed.certificate.signers) == {engine.key.public_key, voters[0].public_key,  # type: ignore[union-attr]
                                                  voters[1].public_key}
    assert engine.chain.height == 1 and engine.height == 2 and engine.round == 0
    engine.chain.check_invariants()


def test_the_propose_timeout_prevotes_nil_and_rounds_advance_on_timeouts() -> None:
    engine = follower()
    engine.start(NOW)
    actions = engine.on_timeout(ScheduleTimeout(1.0, 1, 0, "propose"), NOW)
    assert broadcasts(actions) == [vote(engine.key, PREVOTE, NIL)]  # type: ignore[arg-type]
    voters = others(engine)
    engine.on_vote(vote(voters[0], PREVOTE, bytes([5]) * 32), NOW)
    actions = engine.on_vote(vote(voters[1], PREVOTE, bytes([6]) * 32), NOW)
    assert ScheduleTimeout(0.5, 1, 0, "prevote") in actions
    actions = engine.on_timeout(ScheduleTimeout(0.5, 1, 0, "prevote"), NOW)
    assert broadcasts(actions) == [vote(engine.key, PRECOMMIT, NIL)]  # type: ignore[arg-type]
    actions = engine.on_timeout(ScheduleTimeout(0.5, 1, 0, "precommit"), NOW)
    assert engine.round == 1
    resent = broadcasts(actions)
    assert vote(engine.key, PREVOTE, NIL) in resent and vote(engine.key, PRECOMMIT, NIL) in resent  # type: ignore[arg-type]
    assert ScheduleTimeout(1.25, 1, 1, "propose") in actions or engine.step == Step.PROPOSE
    assert engine.on_timeout(ScheduleTimeout(1.0, 1, 0, "propose"), NOW) == []


def test_nil_polka_precommits_nil() -> None:
    engine = follower()
    engine.start(NOW)
    engine.on_timeout(ScheduleTimeout(1.0, 1, 0, "propose"), NOW)
    voters = others(engine)
    engine.on_vote(vote(voters[0], PREVOTE, NIL), NOW)
    actions = engine.on_vote(vote(voters[1], PREVOTE, NIL), NOW)
    assert vote(engine.key, PRECOMMIT, NIL) in broadcasts(actions)  # type: ignore[arg-type]
    assert engine.step == Step.PRECOMMIT


def test_f_plus_one_of_a_later_round_moves_the_node_there() -> None:
    engine = follower()
    engine.start(NOW)
    voters = others(engine)
    engine.on_vote(vote(voters[0], PREVOTE, NIL, round_number=3), NOW)
    assert engine.round == 0
    engine.on_vote(vote(voters[1], PREVOTE, NIL, round_number=3), NOW)
    assert engine.round == 3


def locked_engine() -> tuple[ConsensusEngine, Block]:
    """An engine locked on round 0's block, in round 1 after everyone else precommitted nil."""
    engine = follower()
    engine.start(NOW)
    first = proposal(engine)
    engine.on_proposal(first, NOW)
    for voter in others(engine)[:2]:
        engine.on_vote(vote(voter, PREVOTE, first.block.block_id), NOW)
    assert (engine.locked_block, engine.locked_round) == (first.block, 0)
    for voter in others(engine):
        engine.on_vote(vote(voter, PRECOMMIT, NIL), NOW)
    engine.on_timeout(ScheduleTimeout(0.5, 1, 0, "precommit"), NOW)
    assert engine.round == 1 and engine.chain.height == 0
    return engine, first.block


def round_one_block(engine: ConsensusEngine) -> Block:
    key = proposer(1, 1)
    assert key is not engine.key
    return engine.chain.build_block(key, 1, int(NOW * 1000) + 7)


def test_a_locked_node_prevotes_nil_for_another_block_until_a_polka_for_it() -> None:
    engine, _ = locked_engine()
    other_block = round_one_block(engine)
    offer = Proposal.create(proposer(1, 1), CHAIN_ID, 1, NO_ROUND, other_block)
    assert broadcasts(engine.on_proposal(offer, NOW)) == [vote(engine.key, PREVOTE, NIL, round_number=1)]  # type: ignore[arg-type]
    actions: list[Action] = []
    for voter in others(engine):
        actions += engine.on_vote(vote(voter, PREVOTE, other_block.block_id, round_number=1), NOW)
    assert (engine.locked_block, engine.locked_round) == (other_block, 1)
    assert vote(engine.key, PRECOMMIT, other_block.block_id, round_number=1) in broadcasts(actions)  # type: ignore[arg-type]


def test_a_proof_of_lock_from_a_later_round_unlocks() -> None:
    engine, _ = locked_engine()
    other_block = round_one_block(engine)
    for voter in others(engine):
        engine.on_vote(vote(voter, PREVOTE, other_block.block_id, round_number=1), NOW)
    engine.on_timeout(ScheduleTimeout(0.75, 1, 1, "precommit"), NOW)
    assert engine.round == 2
    round_two = proposer(1, 2)
    assert round_two is not engine.key
    justified = Proposal.create(round_two, CHAIN_ID, 2, 1, other_block)
    assert broadcasts(engine.on_proposal(justified, NOW)) == [
        vote(engine.key, PREVOTE, other_block.block_id, round_number=2)]  # type: ignore[arg-type]


def test_a_proof_of_lock_without_its_polka_waits() -> None:
    engine, first = locked_engine()
    engine.on_timeout(ScheduleTimeout(0.75, 1, 1, "precommit"), NOW)
    round_two = proposer(1, 2)
    other_block = round_one_block(engine)
    for voter in others(engine):
        engine.on_vote(vote(voter, PREVOTE, other_block.block_id, round_number=0), NOW)
    stale_proof = Proposal.create(round_two, CHAIN_ID, 2, 0, engine.chain.build_block(round_two, 2, 99_999))
    assert first.block_id != stale_proof.block.block_id
    assert broadcasts(engine.on_proposal(stale_proof, NOW)) == []
    assert engine.step == Step.PROPOSE


def test_equivocation_is_detected_reported_and_proposed() -> None:
    engine = follower()
    engine.start(NOW)
    offender = others(engine)[0]
    engine.on_vote(vote(offender, PREVOTE, bytes([1]) * 32), NOW)
    actions = engine.on_vote(vote(offender, PREVOTE, NIL), NOW)
    evidence = Evidence.from_votes(vote(offender, PREVOTE, bytes([1]) * 32), vote(offender, PREVOTE, NIL))
    assert EvidenceFound(evidence) in actions and SendToValidators(evidence) in actions
    assert engine.pending_evidence == {evidence.evidence_id: evidence}
    assert engine.on_vote(vote(offender, PREVOTE, NIL), NOW) == []
    assert engine.on_evidence(evidence, NOW) == []


def test_gossiped_evidence_waits_for_a_block_unless_invalid() -> None:
    engine = follower()
    offender = others(engine)[0]
    evidence = Evidence.from_votes(vote(offender, PREVOTE, NIL), vote(offender, PREVOTE, bytes([2]) * 32))
    assert rejected(engine.on_evidence(evidence, NOW)) == [InvalidEvidence]
    assert engine.pending_evidence == {}


def test_the_proposer_includes_pending_evidence() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, KEYS)
    engine = ConsensusEngine(key_of(chain.proposer(2, 0)), chain)
    offender = next(key for key in KEYS if key is not engine.key)
    evidence = Evidence.from_votes(vote(offender, PREVOTE, NIL), vote(offender, PREVOTE, bytes([2]) * 32))
    assert engine.on_evidence(evidence, NOW) == []
    [sent] = [message for message in broadcasts(engine.start(NOW)) if isinstance(message, Proposal)]
    assert sent.block.evidence == (evidence,)


BAD_PROPOSALS = [
    ("wrong proposer", lambda engine: Proposal.create(STRANGER, CHAIN_ID, 0, NO_ROUND, proposal(engine).block),
     WrongProposer),
    ("forged proposal signature", lambda engine: attrs.evolve(proposal(engine), signature=bytes(64)),
     InvalidSignature),
    ("block signed by someone else", lambda engine: proposal(engine, block=attrs.evolve(
        proposal(engine).block, signature=STRANGER.sign(b"x"))), InvalidSignature),
    ("bad merkle root", lambda engine: proposal(engine, block=_with_header(proposal(engine).block, engine,
                                                                            tx_root=bytes(32))), BadMerkleRoot),
    ("block from a later round", lambda engine: proposal(engine, block=_with_header(proposal(engine).block, engine,
                                                                                     round=1)), WrongProposer),
]


def _with_header(block: Block, engine: ConsensusEngine, **changes: object) -> Block:
    header = attrs.evolve(block.header, **changes)
    key = key_of(block.proposer)
    return attrs.evolve(block, header=header, signature=key.sign(BLOCK_DOMAIN + header.encode()))


@pytest.mark.parametrize(("case", "make", "error"), BAD_PROPOSALS, ids=[case[0] for case in BAD_PROPOSALS])
def test_bad_proposals_are_rejected_and_change_nothing(case: str, make: object, error: type) -> None:
    engine = follower()
    engine.start(NOW)
    before = engine.chain.state.snapshot().digest()
    actions = engine.on_proposal(make(engine), NOW)  # type: ignore[operator]
    assert error in rejected(actions)
    assert not any(isinstance(message, Vote) and not message.is_nil for message in broadcasts(actions))
    assert engine.chain.state.snapshot().digest() == before
    assert engine.height == 1


def test_an_invalid_proposal_gets_a_nil_prevote() -> None:
    engine = follower()
    engine.start(NOW)
    bad = proposal(engine, block=_with_header(proposal(engine).block, engine, tx_root=bytes(32)))
    assert broadcasts(engine.on_proposal(bad, NOW)) == [vote(engine.key, PREVOTE, NIL)]  # type: ignore[arg-type]


def test_a_bad_parent_certificate_is_rejected() -> None:
    chain = Chain.start(GENESIS)
    first = extend(chain, KEYS)
    engine = ConsensusEngine(next(key for key in KEYS if key.public_key != chain.proposer(2, 0)), chain)
    engine.start(NOW)
    key = key_of(chain.proposer(2, 0))
    block = Block.build(key, chain_id=CHAIN_ID, height=2, round=0, timestamp=int(NOW * 1000),
                        parent_id=first.block_id, last_commit=certify(first, KEYS[:2]))
    assert InvalidCertificate in rejected(engine.on_proposal(Proposal.create(key, CHAIN_ID, 0, NO_ROUND, block), NOW))


def test_second_proposal_for_a_round_is_refused() -> None:
    engine = follower()
    engine.start(NOW)
    first = proposal(engine)
    engine.on_proposal(first, NOW)
    key = key_of(first.proposer)
    second = Proposal.create(key, CHAIN_ID, 0, NO_ROUND, engine.chain.build_block(key, 0, int(NOW * 1000) + 1))
    assert rejected(engine.on_proposal(second, NOW)) == [ConflictingProposal]
    assert engine.on_proposal(first, NOW) == []


def test_bad_votes_are_rejected_and_not_counted() -> None:
    engine = follower()
    engine.start(NOW)
    voter = others(engine)[0]
    assert rejected(engine.on_vote(vote(STRANGER, PREVOTE, NIL), NOW)) == [NotAValidator]
    assert rejected(engine.on_vote(attrs.evolve(vote(voter, PREVOTE, NIL), signature=bytes(64)), NOW)) == [
        InvalidSignature]
    assert rejected(engine.on_vote(vote(voter, PREVOTE, NIL, round_number=101), NOW)) == [FutureMessage]
    assert engine._vote_set(0, PREVOTE).power == 0


def test_future_heights_are_buffered_or_refused_and_stale_ones_ignored() -> None:
    engine = follower()
    engine.start(NOW)
    voter = others(engine)[0]
    actions = engine.on_vote(vote(voter, PREVOTE, NIL, height=2), NOW)
    assert actions == [RequestSync(1)]
    assert rejected(engine.on_vote(vote(voter, PREVOTE, NIL, height=4), NOW)) == [FutureMessage]
    small = ConsensusEngine(voter, Chain.start(GENESIS), max_buffered=1)
    small.start(NOW)
    small.on_vote(vote(KEYS[0], PREVOTE, NIL, height=2), NOW)
    assert rejected(small.on_vote(vote(KEYS[1], PREVOTE, NIL, height=2), NOW)) == [FutureMessage]
    chain = Chain.start(GENESIS)
    extend(chain, KEYS)
    ahead = ConsensusEngine(voter, chain)
    assert rejected(ahead.on_vote(vote(KEYS[0], PREVOTE, NIL, height=1), NOW)) == [StaleMessage]


def test_buffered_messages_are_replayed_at_their_height() -> None:
    engine = follower()
    engine.start(NOW)
    source = Chain.start(GENESIS)
    first = extend(source, KEYS)
    voters = others(engine)
    for voter in voters[:2]:
        engine.on_vote(vote(voter, PREVOTE, NIL, height=2, round_number=5), NOW)
    actions = engine.on_decided_block(first, source.certificate(1), NOW)  # type: ignore[arg-type]
    assert [action for action in actions if isinstance(action, Committed)]
    assert engine.height == 2 and engine.round == 5


def test_sync_rejects_bad_certificates_and_future_blocks() -> None:
    engine = follower()
    engine.start(NOW)
    source = Chain.start(GENESIS)
    first = extend(source, KEYS)
    second = extend(source, KEYS)
    assert rejected(engine.on_decided_block(second, source.certificate(2), NOW)) == [FutureMessage]  # type: ignore[arg-type]
    assert rejected(engine.on_decided_block(first, certify(first, KEYS[:1]), NOW)) == [InvalidCertificate]
    assert engine.chain.height == 0


def test_an_observer_follows_without_voting() -> None:
    engine = engine_of(None)
    assert not engine.is_validator
    actions = engine.start(NOW)
    assert broadcasts(actions) == []
    offer = proposal(engine)
    assert broadcasts(engine.on_proposal(offer, NOW)) == []
    for key in KEYS[:3]:
        actions = engine.on_vote(vote(key, PRECOMMIT, offer.block.block_id), NOW)
    assert [action.block for action in actions if isinstance(action, Committed)] == [offer.block]


def test_precommits_for_an_unknown_block_ask_for_sync() -> None:
    engine = follower()
    engine.start(NOW)
    actions: list[Action] = []
    for key in others(engine):
        actions += engine.on_vote(vote(key, PRECOMMIT, bytes([8]) * 32), NOW)
    assert RequestSync(1) in actions
    assert engine.chain.height == 0


def test_transactions_flow_from_the_mempool_into_the_proposal() -> None:
    engine = engine_of(proposer(1, 0))
    engine.mempool.add(sign_transfer(KEYS[1], KEYS[2].public_key, 5, 0, fee=2), engine.chain.state)
    [sent] = [message for message in broadcasts(engine.start(NOW)) if isinstance(message, Proposal)]
    assert [tx.fee for tx in sent.block.transactions] == [2]


# Safety and liveness on the in-memory bus ----------------------------------------------------------------------------


def run_network(seed: int, behaviours: dict[int, ValidatorBehaviour] | None = None, *, validators: int = 4,
                stakes: list[int] | int = 10_000, strategy: str = "weighted-round-robin") -> tuple[MessageBus, int]:
    """Random latency, 10% loss, a partition from 5 s to 20 s that leaves no side a quorum; 60 s in all.

    Returns the bus and the lowest honest height when the partition healed.
    """
    keys, genesis = make_validators(validators, stakes, seed=seed, params=PosParams(proposer_strategy=strategy))
    bus = MessageBus(make_engines(keys, genesis, behaviours=behaviours), seed=seed, min_delay=0.01, max_delay=0.3,
                     loss=0.1)
    half = validators // 2
    bus.partition(5.0, 20.0, [range(half), range(half, validators)])
    for index in range(40):
        sender = keys[index % validators]
        bus.at(index * 1.0, partial(bus.submit, sign_transfer(sender, keys[(index + 1) % validators].public_key, 5,
                                                              index // validators)))
    bus.run(20.0)
    healed_at = bus.min_height()
    bus.run(60.0)
    return bus, healed_at


@pytest.mark.parametrize("seed", range(20))
def test_honest_nodes_never_finalize_different_blocks_and_progress_after_healing(seed: int) -> None:
    bus, healed_at = run_network(seed)
    assert bus.finalized_conflicts() == []
    assert bus.min_height() >= healed_at + 10
    assert all(len(bus.committed_at[index]) == 40 for index in bus.honest)


@pytest.mark.parametrize("seed", range(4))
def test_the_lottery_is_safe_and_live_too(seed: int) -> None:
    bus, healed_at = run_network(seed, strategy="lottery", stakes=[40_000, 10_000, 20_000, 30_000])
    assert bus.finalized_conflicts() == []
    assert bus.min_height() >= healed_at + 10


@pytest.mark.parametrize("seed", range(4))
def test_a_silent_validator_under_a_third_cannot_stop_the_chain(seed: int) -> None:
    bus, healed_at = run_network(seed, {3: Silent()})
    assert bus.finalized_conflicts() == []
    assert bus.min_height() >= healed_at + 5


@pytest.mark.parametrize("seed", range(4))
def test_an_equivocating_validator_is_caught_and_slashed(seed: int) -> None:
    bus, healed_at = run_network(seed, {0: Equivocate()})
    assert bus.finalized_conflicts() == []
    assert bus.min_height() >= healed_at + 5
    offender = bus.engines[0].key.public_key  # type: ignore[union-attr]
    assert bus.evidence_found and all(evidence.offender == offender for _, evidence in bus.evidence_found)
    chain = bus.engines[bus.honest[0]].chain
    [(included_at, evidence)] = chain.store.evidence(offender)
    params = chain.params
    assert tombstone_height(chain.state, offender) == evidence.height
    assert offender not in chain.validator_set(chain.height + 1)
    # 10% of the 10 000 bonded when the evidence was applied, burned on every honest node alike.
    assert chain.state.store.meta().burned == 10_000 * params.slash_percent // 100
    assert bonded_stake(chain.state, offender) == 9_000
    assert included_at - evidence.height <= params.evidence_max_age
    for index in bus.honest:
        bus.engines[index].chain.check_invariants()


def test_byzantine_stake_just_under_a_third_of_seven_validators() -> None:
    bus, healed_at = run_network(7, {1: Equivocate(), 5: Silent()}, validators=7,
                                 stakes=[3_000, 3_700, 3_000, 3_000, 3_000, 3_700, 3_000])
    assert bus.finalized_conflicts() == []
    assert bus.min_height() > healed_at


@pytest.mark.parametrize("seed", range(10))
def test_a_bare_quorum_keeps_finalizing_under_twenty_percent_loss(seed: int) -> None:
    """10 equal validators split 7/3 for 21.5 s: the 7 hold just over 2/3, so every round needs all of them."""
    keys, genesis = make_validators(10, seed=seed)
    bus = MessageBus(make_engines(keys, genesis), seed=seed, loss=0.2)
    bus.partition(5.0, 26.5, [range(7), range(7, 10)])
    bus.run(5.0)
    before = bus.min_height(range(7))
    bus.run(26.5)
    # Before validators relayed the round's proposal, seeds finalized 0 to 3 blocks in the partition (mean 2.4).
    during = bus.min_height(range(7))
    assert during >= before + 3
    bus.run(40.0)
    assert bus.finalized_conflicts() == []
    assert bus.min_height() > during


def test_a_validator_still_deciding_a_finalized_height_is_offered_the_block() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, KEYS)
    extend(chain, KEYS)
    ahead = ConsensusEngine(KEYS[1], chain)
    ahead.start(NOW)

    def offers(message: Vote, now: float, sender: bytes | None = None) -> list[Action]:
        return [action for action in ahead.on_vote(message, now, sender) if isinstance(action, ServeSync)]

    lagging = KEYS[0]
    # Just behind (its precommits are on the way): nothing yet; still behind a gossip interval later: the block.
    assert offers(vote(lagging, PRECOMMIT, NIL, height=2), NOW) == []
    assert offers(vote(lagging, PRECOMMIT, NIL, height=2), NOW + 0.3) == []
    assert offers(vote(lagging, PRECOMMIT, NIL, height=2), NOW + 0.5) == [ServeSync(lagging.public_key, 2)]
    # Once per interval, however many of its stale votes and proposals arrive meanwhile.
    assert offers(vote(lagging, PREVOTE, NIL, height=2), NOW + 0.6) == []
    assert offers(vote(lagging, PREVOTE, NIL, height=2), NOW + 1.0) == [ServeSync(lagging.public_key, 2)]
    # Not for heights further back (block requests cover those), not for strangers, not for itself.
    stranger = Vote(PREVOTE, 2, 0, NIL, STRANGER.public_key).signed(STRANGER, CHAIN_ID)
    for ignored in (vote(KEYS[2], PREVOTE, NIL, height=1), stranger, vote(KEYS[1], PREVOTE, NIL, height=2)):
        assert offers(ignored, NOW) == offers(ignored, NOW + 1) == []
    # Relayed by someone else: ignored, so a relay can neither steer blocks nor start or use up the validator's turn.
    relayer = KEYS[3].public_key
    assert offers(vote(KEYS[2], PREVOTE, NIL, height=2), NOW, relayer) == []
    assert offers(vote(KEYS[2], PREVOTE, NIL, height=2), NOW + 1, relayer) == []
    assert offers(vote(KEYS[2], PREVOTE, NIL, height=2), NOW + 1, KEYS[2].public_key) == []
    assert offers(vote(KEYS[2], PREVOTE, NIL, height=2), NOW + 1.5, KEYS[2].public_key) == [
        ServeSync(KEYS[2].public_key, 2)]


def test_gossip_resends_the_previous_rounds_votes_for_validators_still_collecting_them() -> None:
    engine = follower()
    engine.start(NOW)
    engine.on_timeout(ScheduleTimeout(1.0, 1, 0, "propose"), NOW + 1)
    for voter in others(engine)[:2]:
        engine.on_vote(vote(voter, PREVOTE, NIL), NOW + 1)
    engine.on_timeout(ScheduleTimeout(0.5, 1, 0, "prevote"), NOW + 1.5)
    for voter in others(engine)[:2]:
        engine.on_vote(vote(voter, PRECOMMIT, NIL), NOW + 1.5)
    engine.on_timeout(ScheduleTimeout(0.5, 1, 0, "precommit"), NOW + 2)
    assert engine.round == 1
    resent = broadcasts(engine.on_timeout(ScheduleTimeout(engine.timeouts.gossip, 1, 1, "gossip"), NOW + 2.5))
    assert vote(engine.key, PRECOMMIT, NIL, round_number=0) in resent  # type: ignore[arg-type]


def test_a_validator_resends_the_round_proposal_it_holds_on_gossip() -> None:
    engine = follower()
    engine.start(NOW)
    sent = proposal(engine)
    engine.on_proposal(sent, NOW)
    actions = engine.on_timeout(ScheduleTimeout(engine.timeouts.gossip, 1, 0, "gossip"), NOW + 0.5)
    assert sent in broadcasts(actions)


def test_an_invalid_proposal_is_not_resent() -> None:
    engine = follower()
    engine.start(NOW)
    bad = proposal(engine, block=engine.chain.build_block(proposer(1, 0), 0, int(NOW * 1000),
                                                            [sign_transfer(KEYS[1], KEYS[2].public_key, 10**12, 0)]))
    engine.on_proposal(bad, NOW)
    actions = engine.on_timeout(ScheduleTimeout(engine.timeouts.gossip, 1, 0, "gossip"), NOW + 0.5)
    assert bad not in broadcasts(actions)


def test_gossip_comes_before_the_propose_timeout() -> None:
    timeouts = Timeouts()
    assert timeouts.gossip < timeouts.for_step("propose", 0)


def test_evidence_seen_at_a_height_waits_for_the_next_block() -> None:
    engine = engine_of(proposer(1, 0))
    engine.start(NOW)
    offender = next(key for key in KEYS if key is not engine.key)
    engine.on_vote(vote(offender, PRECOMMIT, bytes([1]) * 32), NOW)
    engine.on_vote(vote(offender, PRECOMMIT, NIL), NOW)
    assert len(engine.pending_evidence) == 1
    assert engine._evidence_for_block() == []


# Conflicting commits: a certificate for another block at a finalized height ------------------------------------------


def forked_chains(signers_of_b: list[KeyPair], round_of_b: int = 0) -> tuple[Chain, Chain, Block]:
    """Two chains of height 1 with different blocks (A by every key, B by `signers_of_b` in `round_of_b`), and a
    height-2 block on B whose last commit is B's certificate."""
    chain_a, chain_b = Chain.start(GENESIS), Chain.start(GENESIS)
    extend(chain_a, KEYS)
    key = key_of(chain_b.proposer(1, 0))
    block_b = chain_b.build_block(key, 0, 2_000)
    chain_b.commit(block_b, certify(block_b, signers_of_b, round_of_b))
    return chain_a, chain_b, extend(chain_b, KEYS)


def engine_on(chain: Chain) -> ConsensusEngine:
    engine = ConsensusEngine(next(key for key in KEYS if key.public_key != chain.proposer(chain.height + 1, 0)),
                             chain)
    engine.start(NOW)
    return engine


def offenders(actions: list[Action]) -> set[bytes]:
    return {action.evidence.offender for action in actions if isinstance(action, EvidenceFound)}


def test_a_conflicting_synced_commit_gives_evidence_against_every_double_signer() -> None:
    chain_a, chain_b, _ = forked_chains(KEYS[:3])
    engine = engine_on(chain_a)
    actions = engine.on_decided_block(chain_b.block(1), chain_b.certificate(1), NOW)  # type: ignore[arg-type]
    double_signers = {key.public_key for key in KEYS[:3]}
    assert offenders(actions) == double_signers == {item.offender for item in engine.pending_evidence.values()}
    assert {type(message) for message in broadcasts(actions)} == {Evidence}
    assert chain_a.height == 1 and chain_a.block(1) != chain_b.block(1)
    for evidence in engine.pending_evidence.values():
        chain_a.check_evidence(evidence, 2)
    # Learned once: the same certificate again (or by gossip) adds nothing.
    assert offenders(engine.on_decided_block(chain_b.block(1), chain_b.certificate(1), NOW)) == set()  # type: ignore[arg-type]


def test_a_proposal_on_a_conflicting_parent_gives_evidence_through_its_last_commit() -> None:
    chain_a, _, block_b2 = forked_chains(KEYS[1:])
    engine = engine_on(chain_a)
    proposer_b = key_of(block_b2.proposer)
    actions = engine.on_proposal(Proposal.create(proposer_b, CHAIN_ID, 0, NO_ROUND, block_b2), NOW)
    assert offenders(actions) == {key.public_key for key in KEYS[1:]}
    assert engine.chain.height == 1


def test_a_synced_block_on_a_conflicting_parent_gives_evidence_through_its_last_commit() -> None:
    chain_a, chain_b, block_b2 = forked_chains(KEYS[1:])
    engine = engine_on(chain_a)
    actions = engine.on_decided_block(block_b2, chain_b.certificate(2), NOW)  # type: ignore[arg-type]
    assert offenders(actions) == {key.public_key for key in KEYS[1:]}


def test_a_conflicting_commit_of_another_round_or_too_old_or_without_the_defence_gives_nothing() -> None:
    chain_a, chain_b, _ = forked_chains(KEYS[:3], round_of_b=1)
    engine = engine_on(chain_a)
    assert offenders(engine.on_decided_block(chain_b.block(1), chain_b.certificate(1), NOW)) == set()  # type: ignore[arg-type]
    chain_a, chain_b, _ = forked_chains(KEYS[:3])
    engine = ConsensusEngine(KEYS[0], chain_a, defences=PosDefences(vote_evidence=False))
    assert offenders(engine.on_decided_block(chain_b.block(1), chain_b.certificate(1), NOW)) == set()  # type: ignore[arg-type]
    for _ in range(GENESIS.params.evidence_max_age):
        extend(chain_a, KEYS)
    engine = engine_on(chain_a)
    assert offenders(engine.on_decided_block(chain_b.block(1), chain_b.certificate(1), NOW)) == set()  # type: ignore[arg-type]
    assert engine.pending_evidence == {}


def test_a_forged_conflicting_certificate_costs_one_failed_verification_and_changes_nothing() -> None:
    chain_a, chain_b, _ = forked_chains(KEYS)
    genuine = chain_b.certificate(1)
    assert genuine is not None
    forged = attrs.evolve(genuine, signatures=tuple(attrs.evolve(item, signature=bytes(64))
                                                    for item in genuine.signatures))
    engine = engine_on(chain_a)
    for _ in range(1_000):
        actions = engine.on_decided_block(chain_b.block(1), forged, NOW)  # type: ignore[arg-type]
        assert rejected(actions) == [InvalidEvidence]
    assert engine.pending_evidence == {} and chain_a.block(1) != chain_b.block(1)
    # The genuine certificate still convicts every double signer afterwards.
    assert len(offenders(engine.on_decided_block(chain_b.block(1), genuine, NOW))) == len(KEYS)  # type: ignore[arg-type]


# pos.vote_relay: a vote that differs from this node's own is relayed, once ------------------------------------------


def prevoting_follower(defences: PosDefences | None = None) -> tuple[ConsensusEngine, bytes]:
    """A follower that took round 0's proposal and prevoted its block."""
    engine = ConsensusEngine(follower().key, Chain.start(GENESIS), timeouts=Timeouts(commit=0.0), defences=defences)
    engine.start(NOW)
    offer = proposal(engine)
    engine.on_proposal(offer, NOW)
    assert engine.step == Step.PREVOTE
    return engine, offer.block.block_id


def test_a_vote_that_differs_from_the_own_vote_is_relayed_once_and_an_equal_one_never() -> None:
    engine, block_id = prevoting_follower()
    voter, agreeing = others(engine)[0], others(engine)[1]
    assert broadcasts(engine.on_vote(vote(agreeing, PREVOTE, block_id), NOW)) == []
    divergent = vote(voter, PREVOTE, NIL)
    assert broadcasts(engine.on_vote(divergent, NOW)) == [divergent]
    assert broadcasts(engine.on_vote(divergent, NOW)) == []
    # Its conflicting twin (relayed by a node of the other half) is evidence here; it is not relayed in turn.
    twin = vote(voter, PREVOTE, block_id)
    sent = broadcasts(engine.on_vote(twin, NOW))
    assert Evidence in {type(message) for message in sent} and twin not in sent and divergent not in sent


def test_a_divergent_vote_held_before_the_own_vote_is_relayed_when_voting() -> None:
    engine = follower()
    engine.start(NOW)
    early = vote(others(engine)[0], PREVOTE, NIL)
    assert broadcasts(engine.on_vote(early, NOW)) == []
    actions = engine.on_proposal(proposal(engine), NOW)
    assert early in broadcasts(actions)


def test_without_vote_relay_nothing_is_relayed() -> None:
    engine, _ = prevoting_follower(PosDefences(vote_relay=False))
    assert broadcasts(engine.on_vote(vote(others(engine)[0], PREVOTE, NIL), NOW)) == []
