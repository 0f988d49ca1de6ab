"""One sample of every encoding of this layer, from fixed keys (Ed25519 signatures are deterministic)."""

from __future__ import annotations

from typing import Any

from a27_channels import (
    PARTY_A,
    PARTY_B,
    AddHtlc,
    Challenge,
    ChannelAnnouncement,
    ChannelOpen,
    ChannelPolicy,
    ChannelRecord,
    ChannelState,
    ChannelStatus,
    ChannelTerms,
    ChannelUpdate,
    CloseOutcome,
    CooperativeClose,
    FailHtlc,
    FailureCause,
    FailureReport,
    FulfillHtlc,
    HopInstruction,
    Htlc,
    HtlcClaim,
    HtlcRefund,
    Pay,
    Settle,
    UnilateralClose,
    encode_instructions,
    payment_hash_of,
)
from a27_channels.testing import sign_final_state, sign_state
from a27_ledger import KeyPair, Transaction

ALICE = KeyPair.from_seed(bytes([0x21]) * 32)
BOB = KeyPair.from_seed(bytes([0x22]) * 32)
PREIMAGE = bytes(range(32))
HASH = payment_hash_of(PREIMAGE)
TERMS = ChannelTerms(ALICE.public_key, BOB.public_key, 70_000, 30_000, 20, 150, salt=3)
CHANNEL_ID = TERMS.channel_id
FUNDING_TX_ID = bytes(range(100, 132))


def state_with_htlcs() -> ChannelState:
    htlcs = (Htlc(5, PARTY_A, 1_200, HASH, 140), Htlc(8, PARTY_B, 300, bytes([0xAB]) * 32, 141))
    return ChannelState(CHANNEL_ID, 9, PARTY_B, 60_000, 38_500, htlcs)


def final_state() -> ChannelState:
    return ChannelState(CHANNEL_ID, 12, PARTY_A, 55_000, 45_000)


def transaction(key: KeyPair, nonce: int, body: Any) -> Transaction:
    return Transaction(key.public_key, nonce, 2, body).signed(key)


def samples() -> dict[str, Any]:
    """Every encoded object by name."""
    signed = sign_state(state_with_htlcs(), ALICE, BOB)
    announcement = ChannelAnnouncement(CHANNEL_ID, ALICE.public_key, BOB.public_key, TERMS.capacity, FUNDING_TX_ID)
    announcement = ChannelAnnouncement(CHANNEL_ID, ALICE.public_key, BOB.public_key, TERMS.capacity, FUNDING_TX_ID,
                                       announcement.sign(ALICE), announcement.sign(BOB))
    return {
        "terms": TERMS,
        "initial_state": TERMS.initial_state(),
        "state_with_htlcs": state_with_htlcs(),
        "signed_state": signed,
        "pay": Pay(1_500),
        "add_htlc": AddHtlc(HASH, 1_200, 140),
        "fulfill_htlc": FulfillHtlc(5, PREIMAGE),
        "fail_htlc": FailHtlc(8),
        "channel_open": transaction(ALICE, 4, ChannelOpen(TERMS, TERMS.funding_signature(BOB))),
        "cooperative_close": transaction(BOB, 1, CooperativeClose(sign_final_state(final_state(), ALICE, BOB))),
        "unilateral_close": transaction(ALICE, 5, UnilateralClose(signed)),
        "challenge": transaction(BOB, 2, Challenge(signed)),
        "settle": transaction(ALICE, 6, Settle(CHANNEL_ID)),
        "htlc_claim": transaction(BOB, 3, HtlcClaim(CHANNEL_ID, 5, PREIMAGE)),
        "htlc_refund": transaction(ALICE, 7, HtlcRefund(CHANNEL_ID, 5)),
        "record_open": ChannelRecord(TERMS, ChannelStatus.OPEN, FUNDING_TX_ID, 42),
        "record_settling": ChannelRecord(TERMS, ChannelStatus.SETTLING, FUNDING_TX_ID, 42, CloseOutcome.UNILATERAL,
                                         120, 140, PARTY_B, state_with_htlcs(), (8,)),
        "announcement": announcement,
        "policy_update": ChannelUpdate.create(BOB, CHANNEL_ID, 77, ChannelPolicy(2, 150, 12, disabled=True)),
        "failure_report": FailureReport(FailureCause.INSUFFICIENT_BALANCE, BOB.public_key, CHANNEL_ID),
    }


def instructions() -> bytes:
    """Route data for two further hops."""
    return encode_instructions([HopInstruction(CHANNEL_ID, 1_100, 130), HopInstruction(bytes(32), 1_000, 120)])
