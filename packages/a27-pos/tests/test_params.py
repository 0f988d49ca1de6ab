"""Chain parameters and the PoS genesis."""

from __future__ import annotations

import attrs
import pytest

from a27_ledger import Genesis
from a27_ledger.testing import make_keys
from a27_pos import PosGenesis, PosGenesisError, PosParams, ValidatorSet
from a27_pos.testing import make_pos_genesis

KEYS = make_keys(3, seed=5)


def test_params_round_trip_and_defaults() -> None:
    params = PosParams(block_reward=7, proposer_strategy="lottery")
    assert PosParams.decode(params.encode()) == params
    assert PosParams().proposer_strategy == "weighted-round-robin"
    assert len(PosParams().encode()) == 36


@pytest.mark.parametrize("changes", [{"slash_percent": 101}, {"min_stake": 0}, {"proposer_strategy": "pow"},
                                     {"evidence_max_age": 30, "unbonding_delay": 20}, {"max_block_bytes": 100}])
def test_bad_params_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(PosGenesisError):
        PosParams(**changes)  # type: ignore[arg-type]


def test_params_decoding_is_strict() -> None:
    encoded = PosParams().encode()
    with pytest.raises(PosGenesisError, match="36 bytes"):
        PosParams.decode(encoded + b"\x00")
    with pytest.raises(PosGenesisError, match="strategy"):
        PosParams.decode(encoded[:-1] + b"\x09")


def test_build_adds_stakes_to_balances_and_makes_stakers_validators() -> None:
    genesis = PosGenesis.build("chain", {KEYS[0].public_key: 500, KEYS[1].public_key: 70},
                               {KEYS[0].public_key: 2_000})
    assert genesis.ledger.balances == {KEYS[0].public_key: 2_500, KEYS[1].public_key: 70}
    assert genesis.ledger.validators == (KEYS[0].public_key,)
    assert genesis.validator_set() == ValidatorSet.from_powers({KEYS[0].public_key: 2_000})
    assert genesis.chain_id == "chain"


def test_digest_covers_stakes_and_params() -> None:
    genesis = make_pos_genesis(KEYS, [1_000, 2_000])
    assert genesis.digest() == make_pos_genesis(KEYS, [1_000, 2_000]).digest()
    assert genesis.digest() != make_pos_genesis(KEYS, [1_000, 2_001]).digest()
    assert genesis.digest() != make_pos_genesis(KEYS, [1_000, 2_000], params=PosParams(block_reward=1)).digest()
    assert genesis.digest() != genesis.ledger.digest()


def test_inconsistent_genesis_is_refused() -> None:
    genesis = make_pos_genesis(KEYS, [1_000])
    with pytest.raises(PosGenesisError, match="min_stake"):
        make_pos_genesis(KEYS, [999])
    with pytest.raises(PosGenesisError, match="genesis balance"):
        attrs.evolve(genesis, stakes=((KEYS[0].public_key, 10**9),))
    unstaked = Genesis.build("chain", {key.public_key: 5_000 for key in KEYS}, [KEYS[1].public_key])
    with pytest.raises(PosGenesisError, match="exactly the genesis validators"):
        PosGenesis(unstaked, {KEYS[0].public_key: 1_000})
    with pytest.raises(PosGenesisError, match="ledger genesis"):
        PosGenesis.build("chain", {}, {})
    with pytest.raises(ValueError, match="more stakes"):
        make_pos_genesis(KEYS[:1], [1_000, 1_000])
