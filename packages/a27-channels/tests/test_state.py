"""States, terms, HTLCs and operations: encodings, signatures, and the rules of every operation."""

from __future__ import annotations

import contextlib

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a27_channels import (
    CLOSE_DOMAIN,
    MAX_HTLCS,
    MAX_HTLCS_PER_PARTY,
    PARTY_A,
    PARTY_B,
    AddHtlc,
    BadPreimage,
    ChannelState,
    ChannelTerms,
    ExpiryTooSoon,
    FailHtlc,
    FulfillHtlc,
    Htlc,
    HtlcLimits,
    InsufficientChannelBalance,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    MalformedChannelData,
    Pay,
    SignedState,
    apply_operation,
    decode_operation,
    payment_hash_of,
)
from a27_ledger import InvalidAmount, KeyPair

ALICE = KeyPair.from_seed(bytes([0xA1]) * 32)
BOB = KeyPair.from_seed(bytes([0xB0]) * 32)
TERMS = ChannelTerms(ALICE.public_key, BOB.public_key, 7_000, 3_000, 20, 100, salt=5)
PREIMAGE = bytes(range(32))
HASH = payment_hash_of(PREIMAGE)


def test_terms_encode_and_decode() -> None:
    assert len(TERMS.encode()) == 100
    assert ChannelTerms.decode(TERMS.encode()) == TERMS
    assert TERMS.capacity == 10_000
    assert TERMS.party_of(BOB.public_key) == PARTY_B
    assert TERMS.party_of(bytes(32)) is None
    with pytest.raises(MalformedChannelData):
        ChannelTerms.decode(TERMS.encode()[:-1])


def test_terms_rules() -> None:
    TERMS.check()
    for bad in (attrs.evolve(TERMS, party_b=ALICE.public_key), attrs.evolve(TERMS, challenge_period=0)):
        with pytest.raises(InvalidChannelState):
            bad.check()
    for bad in (attrs.evolve(TERMS, deposit_a=0, deposit_b=0), attrs.evolve(TERMS, deposit_a=2**64 - 1)):
        with pytest.raises(InvalidAmount):
            bad.check()
    with pytest.raises(InvalidAmount):
        attrs.evolve(TERMS, deposit_a=2**64)


def test_channel_id_depends_on_every_term() -> None:
    ids = {TERMS.channel_id, attrs.evolve(TERMS, salt=6).channel_id, attrs.evolve(TERMS, deposit_b=2_999).channel_id,
           attrs.evolve(TERMS, funding_deadline=101).channel_id}
    assert len(ids) == 4


def test_funding_signature_is_party_bs() -> None:
    assert TERMS.verify_funding_signature(TERMS.funding_signature(BOB))
    assert not TERMS.verify_funding_signature(TERMS.funding_signature(ALICE))
    assert not attrs.evolve(TERMS, salt=9).verify_funding_signature(TERMS.funding_signature(BOB))


def state_with_htlcs() -> ChannelState:
    htlcs = (Htlc(3, PARTY_A, 500, HASH, 40), Htlc(7, PARTY_B, 250, bytes(32), 41))
    return ChannelState(TERMS.channel_id, 9, PARTY_B, 6_000, 3_250, htlcs)


def test_state_encoding_round_trips_and_is_strict() -> None:
    state = state_with_htlcs()
    encoded = state.encode()
    assert len(encoded) == 60 + 2 * 57
    assert ChannelState.decode(encoded) == state
    for damaged in (encoded[:-1], encoded + b"\x00", b"\x02" + encoded[1:]):
        with pytest.raises(MalformedChannelData):
            ChannelState.decode(damaged)
    swapped = ChannelState.decode(encoded).htlcs[::-1]
    with pytest.raises(MalformedChannelData):
        ChannelState(state.channel_id, 9, PARTY_B, 6_000, 3_250, swapped)
    bad_party = encoded[:41] + b"\x02" + encoded[42:]
    with pytest.raises(MalformedChannelData):
        ChannelState.decode(bad_party)


def test_state_accounting() -> None:
    state = state_with_htlcs()
    assert state.total() == 10_000
    state.check(TERMS.capacity)
    with pytest.raises(InvalidChannelState):
        state.check(TERMS.capacity + 1)
    assert state.locked == 750
    assert state.htlc(7).receiver == PARTY_A
    with pytest.raises(InvalidHtlc):
        state.htlc(8)


def test_signed_states_verify_both_parties() -> None:
    state = state_with_htlcs()
    signed = SignedState(state, state.sign(ALICE), state.sign(BOB))
    signed.verify(ALICE.public_key, BOB.public_key)
    assert SignedState.decode(signed.encode()) == signed
    with pytest.raises(InvalidChannelSignature):
        SignedState(state, state.sign(BOB), state.sign(BOB)).verify(ALICE.public_key, BOB.public_key)
    with pytest.raises(InvalidChannelSignature):
        SignedState(state, state.sign(ALICE), state.sign(ALICE)).verify(ALICE.public_key, BOB.public_key)
    as_close = SignedState(state, state.sign(ALICE), state.sign(BOB), CLOSE_DOMAIN)
    with pytest.raises(InvalidChannelSignature):
        as_close.verify(ALICE.public_key, BOB.public_key)
    with pytest.raises(MalformedChannelData):
        SignedState.decode(signed.encode()[:-1])


def test_operation_encodings() -> None:
    for operation in (Pay(5), AddHtlc(HASH, 9, 77), FulfillHtlc(3, PREIMAGE), FailHtlc(4)):
        assert decode_operation(operation.encode()) == operation
    for bad in (b"", b"\x01", b"\x09" + bytes(8), Pay(5).encode() + b"\x00"):
        with pytest.raises(MalformedChannelData):
            decode_operation(bad)


def test_payment_moves_the_balance() -> None:
    state = TERMS.initial_state()
    after = apply_operation(state, Pay(1_000), proposer=PARTY_A, sequence=1, height=10)
    assert (after.balance_a, after.balance_b, after.sequence, after.proposer) == (6_000, 4_000, 1, PARTY_A)
    with pytest.raises(InsufficientChannelBalance):
        apply_operation(state, Pay(3_001), proposer=PARTY_B, sequence=1, height=10)
    with pytest.raises(InvalidAmount):
        apply_operation(state, Pay(0), proposer=PARTY_A, sequence=1, height=10)
    with pytest.raises(InvalidChannelState):
        apply_operation(after, Pay(1), proposer=PARTY_A, sequence=1, height=10)


def test_htlc_add_fulfill_fail() -> None:
    state = TERMS.initial_state()
    added = apply_operation(state, AddHtlc(HASH, 700, 50), proposer=PARTY_A, sequence=4, height=10)
    assert added.htlcs == (Htlc(4, PARTY_A, 700, HASH, 50),)
    assert (added.balance_a, added.total()) == (6_300, 10_000)
    fulfilled = apply_operation(added, FulfillHtlc(4, PREIMAGE), proposer=PARTY_B, sequence=5, height=49)
    assert (fulfilled.balance_b, fulfilled.htlcs) == (3_700, ())
    failed = apply_operation(added, FailHtlc(4), proposer=PARTY_B, sequence=5, height=60)
    assert (failed.balance_a, failed.htlcs) == (7_000, ())


def test_htlc_rules() -> None:
    state = TERMS.initial_state()
    limits = HtlcLimits(min_expiry_margin=3, max_expiry_ahead=100)
    with pytest.raises(ExpiryTooSoon):
        apply_operation(state, AddHtlc(HASH, 1, 13), proposer=PARTY_A, sequence=1, height=10, limits=limits)
    apply_operation(state, AddHtlc(HASH, 1, 14), proposer=PARTY_A, sequence=1, height=10, limits=limits)
    with pytest.raises(InvalidHtlc):
        apply_operation(state, AddHtlc(HASH, 1, 111), proposer=PARTY_A, sequence=1, height=10, limits=limits)
    with pytest.raises(InsufficientChannelBalance):
        apply_operation(state, AddHtlc(HASH, 3_001, 50), proposer=PARTY_B, sequence=1, height=10)
    added = apply_operation(state, AddHtlc(HASH, 700, 50), proposer=PARTY_A, sequence=4, height=10)
    with pytest.raises(InvalidHtlc):
        apply_operation(added, FulfillHtlc(4, PREIMAGE), proposer=PARTY_A, sequence=5, height=10)
    with pytest.raises(InvalidHtlc):
        apply_operation(added, FailHtlc(4), proposer=PARTY_A, sequence=5, height=10)
    with pytest.raises(BadPreimage):
        apply_operation(added, FulfillHtlc(4, bytes(32)), proposer=PARTY_B, sequence=5, height=10)
    with pytest.raises(ExpiryTooSoon):
        apply_operation(added, FulfillHtlc(4, PREIMAGE), proposer=PARTY_B, sequence=5, height=50)
    with pytest.raises(InvalidHtlc):
        apply_operation(added, FailHtlc(5), proposer=PARTY_B, sequence=5, height=10)


def test_each_party_offers_at_most_half_the_htlc_slots_so_a_peer_cannot_take_them_all() -> None:
    state = TERMS.initial_state()
    for sequence in range(1, MAX_HTLCS_PER_PARTY + 1):
        state = apply_operation(state, AddHtlc(HASH, 1, 50), proposer=PARTY_A, sequence=sequence, height=10)
    with pytest.raises(InvalidHtlc):
        apply_operation(state, AddHtlc(HASH, 1, 50), proposer=PARTY_A, sequence=MAX_HTLCS + 1, height=10)
    for sequence in range(MAX_HTLCS_PER_PARTY + 1, MAX_HTLCS + 1):
        state = apply_operation(state, AddHtlc(HASH, 1, 50), proposer=PARTY_B, sequence=sequence, height=10)
    assert len(state.htlcs) == MAX_HTLCS
    for proposer in (PARTY_A, PARTY_B):
        with pytest.raises(InvalidHtlc):
            apply_operation(state, AddHtlc(HASH, 1, 50), proposer=proposer, sequence=MAX_HTLCS + 1, height=10)


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_malformed(data: bytes) -> None:
    for decode in (ChannelState.decode, SignedState.decode, decode_operation):
        with contextlib.suppress(MalformedChannelData):
            decode(data)
