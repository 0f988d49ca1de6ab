"""Long-range fork: validators that unbonded re-sign history from an old height for a node syncing from genesis.

Succeeds against a node without a checkpoint (it adopts the fork: a payment the attacker made on the real chain is
gone and the same tokens are spent again); fails against a node with `pos.checkpoints` and a checkpoint of the real
chain (it refuses the fork, reports CheckpointMismatch, and syncs the real chain when served it).
"""

from __future__ import annotations

import attrs
import pytest

from a27_attacks.longrange import CertifiedBlock, ForkImpossible, forge_history, serve_history
from a27_ledger import KeyPair, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import (
    Chain,
    Checkpoint,
    CheckpointMismatch,
    ConsensusEngine,
    PosGenesis,
    PosParams,
    RefusedInput,
    sign_bond,
    sign_unbond,
)
from a27_pos.testing import extend, make_pos_genesis

OLD, NEW = range(0, 4), range(4, 8)
MERCHANT, ACCOMPLICE = 8, 9
STAKE = 10_000
PAID = 15_000
PARAMS = PosParams(unbonding_delay=4, evidence_max_age=2)


@attrs.frozen
class Scenario:
    """The real chain (as each block's (block, certificate)) and what is needed to attack and check it."""

    keys: list[KeyPair]
    genesis: PosGenesis
    real: list[CertifiedBlock]
    payment_height: int


def real_chain() -> Scenario:
    """Old validators 0..3 stake at genesis; at height 2 new validators 4..7 bond, at height 3 the old ones unbond
    everything (released at 7); at height 8 old validator 0 pays the merchant with tokens it unbonded; 12 blocks."""
    keys = make_keys(10, seed=404)
    genesis = make_pos_genesis(keys, [STAKE] * len(OLD), balance=20_000, params=PARAMS)
    chain = Chain.start(genesis)
    contents = {
        2: [sign_bond(keys[index], STAKE, 0) for index in NEW],
        3: [sign_unbond(keys[index], STAKE, 0) for index in OLD],
        8: [sign_transfer(keys[0], keys[MERCHANT].public_key, PAID, 1)],
    }
    for height in range(1, 13):
        extend(chain, keys, contents.get(height, ()))
    real = []
    for height in range(1, 13):
        block, certificate = chain.block(height), chain.certificate(height)
        assert block is not None and certificate is not None
        real.append((block, certificate))
    assert set(chain.validator_set(13).accounts) == {keys[index].public_key for index in NEW}
    assert chain.state.balance(keys[MERCHANT].public_key) == 20_000 + PAID
    return Scenario(keys, genesis, real, 8)


def long_range_fork(scenario: Scenario) -> list[CertifiedBlock]:
    """The old validators' fork from height 1 (where they held all the stake): they never let the new validators in,
    and old validator 0 sends the same tokens to its accomplice; longer than the real chain."""
    keys = scenario.keys
    old = [keys[index] for index in OLD]
    spend = [[sign_transfer(keys[0], keys[ACCOMPLICE].public_key, PAID, 0)]]
    return forge_history(scenario.genesis, scenario.real[:1], old, spend + [[] for _ in range(14)])


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return real_chain()


def test_undefended_a_node_syncing_from_genesis_adopts_the_fork_and_the_tokens_are_spent_twice(
        scenario: Scenario) -> None:
    keys = scenario.keys
    fork = long_range_fork(scenario)
    victim = Chain.start(scenario.genesis)
    outcome = serve_history(victim, scenario.real[:1] + fork)
    assert outcome.refused is None
    assert victim.height == len(fork) + 1 > len(scenario.real)
    # The merchant's payment is gone and the accomplice holds the same tokens; the new validators never validate.
    assert victim.state.balance(keys[MERCHANT].public_key) == 20_000
    assert victim.state.balance(keys[ACCOMPLICE].public_key) == 20_000 + PAID
    assert set(victim.validator_set(victim.height + 1).accounts) == {keys[index].public_key for index in OLD}
    victim.check_invariants()  # the fork is a self-consistent history: nothing but a checkpoint tells it apart


def test_defended_a_node_with_a_checkpoint_refuses_the_fork_and_reports_it(scenario: Scenario) -> None:
    keys = scenario.keys
    honest = Chain.start(scenario.genesis)
    serve_history(honest, scenario.real)
    checkpoint = honest.checkpoint_at(10)
    fork = long_range_fork(scenario)
    victim = Chain.start(scenario.genesis, checkpoint=checkpoint)
    outcome = serve_history(victim, scenario.real[:1] + fork)
    assert isinstance(outcome.refused, CheckpointMismatch)
    assert victim.height == checkpoint.height - 1  # never past the checkpoint on the fork
    assert victim.height < len(fork) + 1
    # A fresh start from an honest peer, with the same checkpoint, gets the real chain and the merchant is paid.
    resynced = Chain.start(scenario.genesis, checkpoint=checkpoint)
    assert serve_history(resynced, scenario.real) == serve_history(Chain.start(scenario.genesis), scenario.real)
    assert resynced.state.balance(keys[MERCHANT].public_key) == 20_000 + PAID
    assert resynced.state.balance(keys[ACCOMPLICE].public_key) == 20_000


def test_a_node_never_reverts_what_it_finalized_even_without_a_checkpoint(scenario: Scenario) -> None:
    follower = Chain.start(scenario.genesis)
    serve_history(follower, scenario.real)
    head = follower.head
    outcome = serve_history(follower, scenario.real[:1] + long_range_fork(scenario))
    assert outcome.applied == 0
    assert follower.head == head
    # A node already past the checkpoint on the fork is refused the checkpoint at once and keeps its chain.
    forked = Chain.start(scenario.genesis)
    serve_history(forked, scenario.real[:1] + long_range_fork(scenario))
    with pytest.raises(CheckpointMismatch):
        forked.set_checkpoint(follower.checkpoint_at(10))
    assert forked.checkpoint is None


def test_the_new_validators_alone_cannot_fork_from_before_they_bonded(scenario: Scenario) -> None:
    with pytest.raises(ForkImpossible):
        forge_history(scenario.genesis, scenario.real[:1], [scenario.keys[index] for index in NEW], [[]])


def test_checkpoints_parse_and_print() -> None:
    checkpoint = Checkpoint(12, bytes(range(32)))
    assert Checkpoint.parse(str(checkpoint)) == checkpoint
    for text in ("12", "x:00", f"0:{bytes(32).hex()}", "3:abcd"):
        with pytest.raises(ValueError):
            Checkpoint.parse(text)


def test_a_validator_restarting_with_an_empty_store_and_a_checkpoint_reports_the_fork(scenario: Scenario) -> None:
    honest = Chain.start(scenario.genesis)
    serve_history(honest, scenario.real)
    checkpoint = honest.checkpoint_at()
    fork = long_range_fork(scenario)
    for defended in (False, True):
        engine = ConsensusEngine(scenario.keys[NEW[0]], Chain.start(
            scenario.genesis, checkpoint=checkpoint if defended else None))
        refusals = [action.error for block, certificate in scenario.real[:1] + fork
                    for action in engine.on_decided_block(block, certificate, 0.0)
                    if isinstance(action, RefusedInput)]
        if defended:
            assert [type(error) for error in refusals[:1]] == [CheckpointMismatch]
            assert engine.chain.height == checkpoint.height - 1
        else:
            assert refusals == []
            assert engine.chain.height == len(fork) + 1
