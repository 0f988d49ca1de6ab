"""The referee's scoring core on hand-built chains: honest workload, theft, slashing, bad declarations."""

from __future__ import annotations

import attrs
import pytest

from a27_attacks import account_key
from a27_harness.battle.scoring import (
    BattleDeclaration,
    BattleError,
    ScheduledTransfer,
    Team,
    score_battle,
)
from a27_ledger import KeyPair, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import PREVOTE, Chain, PosParams, Vote
from a27_pos.testing import extend, make_pos_genesis
from a27_pos.votes import Evidence

PARAMS = PosParams(evidence_max_age=4, unbonding_delay=4, block_reward=10, slash_percent=50)
KEYS = make_keys(7, seed=41)
BLUE_VALIDATORS, RED_VALIDATOR = KEYS[:3], KEYS[3]
VALIDATORS = [*BLUE_VALIDATORS, RED_VALIDATOR]
ALICE, BOB, MALLORY = KEYS[4], KEYS[5], KEYS[6]
"""Alice and Bob are blue wallets; Mallory is the red team's second account."""
STAKE = 10_000
BALANCE = 1_000_000
GENESIS = make_pos_genesis(KEYS, [STAKE] * 4, balance=BALANCE, params=PARAMS)
BLUE = Team("blue", "blue", tuple(key.public_key for key in (*BLUE_VALIDATORS, ALICE, BOB)))
RED = Team("red", "red", (RED_VALIDATOR.public_key, MALLORY.public_key), "vote-equivocation")
WORKLOAD = (ScheduledTransfer(ALICE.public_key, BOB.public_key, 700, 1.0),
            ScheduledTransfer(BOB.public_key, ALICE.public_key, 200, 2.0))
DECLARATION = BattleDeclaration(GENESIS.chain_id, (BLUE, RED), WORKLOAD)


def _equivocation(key: KeyPair, height: int) -> Evidence:
    return Evidence.from_votes(*(Vote(PREVOTE, height, 0, block_id, key.public_key).signed(key, GENESIS.chain_id)
                                 for block_id in (bytes(32), bytes([9]) * 32)))


def _rows(chain: Chain, declaration: BattleDeclaration = DECLARATION) -> dict[str, dict[str, object]]:
    return {row.name: row.to_dict() for row in score_battle(declaration, GENESIS, chain).teams}


def test_the_honest_workload_alone_scores_zero_for_every_team() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS, [sign_transfer(ALICE, BOB.public_key, 700, 0, fee=3)])
    extend(chain, VALIDATORS, [sign_transfer(BOB, ALICE.public_key, 200, 0, fee=2)])
    extend(chain, VALIDATORS)
    board = score_battle(DECLARATION, GENESIS, chain)
    assert (board.height, board.workload_declared, board.workload_finalized, board.unowned_gained) == (3, 2, 2, 0)
    rows = {row.name: row for row in board.teams}
    assert rows["blue"].start == 5 * BALANCE + 3 * STAKE and rows["red"].start == 2 * BALANCE + STAKE
    # Internal to blue: the workload nets to minus the fees; blue proposers earn the fees back if they proposed.
    assert rows["blue"].workload_net == -5
    assert rows["blue"].blocks_proposed + rows["red"].blocks_proposed == 3
    assert rows["blue"].proposer_income + rows["red"].proposer_income == 3 * 10 + 5
    for row in rows.values():
        assert (row.gained, row.slashed, row.score, row.detections) == (0, 0, 0, ())
        assert row.held == row.expected


def test_an_undeclared_transfer_to_red_is_red_gain_and_blue_loss() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS, [sign_transfer(ALICE, BOB.public_key, 700, 0, fee=3),
                               sign_transfer(ALICE, MALLORY.public_key, 5_000, 1, fee=1)])
    rows = _rows(chain)
    assert rows["red"]["gained"] == 5_000 and rows["red"]["score"] == 5_000
    assert rows["blue"]["gained"] == -5_001


def test_a_declared_transfer_counts_once_and_an_unfinalized_one_not_at_all() -> None:
    chain = Chain.start(GENESIS)
    # Bob's declared payment to Alice never finalizes; Alice's is finalized twice (the second is not the workload's).
    twice = [sign_transfer(ALICE, BOB.public_key, 700, nonce) for nonce in (0, 1)]
    extend(chain, VALIDATORS, twice)
    board = score_battle(DECLARATION, GENESIS, chain)
    assert board.workload_finalized == 1
    rows = {row.name: row for row in board.teams}
    # Inside blue the extra 700 moves between blue accounts: no gain, no loss.
    assert rows["blue"].workload_net == 0 and rows["blue"].gained == 0 and rows["red"].gained == 0


def test_red_paying_an_undeclared_account_is_red_loss_and_shows_as_unowned_gain() -> None:
    chain = Chain.start(GENESIS)
    stranger = KeyPair.from_seed(b"\x42" * 32)
    extend(chain, VALIDATORS, [sign_transfer(MALLORY, stranger.public_key, 900, 0, fee=1)])
    board = score_battle(DECLARATION, GENESIS, chain)
    assert {row.name: row.gained for row in board.teams}["red"] == -901
    assert board.unowned_gained == 900


def test_evidence_slashes_the_red_validator_and_is_a_detection_not_a_gain() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS)
    extend(chain, VALIDATORS, evidence=[_equivocation(RED_VALIDATOR, 1)])
    extend(chain, BLUE_VALIDATORS)
    rows = {row.name: row for row in score_battle(DECLARATION, GENESIS, chain).teams}
    red = rows["red"]
    assert red.slashed == STAKE * PARAMS.slash_percent // 100
    assert (red.gained, red.score) == (0, -red.slashed)
    assert [(detection.height, detection.kind) for detection in red.detections] == [(2, "Evidence")]
    assert red.detections[0].offender == RED_VALIDATOR.public_key.hex()[:16]
    assert (rows["blue"].gained, rows["blue"].slashed, rows["blue"].detections) == (0, 0, ())


def test_blocks_the_referee_does_not_hold_are_counted_as_missing() -> None:
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS)
    extend(chain, VALIDATORS)

    class Holey:
        state, height, chain_id, params = chain.state, chain.height, chain.chain_id, chain.params

        def block(self, height: int) -> object:
            return None if height == 1 else chain.block(height)

    assert score_battle(DECLARATION, GENESIS, Holey()).blocks_missing == 1  # type: ignore[arg-type]


def test_scoring_is_deterministic_and_the_same_for_a_reopened_sqlite_chain(tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415

    from a27_ledger import SQLiteStore  # noqa: PLC0415
    from a27_pos import SQLiteChainStore, pos_registry  # noqa: PLC0415

    folder = Path(str(tmp_path))
    chain = Chain.start(GENESIS, SQLiteStore(folder / "r.db"), SQLiteChainStore(folder / "r.chain.db", pos_registry()))
    extend(chain, VALIDATORS, [sign_transfer(ALICE, MALLORY.public_key, 10, 0)], evidence=[])
    extend(chain, VALIDATORS, evidence=[_equivocation(RED_VALIDATOR, 1)])
    first = score_battle(DECLARATION, GENESIS, chain)
    chain.state.close()
    chain.store.close()
    reopened = Chain.start(GENESIS, SQLiteStore(folder / "r.db"), SQLiteChainStore(folder / "r.chain.db",
                                                                                    pos_registry()))
    try:
        assert score_battle(DECLARATION, GENESIS, reopened) == first
    finally:
        reopened.state.close()
        reopened.store.close()


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Team("", "blue", (bytes(32),)), "team name"),
    (lambda: Team("x", "green", (bytes(32),)), "side must be"),
    (lambda: Team("x", "red", ()), "expected 1 to"),
    (lambda: Team("x", "red", (b"short",)), "32-byte public key"),
    (lambda: ScheduledTransfer(bytes(32), bytes(32), 0), "amount"),
    (lambda: ScheduledTransfer(bytes(32), bytes(32), 2**64), "amount"),
    (lambda: ScheduledTransfer(bytes(31), bytes(32), 5), "sender"),
    (lambda: BattleDeclaration("c", ()), "1 to 100 teams"),
    (lambda: BattleDeclaration("c", (BLUE, attrs.evolve(RED, name="blue"))), "same name"),
    (lambda: BattleDeclaration("c", (BLUE, attrs.evolve(RED, accounts=(ALICE.public_key,)))), "claimed by blue"),
])
def test_a_bad_declaration_is_refused_with_the_field_named(build: object, message: str) -> None:
    with pytest.raises(BattleError, match=message):
        build()  # type: ignore[operator]


def test_a_chain_of_another_battle_is_refused() -> None:
    with pytest.raises(BattleError, match="chain ids differ"):
        score_battle(attrs.evolve(DECLARATION, chain_id="other"), GENESIS, Chain.start(GENESIS))


def test_a_light_red_double_spend_to_its_own_sinks_gains_nothing_and_the_second_credit_would_be_stolen() -> None:
    """``a27 battle up --team red=double-spend-pos`` declares the attack's sinks (node-less, no genesis balance) as
    red's: the one transfer of Mallory's balance that finalizes moves tokens inside red (gained 0); a second credit
    of the same balance, as a successful double spend would give, is red's gain."""
    sink_a, sink_b = (account_key(name).public_key for name in ("sink-a", "sink-b"))
    red = Team("red", "red", (MALLORY.public_key, sink_a, sink_b), "double-spend-pos")
    declaration = BattleDeclaration(GENESIS.chain_id, (BLUE, red))
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS, [sign_transfer(MALLORY, sink_a, BALANCE, 0)])
    board = score_battle(declaration, GENESIS, chain)
    rows = {row.name: row for row in board.teams}
    assert (rows["red"].start, rows["red"].held, rows["red"].gained, board.unowned_gained) == (
        BALANCE, BALANCE, 0, 0)
    # Undeclared, the same sink is a red loss and an account of no team gaining.
    alone = BattleDeclaration(GENESIS.chain_id, (BLUE, Team("red", "red", (MALLORY.public_key,))))
    board = score_battle(alone, GENESIS, chain)
    assert ({row.name: row.gained for row in board.teams}["red"], board.unowned_gained) == (-BALANCE, BALANCE)
    # Blue paying sink-b the same amount (what a second, conflicting credit amounts to) is red's gain.
    extend(chain, VALIDATORS, [sign_transfer(ALICE, sink_b, BALANCE, 0)])
    rows = {row.name: row for row in score_battle(declaration, GENESIS, chain).teams}
    assert rows["red"].gained == BALANCE and rows["blue"].gained == -BALANCE
