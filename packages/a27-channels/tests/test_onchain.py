"""The channel transaction kinds on a real a27-pos chain: every close path, the penalty, HTLC enforcement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a27_channels import (
    CHANNEL,
    PARTY_A,
    PARTY_B,
    BadPreimage,
    Challenge,
    ChallengePeriod,
    ChannelExists,
    ChannelOpen,
    ChannelState,
    ChannelStatus,
    ChannelTerms,
    CloseOutcome,
    CooperativeClose,
    ExpiryTooSoon,
    FundingExpired,
    Htlc,
    HtlcClaim,
    HtlcRefund,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    NotAChannelParty,
    Settle,
    SignedState,
    StaleState,
    UnilateralClose,
    UnknownChannel,
    WrongChannelStatus,
    channel_chain,
    channel_record,
    channels_registry,
    payment_hash_of,
    preimage_height,
)
from a27_channels.testing import sign_channel_open, sign_final_state, sign_state
from a27_ledger import (
    InsufficientBalance,
    KeyPair,
    LedgerError,
    SQLiteStore,
    Transaction,
    TransactionBody,
    sign_transfer,
)
from a27_ledger.testing import make_keys
from a27_pos import Chain, InvalidBlock, Mempool, PosGenesis, PosGenesisError, SQLiteChainStore
from a27_pos.testing import extend

KEYS = make_keys(8, seed=303)
VALIDATORS = KEYS[:4]
ALICE, BOB, CAROL, POOR = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
PREIMAGE = bytes([7]) * 32
HASH = payment_hash_of(PREIMAGE)


def make_chain() -> Chain:
    balances = {key.public_key: 1_000_000 for key in KEYS[:7]} | {POOR.public_key: 10}
    return channel_chain(PosGenesis.build("a27-test", balances, {key.public_key: 10_000 for key in VALIDATORS}))


def sign(key: KeyPair, chain: Chain, body: TransactionBody, fee: int = 0) -> Transaction:
    return Transaction(key.public_key, chain.state.next_nonce(key.public_key), fee, body).signed(key)


def commit(chain: Chain, transactions: Sequence[Transaction] = ()) -> None:
    extend(chain, VALIDATORS, transactions)
    chain.check_invariants()


def refuse(chain: Chain, transaction: Transaction, error: type[LedgerError]) -> None:
    """The transaction does not apply, with `error`; a block holding it is invalid; nothing changes."""
    before = chain.state.snapshot().digest()
    with pytest.raises(error):
        chain.state.apply_block([transaction], dry_run=True)
    with pytest.raises(InvalidBlock):
        extend(chain, VALIDATORS, [transaction])
    assert chain.state.snapshot().digest() == before


def open_channel(chain: Chain, deposit_a: int = 7_000, deposit_b: int = 3_000, *, period: int = 3,
                 a: KeyPair = ALICE, b: KeyPair = BOB, salt: int = 0) -> ChannelTerms:
    transaction, terms = sign_channel_open(a, b, deposit_a, deposit_b, chain.state.next_nonce(a.public_key),
                                           challenge_period=period, funding_deadline=chain.height + 5, salt=salt)
    commit(chain, [transaction])
    return terms


def state(terms: ChannelTerms, sequence: int, balance_a: int, balance_b: int, htlcs: Sequence[Htlc] = (), *,
          proposer: int = PARTY_A) -> ChannelState:
    return ChannelState(terms.channel_id, sequence, proposer, balance_a, balance_b, tuple(htlcs))


def balances(chain: Chain) -> tuple[int, int]:
    return chain.state.balance(ALICE.public_key), chain.state.balance(BOB.public_key)


def test_open_locks_both_deposits() -> None:
    chain = make_chain()
    terms = open_channel(chain)
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert (record.status, record.funding_height, record.terms) == (ChannelStatus.OPEN, chain.height, terms)
    assert chain.state.escrow(CHANNEL, terms.channel_id) == 10_000
    assert balances(chain) == (993_000, 997_000)
    block = chain.block(chain.height)
    assert block is not None
    assert record.funding_tx_id == block.transactions[0].tx_id


def test_open_is_refused_when_it_breaks_a_rule() -> None:
    chain = make_chain()
    transaction, terms = sign_channel_open(ALICE, BOB, 100, 100, 0, funding_deadline=chain.height + 5)
    forged = Transaction(ALICE.public_key, 0, 0, ChannelOpen(terms, terms.funding_signature(CAROL)))
    refuse(chain, forged.signed(ALICE), InvalidChannelSignature)
    by_b = Transaction(BOB.public_key, 0, 0, transaction.body).signed(BOB)
    refuse(chain, by_b, NotAChannelParty)
    late, _ = sign_channel_open(ALICE, BOB, 100, 100, 0, funding_deadline=chain.height)
    refuse(chain, late, FundingExpired)
    broke, _ = sign_channel_open(ALICE, POOR, 100, 11, 0, funding_deadline=chain.height + 5)
    refuse(chain, broke, InsufficientBalance)
    same_party, _ = sign_channel_open(ALICE, ALICE, 100, 100, 0, funding_deadline=chain.height + 5)
    refuse(chain, same_party, InvalidChannelState)
    commit(chain, [transaction])
    replay = Transaction(ALICE.public_key, 1, 0, transaction.body).signed(ALICE)
    refuse(chain, replay, ChannelExists)


def test_cooperative_close_pays_both_at_once() -> None:
    chain = make_chain()
    terms = open_channel(chain)
    final = sign_final_state(state(terms, 12, 4_000, 6_000), ALICE, BOB)
    as_update = sign_state(state(terms, 12, 4_000, 6_000), ALICE, BOB)
    refuse(chain, sign(BOB, chain, CooperativeClose(sign_final_state(state(terms, 12, 4_000, 5_999), ALICE, BOB))),
           InvalidChannelState)
    refuse(chain, sign(CAROL, chain, CooperativeClose(final)), NotAChannelParty)
    with pytest.raises(LedgerError):
        sign(BOB, chain, CooperativeClose(as_update))
    commit(chain, [sign(BOB, chain, CooperativeClose(final))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert (record.status, record.outcome) == (ChannelStatus.CLOSED, CloseOutcome.COOPERATIVE)
    assert balances(chain) == (997_000, 1_003_000)
    assert chain.state.escrow(CHANNEL, terms.channel_id) == 0
    refuse(chain, sign(ALICE, chain, CooperativeClose(final)), WrongChannelStatus)
    refuse(chain, sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 13, 1, 9_999), ALICE, BOB))),
           WrongChannelStatus)


def test_unilateral_close_then_settle_after_the_period() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=3)
    published = sign_state(state(terms, 5, 2_000, 8_000), ALICE, BOB)
    forged = sign_state(state(terms, 5, 2_000, 8_000), ALICE, CAROL)
    refuse(chain, sign(ALICE, chain, UnilateralClose(forged)), InvalidChannelSignature)
    refuse(chain, sign(ALICE, chain, Settle(terms.channel_id)), WrongChannelStatus)
    commit(chain, [sign(ALICE, chain, UnilateralClose(published))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert (record.status, record.publisher, record.deadline) == (ChannelStatus.CLOSING, PARTY_A, chain.height + 3)
    for _ in range(2):
        refuse(chain, sign(CAROL, chain, Settle(terms.channel_id)), ChallengePeriod)
        commit(chain)
    refuse(chain, sign(CAROL, chain, Settle(terms.channel_id)), ChallengePeriod)
    commit(chain)
    commit(chain, [sign(CAROL, chain, Settle(terms.channel_id))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert (record.status, record.outcome) == (ChannelStatus.CLOSED, CloseOutcome.UNILATERAL)
    assert balances(chain) == (995_000, 1_005_000)
    refuse(chain, sign(BOB, chain, Settle(bytes(32))), UnknownChannel)


def test_a_newer_state_by_the_challenger_replaces_the_published_one() -> None:
    chain = make_chain()
    terms = open_channel(chain)
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 5, 6_000, 4_000), ALICE, BOB)))])
    newer = sign_state(state(terms, 6, 5_000, 5_000, proposer=PARTY_B), ALICE, BOB)
    refuse(chain, sign(ALICE, chain, Challenge(newer)), NotAChannelParty)
    refuse(chain, sign(BOB, chain, Challenge(sign_state(state(terms, 5, 1, 9_999), ALICE, BOB))), StaleState)
    commit(chain, [sign(BOB, chain, Challenge(newer))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None and record.published is not None
    assert (record.status, record.publisher, record.published.sequence) == (ChannelStatus.CLOSING, PARTY_B, 6)
    refuse(chain, sign(BOB, chain, Challenge(sign_state(state(terms, 9, 1, 9_999), ALICE, BOB))),
           NotAChannelParty)
    while chain.height <= record.deadline:
        commit(chain)
    refuse(chain, sign(ALICE, chain, Challenge(sign_state(state(terms, 9, 9_999, 1), ALICE, BOB))), ChallengePeriod)
    commit(chain, [sign(ALICE, chain, Settle(terms.channel_id))])
    assert balances(chain) == (998_000, 1_002_000)


def test_publishing_a_state_one_proposed_after_is_penalised() -> None:
    chain = make_chain()
    terms = open_channel(chain)
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 5, 9_000, 1_000), ALICE, BOB)))])
    # Alice proposed state 6 (she signed it last, so she held it) and still published state 5.
    newer = sign_state(state(terms, 6, 3_000, 7_000, proposer=PARTY_A), ALICE, BOB)
    commit(chain, [sign(BOB, chain, Challenge(newer))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert (record.status, record.outcome) == (ChannelStatus.CLOSED, CloseOutcome.PENALTY)
    assert balances(chain) == (993_000, 1_007_000)
    assert chain.state.escrow(CHANNEL, terms.channel_id) == 0


def htlc_state(terms: ChannelTerms, expiry: int, sequence: int = 4, payment_hash: bytes = HASH) -> ChannelState:
    return state(terms, sequence, 6_000, 3_000, [Htlc(sequence - 1, PARTY_A, 1_000, payment_hash, expiry)])


def test_an_htlc_claimed_during_the_period_pays_the_receiver_at_settlement() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=2)
    expiry = chain.height + 3
    commit(chain, [sign(BOB, chain, UnilateralClose(sign_state(htlc_state(terms, expiry), ALICE, BOB)))])
    refuse(chain, sign(BOB, chain, HtlcClaim(terms.channel_id, 3, bytes(32))), BadPreimage)
    refuse(chain, sign(BOB, chain, HtlcClaim(terms.channel_id, 9, PREIMAGE)), InvalidHtlc)
    refuse(chain, sign(ALICE, chain, HtlcRefund(terms.channel_id, 3)), WrongChannelStatus)
    commit(chain, [sign(CAROL, chain, HtlcClaim(terms.channel_id, 3, PREIMAGE))])
    assert preimage_height(chain.state, HASH) == chain.height
    refuse(chain, sign(BOB, chain, HtlcClaim(terms.channel_id, 3, PREIMAGE)), InvalidHtlc)
    commit(chain)
    commit(chain, [sign(ALICE, chain, Settle(terms.channel_id))])
    assert chain.height > expiry
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    assert record.status is ChannelStatus.CLOSED
    assert balances(chain) == (999_000, 1_001_000)


def test_an_htlc_undecided_at_settlement_is_claimed_or_refunded_later() -> None:
    chain = make_chain()
    claimed = open_channel(chain, period=1)
    refunded = open_channel(chain, period=1, salt=1)
    expiry = chain.height + 6
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(htlc_state(claimed, expiry), ALICE, BOB))),
                   sign(BOB, chain, UnilateralClose(sign_state(htlc_state(refunded, expiry), ALICE, BOB)))])
    commit(chain)
    commit(chain, [sign(ALICE, chain, Settle(claimed.channel_id)), sign(BOB, chain, Settle(refunded.channel_id))])
    for terms in (claimed, refunded):
        record = channel_record(chain.state, terms.channel_id)
        assert record is not None
        assert (record.status, record.pending_htlcs) == (ChannelStatus.SETTLING, (3,))
    assert chain.state.escrow(CHANNEL, claimed.channel_id) == 1_000
    refuse(chain, sign(ALICE, chain, HtlcRefund(refunded.channel_id, 3)), ExpiryTooSoon)
    commit(chain, [sign(BOB, chain, HtlcClaim(claimed.channel_id, 3, PREIMAGE))])
    assert channel_record(chain.state, claimed.channel_id).status is ChannelStatus.CLOSED  # type: ignore[union-attr]
    refuse(chain, sign(BOB, chain, HtlcClaim(claimed.channel_id, 3, PREIMAGE)), WrongChannelStatus)
    # The same hash in the other channel: revealed in time, so it is the receiver's; no refund.
    refuse(chain, sign(ALICE, chain, HtlcRefund(refunded.channel_id, 3)), InvalidHtlc)
    commit(chain, [sign(CAROL, chain, HtlcClaim(refunded.channel_id, 3, PREIMAGE))])
    assert balances(chain) == (998_000, 1_002_000)


def test_an_expired_htlc_goes_back_to_its_offerer() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=1)
    other_hash = payment_hash_of(bytes([9]) * 32)
    expiry = chain.height + 6
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(htlc_state(terms, expiry, payment_hash=other_hash),
                                                                 ALICE, BOB)))])
    commit(chain)
    commit(chain, [sign(ALICE, chain, Settle(terms.channel_id))])
    while chain.height + 2 < expiry:
        commit(chain)
    refuse(chain, sign(BOB, chain, HtlcRefund(terms.channel_id, 3)), ExpiryTooSoon)
    commit(chain)
    refuse(chain, sign(BOB, chain, HtlcClaim(terms.channel_id, 3, bytes([9]) * 32)), ExpiryTooSoon)
    commit(chain, [sign(BOB, chain, HtlcRefund(terms.channel_id, 3))])
    assert balances(chain) == (1_000_000, 1_000_000)


def test_an_htlc_expired_before_settlement_is_refunded_by_it() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=4)
    expiry = chain.height + 5
    commit(chain, [sign(BOB, chain, UnilateralClose(sign_state(htlc_state(terms, expiry), ALICE, BOB)))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    while chain.height <= record.deadline:
        commit(chain)
    commit(chain, [sign(BOB, chain, Settle(terms.channel_id))])
    assert channel_record(chain.state, terms.channel_id).status is ChannelStatus.CLOSED  # type: ignore[union-attr]
    assert balances(chain) == (1_000_000, 1_000_000)


def test_supply_is_conserved_through_every_path() -> None:
    chain = make_chain()
    supply = chain.state.total_supply
    cooperative = open_channel(chain, salt=1)
    penalised = open_channel(chain, salt=2)
    commit(chain, [sign(ALICE, chain, CooperativeClose(sign_final_state(state(cooperative, 3, 1, 9_999), ALICE, BOB))),
                   sign(BOB, chain, UnilateralClose(sign_state(state(penalised, 2, 1, 9_999, proposer=PARTY_B),
                                                               ALICE, BOB)))])
    commit(chain, [sign(ALICE, chain, Challenge(sign_state(state(penalised, 8, 5_000, 5_000, proposer=PARTY_B),
                                                           ALICE, BOB)))])
    for terms in (cooperative, penalised):
        assert chain.state.escrow(CHANNEL, terms.channel_id) == 0
    assert sum(balances(chain)) == 2_000_000
    assert chain.state.total_supply == supply + chain.params.block_reward * 4


closes = st.lists(st.tuples(st.sampled_from(["close", "challenge", "settle", "claim", "refund", "block"]),
                            st.booleans(), st.integers(0, 9), st.integers(0, 10_000), st.booleans()),
                  min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(closes)
def test_any_sequence_of_close_attempts_pays_out_the_deposits_exactly(steps: list[tuple[str, bool, int, int,
                                                                                         bool]]) -> None:
    chain = make_chain()
    terms = open_channel(chain, period=2)
    expiry = chain.height + 4
    before = {key.public_key: chain.state.balance(key.public_key) for key in (ALICE, BOB, CAROL)}
    fees = 0
    for action, by_alice, sequence, balance_a, with_htlc in steps:
        sender = ALICE if by_alice else BOB
        htlcs = [Htlc(1, PARTY_A, 1_000, HASH, expiry)] if with_htlc else []
        locked = 1_000 if with_htlc else 0
        signed = sign_state(state(terms, sequence, min(balance_a, 10_000 - locked),
                                  10_000 - locked - min(balance_a, 10_000 - locked), htlcs,
                                  proposer=PARTY_A if sequence % 2 else PARTY_B), ALICE, BOB)
        bodies: dict[str, TransactionBody] = {
            "close": UnilateralClose(signed), "challenge": Challenge(signed), "settle": Settle(terms.channel_id),
            "claim": HtlcClaim(terms.channel_id, 1, PREIMAGE), "refund": HtlcRefund(terms.channel_id, 1),
        }
        body = bodies.get(action)
        transactions = [] if body is None else [sign(sender, chain, body, fee=1)]
        try:
            chain.state.apply_block(transactions, dry_run=True)
        except LedgerError:
            transactions = []
        commit(chain, transactions)
        fees += len(transactions) if transactions and transactions[0].sender != CAROL.public_key else 0
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    paid = sum(chain.state.balance(key) - balance for key, balance in before.items()) + fees
    assert paid + chain.state.escrow(CHANNEL, terms.channel_id) == terms.capacity
    if record.status is ChannelStatus.CLOSED:
        assert chain.state.escrow(CHANNEL, terms.channel_id) == 0


def test_a_channel_chain_in_sqlite_resumes_with_its_channels(tmp_path: Path) -> None:
    genesis = PosGenesis.build("a27-test", {key.public_key: 1_000_000 for key in KEYS},
                               {key.public_key: 10_000 for key in VALIDATORS})

    def reopen() -> Chain:
        return channel_chain(genesis, SQLiteStore(tmp_path / "ledger.db"),
                             SQLiteChainStore(tmp_path / "chain.db", channels_registry()))

    chain = reopen()
    terms = open_channel(chain)
    chain.state.close()
    chain.store.close()
    chain = reopen()
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None and record.status is ChannelStatus.OPEN
    block = chain.block(chain.height)
    assert block is not None and isinstance(block.transactions[0].body, ChannelOpen)
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 3, 1, 9_999), ALICE, BOB)))])
    other = PosGenesis.build("a27-other", {key.public_key: 1_000_000 for key in KEYS},
                             {key.public_key: 10_000 for key in VALIDATORS})
    with pytest.raises(PosGenesisError):
        channel_chain(other, chain.state.store, chain.store)


def test_a_forged_or_superseded_sequence_cannot_lock_a_closing_channel() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=3)
    latest = sign_state(state(terms, 5, 4_000, 6_000, proposer=PARTY_A), ALICE, BOB)
    commit(chain, [sign(BOB, chain, UnilateralClose(latest))])
    largest = state(terms, 2**64 - 1, 9_000, 1_000, proposer=PARTY_B)
    only_alice = SignedState(largest, largest.sign(ALICE), latest.signature_b)
    refuse(chain, sign(ALICE, chain, Challenge(only_alice)), InvalidChannelSignature)
    refuse(chain, sign(ALICE, chain, UnilateralClose(only_alice)), WrongChannelStatus)
    refuse(chain, sign(ALICE, chain, Challenge(sign_state(state(terms, 4, 9_000, 1_000), ALICE, BOB))), StaleState)
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    while chain.height <= record.deadline:
        commit(chain)
    commit(chain, [sign(ALICE, chain, Settle(terms.channel_id))])
    assert balances(chain) == (997_000, 1_003_000)
    # A state at the largest sequence that both did sign ends the challenges but not the channel: it settles.
    terms = open_channel(chain, salt=1)
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 2**64 - 1, 7_000, 3_000),
                                                                 ALICE, BOB)))])
    record = channel_record(chain.state, terms.channel_id)
    assert record is not None
    while chain.height <= record.deadline:
        commit(chain)
    commit(chain, [sign(BOB, chain, Settle(terms.channel_id))])
    assert chain.state.escrow(CHANNEL, terms.channel_id) == 0


def test_a_validator_mempool_refuses_an_early_settle_and_takes_the_senders_next_transfer() -> None:
    chain = make_chain()
    terms = open_channel(chain, period=3)
    commit(chain, [sign(ALICE, chain, UnilateralClose(sign_state(state(terms, 5, 2_000, 8_000), ALICE, BOB)))])
    pool = Mempool()
    # Its kind checks pass; its application fails: it must not hold CAROL's nonce until the next block is built.
    with pytest.raises(ChallengePeriod):
        pool.add(sign(CAROL, chain, Settle(terms.channel_id)), chain.state)
    pool.add(sign_transfer(CAROL, BOB.public_key, 5, chain.state.next_nonce(CAROL.public_key)), chain.state)
    assert len(pool) == 1
