"""The channel state machine: updates, HTLCs, conflicts, withdrawals, and every kind of bad input."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a27_channels import (
    PARTY_A,
    AddHtlc,
    Channel,
    ChannelBusy,
    ChannelError,
    ExpiryTooSoon,
    FailHtlc,
    InsufficientChannelBalance,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    MalformedChannelData,
    Pay,
    StaleState,
    UpdateCancel,
    UpdateComplete,
    UpdateProposal,
    UpdateSignature,
    payment_hash_of,
)
from a27_channels.testing import channel_pair, run_update
from a27_ledger import InvalidAmount, KeyPair

ALICE = KeyPair.from_seed(bytes([0x01]) * 32)
BOB = KeyPair.from_seed(bytes([0x02]) * 32)
PREIMAGE = bytes([0x33]) * 32
HASH = payment_hash_of(PREIMAGE)


def pair() -> tuple[Channel, Channel]:
    return channel_pair(ALICE, BOB, 7_000, 3_000)


def snapshot(channel: Channel) -> tuple[object, ...]:
    return (channel.latest, channel.highest_signed, channel.outgoing, channel.incoming)


def test_a_payment_is_signed_by_both_and_applied_on_both_sides() -> None:
    alice, bob = pair()
    state = run_update(alice, bob, alice.pay(1_500))
    assert (state.sequence, state.balance_a, state.balance_b, state.proposer) == (1, 5_500, 4_500, alice.party)
    assert alice.latest == bob.latest
    alice.latest.verify(ALICE.public_key, BOB.public_key)
    run_update(bob, alice, bob.pay(500))
    assert (alice.balance, bob.balance, alice.state.sequence) == (6_000, 4_000, 2)
    assert not alice.busy and not bob.busy


def test_an_htlc_is_added_then_fulfilled_or_failed() -> None:
    alice, bob = pair()
    run_update(alice, bob, alice.add_htlc(HASH, 800, expiry=50, height=10))
    assert (bob.state.locked, alice.balance) == (800, 6_200)
    with pytest.raises(InvalidHtlc):
        alice.fulfill_htlc(PREIMAGE, height=11)
    run_update(bob, alice, bob.fulfill_htlc(PREIMAGE, height=11), height=11)
    assert (alice.balance, bob.balance, bob.state.htlcs) == (6_200, 3_800, ())
    run_update(alice, bob, alice.add_htlc(HASH, 200, expiry=60, height=12))
    htlc_id = bob.state.htlcs[0].htlc_id
    run_update(bob, alice, bob.fail_htlc(htlc_id))
    assert (alice.balance, bob.balance) == (6_200, 3_800)


def test_one_update_at_a_time() -> None:
    alice, bob = pair()
    proposal = alice.pay(10)
    with pytest.raises(ChannelBusy):
        alice.pay(10)
    signature, _ = bob.receive_proposal(proposal, 0)
    with pytest.raises(ChannelBusy):
        bob.pay(10)
    other = UpdateProposal(bob.channel_id, 9, Pay(1))
    with pytest.raises(ChannelBusy):
        bob.receive_proposal(other, 0)
    completion = alice.receive_signature(signature)
    assert isinstance(completion, UpdateComplete)
    bob.receive_completion(completion)
    assert not bob.busy


def test_repeated_messages_get_the_same_answers() -> None:
    alice, bob = pair()
    proposal = alice.pay(10)
    signature, _ = bob.receive_proposal(proposal, 0)
    assert bob.receive_proposal(proposal, 0) == (signature, None)
    completion = alice.receive_signature(signature)
    assert alice.receive_signature(signature) == completion
    assert isinstance(completion, UpdateComplete)
    assert bob.receive_completion(completion) is not None
    assert bob.receive_completion(completion) is None


def test_forged_and_stale_signatures_change_nothing() -> None:
    alice, bob = pair()
    proposal = alice.pay(10)
    signature, _ = bob.receive_proposal(proposal, 0)
    before = snapshot(alice)
    forged = attrs.evolve(signature, signature=ALICE.sign(b"something else"))
    with pytest.raises(InvalidChannelSignature):
        alice.receive_signature(forged)
    with pytest.raises(StaleState):
        alice.receive_signature(attrs.evolve(signature, sequence=7))
    assert snapshot(alice) == before
    completion = alice.receive_signature(signature)
    assert isinstance(completion, UpdateComplete)
    before = snapshot(bob)
    by_bob = attrs.evolve(completion, signature=bob.incoming.state.sign(BOB))  # type: ignore[union-attr]
    with pytest.raises(InvalidChannelSignature):
        bob.receive_completion(by_bob)
    with pytest.raises(StaleState):
        bob.receive_completion(attrs.evolve(completion, sequence=5))
    assert snapshot(bob) == before


def test_stale_or_wrong_proposals_change_nothing() -> None:
    alice, bob = pair()
    run_update(alice, bob, alice.pay(10))
    before = snapshot(bob)
    with pytest.raises(StaleState):
        bob.receive_proposal(UpdateProposal(bob.channel_id, 1, Pay(5)), 0)
    with pytest.raises(InsufficientChannelBalance):
        bob.receive_proposal(UpdateProposal(bob.channel_id, 2, Pay(6_991)), 0)
    with pytest.raises(ExpiryTooSoon):
        bob.receive_proposal(UpdateProposal(bob.channel_id, 2, AddHtlc(HASH, 5, 12)), 10)
    with pytest.raises(InvalidHtlc):
        bob.receive_proposal(UpdateProposal(bob.channel_id, 2, FailHtlc(1)), 0)
    with pytest.raises(InvalidHtlc):
        bob.receive_proposal(UpdateProposal(bob.channel_id, 2, AddHtlc(HASH, 5, 10**6)), 10)
    assert snapshot(bob) == before
    with pytest.raises(InvalidAmount):
        alice.pay(2**64)
    with pytest.raises(MalformedChannelData):
        AddHtlc(HASH[:31], 5, 100)
    with pytest.raises(InsufficientChannelBalance):
        alice.pay(6_991)
    assert not alice.busy


def test_the_lower_key_wins_a_conflict_and_the_loser_retries() -> None:
    alice, bob = pair()
    winner, loser = (alice, bob) if alice.wins_conflicts else (bob, alice)
    mine, theirs = winner.pay(100), loser.pay(200)
    with pytest.raises(ChannelBusy):
        winner.receive_proposal(theirs, 0)
    signature, displaced = loser.receive_proposal(mine, 0)
    assert displaced == theirs
    completion = winner.receive_signature(signature)
    assert isinstance(completion, UpdateComplete)
    loser.receive_completion(completion)
    run_update(loser, winner, loser.propose(displaced.operation, 0))
    assert winner.latest == loser.latest
    assert winner.balance == (7_000 if winner.party == PARTY_A else 3_000) - 100 + 200


def test_a_withdrawn_proposal_is_never_completed() -> None:
    alice, bob = pair()
    proposal = alice.pay(10)
    signature, _ = bob.receive_proposal(proposal, 0)
    assert alice.withdraw() == proposal
    assert alice.receive_signature(signature) == UpdateCancel(alice.channel_id, proposal.sequence)
    with pytest.raises(ChannelBusy):
        bob.receive_proposal(UpdateProposal(bob.channel_id, proposal.sequence + 1, Pay(20)), 0)
    assert bob.receive_cancel(UpdateCancel(bob.channel_id, proposal.sequence))
    assert not bob.receive_cancel(UpdateCancel(bob.channel_id, proposal.sequence))
    # Bob signed sequence 1 once: he never signs another state 1.
    with pytest.raises(StaleState):
        bob.receive_proposal(UpdateProposal(bob.channel_id, proposal.sequence, Pay(20)), 0)
    state = run_update(alice, bob, alice.pay(20))
    assert (state.sequence, alice.balance) == (2, 6_980)


def test_pending_messages_are_what_to_retransmit() -> None:
    alice, bob = pair()
    assert alice.pending_message() is None
    proposal = alice.pay(10)
    assert alice.pending_message() == proposal
    signature, _ = bob.receive_proposal(proposal, 0)
    assert bob.pending_message() == signature
    assert isinstance(bob.pending_message(), UpdateSignature)


def test_a_key_outside_the_channel_is_refused() -> None:
    alice, _ = pair()
    with pytest.raises(ValueError):
        Channel(alice.terms, KeyPair.from_seed(bytes([9]) * 32), alice.latest)


operations = st.lists(st.tuples(st.booleans(), st.integers(0, 4), st.integers(0, 12_000), st.integers(0, 80)),
                      max_size=25)


@settings(max_examples=40, deadline=None)
@given(operations)
def test_any_sequence_of_updates_keeps_the_capacity(steps: list[tuple[bool, int, int, int]]) -> None:
    alice, bob = pair()
    height = 10
    for by_alice, kind, amount, expiry in steps:
        proposer, receiver = (alice, bob) if by_alice else (bob, alice)
        try:
            if kind == 0:
                proposal = proposer.pay(amount)
            elif kind == 1:
                proposal = proposer.add_htlc(HASH, amount, height + expiry, height)
            elif kind == 2:
                proposal = proposer.fulfill_htlc(PREIMAGE, height)
            elif kind == 3:
                ids = [htlc.htlc_id for htlc in proposer.state.htlcs if htlc.receiver == proposer.party]
                proposal = proposer.fail_htlc(ids[0] if ids else amount)
            else:
                proposal = UpdateProposal(proposer.channel_id, amount, Pay(expiry))
        except (ChannelError, InvalidAmount):
            assert not proposer.busy
            continue
        try:
            run_update(proposer, receiver, proposal, height)
        except (ChannelError, InvalidAmount):
            if proposer.outgoing is not None:
                proposer.withdraw()
            if receiver.incoming is not None:
                assert receiver.receive_cancel(UpdateCancel(receiver.channel_id, receiver.incoming.proposal.sequence))
        for side in (alice, bob):
            assert side.state.total() == 10_000
            assert not side.busy
        assert alice.latest == bob.latest
        height += 1


@pytest.mark.parametrize("alice_proposes", [True, False])
def test_only_the_next_sequence_is_signed_and_the_largest_cannot_lock_the_channel(alice_proposes: bool) -> None:
    alice, bob = pair()
    proposer, receiver = (alice, bob) if alice_proposes else (bob, alice)
    run_update(proposer, receiver, proposer.pay(10))
    before = snapshot(receiver)
    for sequence in (2**64 - 1, 2**63, 3):
        with pytest.raises(InvalidChannelState):
            receiver.receive_proposal(UpdateProposal(receiver.channel_id, sequence, Pay(5)), 0)
    with pytest.raises(StaleState):
        receiver.receive_proposal(UpdateProposal(receiver.channel_id, 1, Pay(5)), 0)
    with pytest.raises(StaleState):
        receiver.receive_completion(UpdateComplete(receiver.channel_id, 2**64 - 1, bytes(64)))
    with pytest.raises(StaleState):
        receiver.receive_signature(UpdateSignature(receiver.channel_id, 2**64 - 1, bytes(64)))
    assert snapshot(receiver) == before
    for _ in range(3):
        run_update(proposer, receiver, proposer.pay(1))
        run_update(receiver, proposer, receiver.pay(1))
    assert alice.latest == bob.latest and alice.state.sequence == 7


def test_a_withdrawn_proposal_the_peer_never_saw_leaves_no_gap() -> None:
    alice, bob = pair()
    lost = alice.pay(10)
    alice.withdraw()
    again = alice.pay(20)
    assert again.sequence == lost.sequence == 1
    assert run_update(alice, bob, again).sequence == 1


def test_a_proposal_refused_as_stale_moves_to_the_sequence_after() -> None:
    alice, bob = pair()
    bob.receive_proposal(alice.pay(10), 0)   # Bob's signature is lost; Alice gives up.
    assert bob.receive_cancel(UpdateCancel(bob.channel_id, alice.withdraw().sequence))
    with pytest.raises(StaleState):
        bob.receive_proposal(alice.pay(20), 0)
    alice.peer_refused_as_stale(alice.withdraw().sequence)
    assert run_update(alice, bob, alice.pay(20)).sequence == 2
    # Bob may now sign 3, or 4 after a proposal 3 of his own that he withdrew and Alice may have signed.
    assert list(bob.next_sequences()) == [3]
    alice.receive_proposal(bob.pay(5), 0)
    assert alice.receive_cancel(UpdateCancel(alice.channel_id, bob.withdraw().sequence))
    assert list(bob.next_sequences()) == [3, 4]
    assert run_update(alice, bob, alice.pay(30)).sequence == 4
