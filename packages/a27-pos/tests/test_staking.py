"""Staking: bond and unbond kinds, releases, slashing, and validator-set changes, through finalized blocks."""

from __future__ import annotations

import pytest

from a27_ledger import (
    InsufficientBalance,
    InvalidAmount,
    LedgerError,
    LedgerState,
    MalformedTransaction,
    Transaction,
    default_registry,
    sign_transfer,
)
from a27_ledger.testing import make_genesis, make_keys
from a27_pos import (
    PREVOTE,
    Bond,
    Chain,
    Evidence,
    InvalidBlock,
    PosParams,
    Unbond,
    Vote,
    bonded_stake,
    pos_registry,
    sign_bond,
    sign_unbond,
    stakers,
    tombstone_height,
    unbonding_entries,
)
from a27_pos.testing import extend, make_pos_genesis

PARAMS = PosParams(unbonding_delay=3, evidence_max_age=2, min_stake=1_000, block_reward=10, slash_percent=10)
KEYS = make_keys(5, seed=21)
V0, V1, V2, V3, USER = KEYS
VALIDATORS = KEYS[:4]


@pytest.fixture
def chain() -> Chain:
    return Chain.start(make_pos_genesis(KEYS, [10_000] * 4, balance=50_000, params=PARAMS))


def nonce(chain: Chain, key: object) -> int:
    return chain.state.next_nonce(key.public_key)  # type: ignore[attr-defined]


def test_genesis_stakes_are_bonded(chain: Chain) -> None:
    assert bonded_stake(chain.state, V0.public_key) == 10_000
    assert chain.state.balance(V0.public_key) == 50_000
    assert stakers(chain.state) == sorted(key.public_key for key in VALIDATORS)
    assert chain.validator_set(1).total_power == 40_000
    chain.check_invariants()


def test_pos_registry_extends_a_copy() -> None:
    registry = pos_registry()
    assert registry.kinds() == {1: "transfer", 10: "bond", 11: "unbond"}
    assert default_registry.kinds() == {1: "transfer"}


def test_bodies_are_canonical_and_checked() -> None:
    assert Bond.decode(Bond(5).encode()) == Bond(5)
    with pytest.raises(MalformedTransaction, match="bond body"):
        Bond.decode(b"\x00" * 7)
    with pytest.raises(InvalidAmount, match="not positive"):
        Bond(0).check(sign_bond(USER, 1, 0))
    with pytest.raises(InvalidAmount):
        Unbond(2**64)
    assert (Bond(5).debit(), Unbond(5).debit()) == (5, 0)


def test_a_bond_joins_the_validator_set_at_the_next_height(chain: Chain) -> None:
    extend(chain, VALIDATORS, [sign_bond(USER, 2_000, 0, fee=1)])
    assert bonded_stake(chain.state, USER.public_key) == 2_000
    assert USER.public_key not in chain.validator_set(1)
    assert chain.validator_set(2).power(USER.public_key) == 2_000
    assert chain.state.balance(USER.public_key) == 50_000 - 2_001
    chain.check_invariants()


def test_a_bond_below_the_minimum_stake_does_not_validate(chain: Chain) -> None:
    extend(chain, VALIDATORS, [sign_bond(USER, 999, 0)])
    assert USER.public_key in stakers(chain.state)
    assert USER.public_key not in chain.validator_set(2)


def test_unbonding_releases_after_the_delay(chain: Chain) -> None:
    extend(chain, VALIDATORS, [sign_unbond(V3, 4_000, 0)])
    assert bonded_stake(chain.state, V3.public_key) == 6_000
    assert unbonding_entries(chain.state, V3.public_key) == [(1 + PARAMS.unbonding_delay, 4_000)]
    assert chain.validator_set(2).power(V3.public_key) == 6_000
    balance = chain.state.balance(V3.public_key)
    while chain.height < PARAMS.unbonding_delay:
        extend(chain, VALIDATORS)
    assert unbonding_entries(chain.state, V3.public_key) == [(4, 4_000)]
    extend(chain, VALIDATORS)
    assert unbonding_entries(chain.state, V3.public_key) == []
    rewarded = [chain.block(height) for height in range(2, chain.height + 1)]
    rewards = 10 * sum(1 for block in rewarded if block is not None and block.proposer == V3.public_key)
    assert chain.state.balance(V3.public_key) == balance + 4_000 + rewards
    chain.check_invariants()


def test_unbonding_everything_leaves_the_set(chain: Chain) -> None:
    extend(chain, VALIDATORS, [sign_unbond(V3, 10_000, 0)])
    assert V3.public_key not in stakers(chain.state)
    assert V3.public_key not in chain.validator_set(2)
    assert chain.validator_set(2).total_power == 30_000


def test_unbonding_more_than_bonded_makes_the_block_invalid(chain: Chain) -> None:
    with pytest.raises(InsufficientBalance):
        chain.state.apply_block([sign_unbond(V3, 10_001, 0)], dry_run=True)
    proposer = next(key for key in VALIDATORS if key.public_key == chain.proposer(1, 0))
    block = chain.build_block(proposer, 0, 1_000, [sign_unbond(V3, 10_001, 0)])
    with pytest.raises(InvalidBlock, match="InsufficientBalance"):
        chain.check_block(block)


def test_unbonding_needs_a_pos_chain() -> None:
    keys = make_keys(2, seed=3)
    state = LedgerState.from_genesis(make_genesis(keys), registry=pos_registry())
    state.apply(sign_bond(keys[0], 100, 0))
    with pytest.raises(LedgerError, match="proof-of-stake chain"):
        state.apply(sign_unbond(keys[0], 100, 1))


def equivocation(key: object, height: int) -> Evidence:
    votes = [Vote(PREVOTE, height, 0, block_id, key.public_key).signed(key, "a27-test")  # type: ignore[attr-defined]
             for block_id in (bytes(32), bytes([1]) * 32)]
    return Evidence.from_votes(*votes)


def test_slashing_burns_bonded_and_unbonding_stake_and_tombstones(chain: Chain) -> None:
    extend(chain, VALIDATORS, [sign_unbond(V2, 2_000, 0)])
    extend(chain, VALIDATORS, evidence=[equivocation(V2, 1)])
    assert bonded_stake(chain.state, V2.public_key) == 8_000 - 800
    assert unbonding_entries(chain.state, V2.public_key) == [(4, 1_800)]
    assert tombstone_height(chain.state, V2.public_key) == 1
    assert V2.public_key not in chain.validator_set(3)
    assert chain.state.store.meta().burned == 1_000
    assert [(event.kind, event.amount, event.reason) for event in chain.state.supply_events()
            if event.kind == "burn"] == [("burn", 800, "slashing"), ("burn", 200, "slashing")]
    assert chain.store.evidence(V2.public_key) == [(2, equivocation(V2, 1))]
    chain.check_invariants()


def test_transfers_and_fees_in_blocks(chain: Chain) -> None:
    block = extend(chain, VALIDATORS, [sign_transfer(USER, V1.public_key, 100, 0, fee=5)])
    proposer = block.proposer
    assert chain.state.balance(USER.public_key) == 50_000 - 105
    expected = 50_000 + 5 + 10 + (100 if proposer == V1.public_key else 0)
    assert chain.state.balance(proposer) == expected
    assert isinstance(block.transactions[0], Transaction)
    chain.check_invariants()
