"""The chain: every invalid block is refused with its reason and changes nothing; commit, sync, restart, supply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from a27_ledger import KeyPair, SQLiteStore, SupplyInvariantViolated, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import (
    PREVOTE,
    BadMerkleRoot,
    BadTimestamp,
    Block,
    Chain,
    ConflictingCommit,
    InvalidBlock,
    InvalidCertificate,
    InvalidEvidence,
    InvalidSignature,
    PosError,
    PosGenesisError,
    PosParams,
    SQLiteChainStore,
    Vote,
    WrongChain,
    WrongProposer,
    pos_registry,
)
from a27_pos.block import BLOCK_DOMAIN
from a27_pos.errors import ChainStoreError
from a27_pos.testing import certify, extend, make_pos_genesis
from a27_pos.votes import Evidence

PARAMS = PosParams(evidence_max_age=2, unbonding_delay=2, max_block_transactions=3, block_reward=10)
KEYS = make_keys(5, seed=31)
VALIDATORS = KEYS[:4]
USER = KEYS[4]
GENESIS = make_pos_genesis(KEYS, [10_000] * 4, params=PARAMS)
STRANGER = KeyPair.from_seed(b"\x77" * 32)


def proposer_key(chain: Chain, round_number: int = 0) -> KeyPair:
    return next(key for key in VALIDATORS if key.public_key == chain.proposer(chain.height + 1, round_number))


def next_block(chain: Chain, **changes: object) -> Block:
    """A valid next block, or one with its header changed (and re-signed by `signer`, default the proposer)."""
    signer = changes.pop("signer", proposer_key(chain))
    transactions = changes.pop("transactions", ())
    evidence = changes.pop("evidence", ())
    block = chain.build_block(proposer_key(chain), 0, chain.head.timestamp + 1_000, transactions,  # type: ignore[arg-type]
                              evidence)  # type: ignore[arg-type]
    if not changes and signer is proposer_key(chain):
        return block
    header = attrs.evolve(block.header, **changes)
    return attrs.evolve(block, header=header, signature=signer.sign(BLOCK_DOMAIN + header.encode()))  # type: ignore[attr-defined]


def equivocation(key: KeyPair, height: int) -> Evidence:
    return Evidence.from_votes(*(Vote(PREVOTE, height, 0, block_id, key.public_key).signed(key, GENESIS.chain_id)
                                 for block_id in (bytes(32), bytes([9]) * 32)))


@pytest.fixture
def chain() -> Chain:
    chain = Chain.start(GENESIS)
    extend(chain, VALIDATORS)
    return chain


def test_a_valid_block_passes_and_commits(chain: Chain) -> None:
    block = next_block(chain, transactions=[sign_transfer(USER, KEYS[0].public_key, 10, 0)])
    chain.check_block(block)
    chain.commit(block, certify(block, VALIDATORS))
    assert chain.height == 2
    assert chain.head.block_id == block.block_id
    assert chain.last_certificate == certify(block, VALIDATORS)
    chain.check_invariants()


INVALID: list[tuple[str, Callable[[Chain], Block], type[PosError], str]] = [
    ("other chain", lambda chain: next_block(chain, chain_id="elsewhere"), WrongChain, "elsewhere"),
    ("wrong height", lambda chain: next_block(chain, height=5), WrongChain, "next height"),
    ("wrong parent", lambda chain: next_block(chain, parent_id=bytes(32)), WrongChain, "parent"),
    ("wrong proposer", lambda chain: next_block(chain, proposer=STRANGER.public_key, signer=STRANGER),
     WrongProposer, "expected"),
    ("forged signature", lambda chain: next_block(chain, signer=STRANGER), InvalidSignature, "not signed"),
    ("timestamp not after parent", lambda chain: next_block(chain, timestamp=chain.head.timestamp), BadTimestamp,
     "not after"),
    ("bad transaction root", lambda chain: next_block(chain, tx_root=bytes(32)), BadMerkleRoot, "transaction"),
    ("bad evidence root", lambda chain: next_block(chain, evidence_root=bytes(32)), BadMerkleRoot, "evidence"),
    ("bad commit hash", lambda chain: next_block(chain, last_commit_hash=bytes(32)), BadMerkleRoot, "commit"),
    ("too many transactions", lambda chain: next_block(chain, transactions=[
        sign_transfer(USER, KEYS[0].public_key, 1, nonce) for nonce in range(4)]), InvalidBlock, "limit"),
    ("overdraft", lambda chain: next_block(chain, transactions=[sign_transfer(USER, KEYS[0].public_key, 10**9, 0)]),
     InvalidBlock, "InsufficientBalance"),
    ("forged transaction", lambda chain: next_block(chain, transactions=[attrs.evolve(
        sign_transfer(USER, KEYS[0].public_key, 1, 0), signature=bytes(64))]), InvalidBlock, "BadSignature"),
    ("evidence of the current height", lambda chain: next_block(chain, evidence=[equivocation(KEYS[1], 2)]),
     InvalidEvidence, "cannot be included"),
    ("evidence against a stranger", lambda chain: next_block(chain, evidence=[equivocation(STRANGER, 1)]),
     InvalidEvidence, "not a validator"),
    ("two evidence against one offender", lambda chain: next_block(chain, evidence=[
        equivocation(KEYS[1], 1), Evidence.from_votes(*(Vote(PREVOTE, 1, 1, block_id, KEYS[1].public_key).signed(
            KEYS[1], GENESIS.chain_id) for block_id in (bytes(32), bytes([3]) * 32)))]), InvalidEvidence, "two"),
]


def test_a_block_checked_then_committed_runs_its_transactions_once(chain: Chain,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # check_block computes the block's effects; commit writes them instead of running the transactions again.
    block = next_block(chain, transactions=[sign_transfer(USER, KEYS[0].public_key, 10, 0)])
    twin = Chain.start(GENESIS)
    extend(twin, VALIDATORS)
    twin.commit(block, certify(block, VALIDATORS))
    runs: list[int] = []
    state_class = type(chain.state)
    original = state_class.prepare_block

    def counting(self: object, *args: object, **kwargs: object) -> object:
        runs.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(state_class, "prepare_block", counting)
    chain.commit(block, certify(block, VALIDATORS))  # unchecked: commit checks it first
    assert len(runs) == 1
    assert chain.state.snapshot().digest() == twin.state.snapshot().digest()


def test_a_block_checked_against_an_older_state_is_run_again(chain: Chain) -> None:
    twin = Chain.start(GENESIS)
    extend(twin, VALIDATORS)
    stale = next_block(chain, transactions=[sign_transfer(USER, KEYS[0].public_key, 10, 0)])
    chain.check_block(stale)  # prepared against height 1, never committed
    for current in (chain, twin):
        fresh = next_block(current)
        current.commit(fresh, certify(fresh, VALIDATORS))
        after = next_block(current, transactions=[sign_transfer(USER, KEYS[0].public_key, 7, 0)])
        current.commit(after, certify(after, VALIDATORS))
    assert chain.state.snapshot().digest() == twin.state.snapshot().digest()
    assert chain.state.next_nonce(USER.public_key) == 1


@pytest.mark.parametrize(("case", "make_block", "error", "match"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_blocks_are_refused_and_change_nothing(chain: Chain, case: str, make_block: Callable[[Chain], Block],
                                                       error: type[PosError], match: str) -> None:
    block = make_block(chain)
    before = chain.state.snapshot().digest()
    with pytest.raises(error, match=match):
        chain.check_block(block)
    with pytest.raises(error, match=match):
        chain.commit(block, certify(block, VALIDATORS))
    assert chain.state.snapshot().digest() == before
    assert chain.height == 1
    assert chain.store.head_height() == 1


def test_a_timestamp_too_far_ahead_is_refused_only_for_live_proposals(chain: Chain) -> None:
    block = next_block(chain, timestamp=10**9)
    with pytest.raises(BadTimestamp, match="ahead"):
        chain.check_block(block, latest_timestamp=10**9 - 1)
    chain.check_block(block)


def test_parent_certificates_must_be_present_valid_and_for_the_parent(chain: Chain) -> None:
    valid = next_block(chain)
    assert valid.last_commit is not None
    weak = certify(chain.block(1), VALIDATORS[:2])  # type: ignore[arg-type]
    wrong = certify(valid, VALIDATORS)
    for certificate, match in ((None, "lacks"), (weak, "2/3"), (wrong, "another block")):
        block = Block.build(proposer_key(chain), chain_id=GENESIS.chain_id, height=2, round=0,
                            timestamp=valid.header.timestamp, parent_id=chain.head.block_id, last_commit=certificate)
        with pytest.raises(InvalidCertificate, match=match):
            chain.check_block(block)


def test_evidence_expires_and_punishes_once(chain: Chain) -> None:
    extend(chain, VALIDATORS, evidence=[equivocation(KEYS[1], 1)])
    with pytest.raises(InvalidEvidence, match="already punished"):
        chain.check_evidence(equivocation(KEYS[1], 2), 3)
    extend(chain, VALIDATORS)
    extend(chain, VALIDATORS)
    with pytest.raises(InvalidEvidence, match="older than"):
        chain.check_evidence(equivocation(KEYS[2], 1), chain.height + 1)


def test_sync_verifies_the_certificate_then_applies() -> None:
    source = Chain.start(GENESIS)
    blocks = [extend(source, VALIDATORS, [sign_transfer(USER, KEYS[0].public_key, 5, nonce)]) for nonce in range(3)]
    follower = Chain.start(GENESIS)
    weak = certify(blocks[0], VALIDATORS[:2])
    with pytest.raises(InvalidCertificate, match="2/3"):
        follower.apply_synced(blocks[0], weak)
    with pytest.raises(InvalidCertificate, match="not for this block"):
        follower.apply_synced(blocks[0], source.certificate(2))  # type: ignore[arg-type]
    with pytest.raises(WrongChain, match="next height"):
        follower.apply_synced(blocks[1], source.certificate(2))  # type: ignore[arg-type]
    for height, block in enumerate(blocks, start=1):
        certificate = source.certificate(height)
        assert certificate is not None
        receipts = follower.apply_synced(block, certificate)
        assert len(receipts) == 1
        assert follower.apply_synced(block, certificate) == []
    assert follower.state.snapshot().digest() == source.state.snapshot().digest()
    follower.check_invariants()


def test_a_valid_certificate_for_another_block_at_a_finalized_height_is_reported(chain: Chain) -> None:
    other = Chain.start(GENESIS)
    fork = extend(other, VALIDATORS, timestamp=5_555)
    assert fork.block_id != chain.head.block_id
    with pytest.raises(ConflictingCommit, match="height 1"):
        chain.apply_synced(fork, certify(fork, VALIDATORS))
    assert chain.apply_synced(fork, certify(fork, VALIDATORS[:1])) == []


def test_restart_resumes_and_finishes_an_interrupted_commit(tmp_path: Path) -> None:
    def open_chain() -> Chain:
        return Chain.start(GENESIS, SQLiteStore(tmp_path / "ledger.db"),
                           SQLiteChainStore(tmp_path / "chain.db", pos_registry()))

    chain = open_chain()
    extend(chain, VALIDATORS, [sign_transfer(USER, KEYS[0].public_key, 5, 0)])
    pending = next_block(chain, transactions=[sign_transfer(USER, KEYS[0].public_key, 5, 1)])
    # A crash after the chain store wrote the block and before the ledger applied it.
    chain.store.put_block(pending, certify(pending, VALIDATORS))
    chain.state.close()
    chain.store.close()
    reopened = open_chain()
    assert reopened.height == 2
    assert reopened.head.block_id == pending.block_id
    assert reopened.state.next_nonce(USER.public_key) == 2
    reopened.check_invariants()
    assert reopened.last_certificate == certify(pending, VALIDATORS)
    reopened.state.close()
    reopened.store.close()


def test_a_ledger_ahead_of_its_chain_store_is_refused(tmp_path: Path) -> None:
    chain = Chain.start(GENESIS, SQLiteStore(tmp_path / "ledger.db"))
    extend(chain, VALIDATORS)
    chain.state.close()
    with pytest.raises(ChainStoreError, match="chain store at height 0 but ledger at 1"):
        Chain.start(GENESIS, SQLiteStore(tmp_path / "ledger.db"),
                    SQLiteChainStore(tmp_path / "chain.db", pos_registry()))


def test_another_genesis_is_refused(tmp_path: Path) -> None:
    Chain.start(GENESIS, SQLiteStore(tmp_path / "ledger.db")).state.close()
    other = make_pos_genesis(KEYS, [10_000] * 4, params=attrs.evolve(PARAMS, block_reward=11))
    with pytest.raises(PosGenesisError, match="PoS genesis"):
        Chain.start(other, SQLiteStore(tmp_path / "ledger.db"))


def test_the_supply_check_catches_tokens_from_nowhere(chain: Chain) -> None:
    chain.check_invariants()
    chain.state.apply_block([], system=lambda ctx: ctx.mint(USER.public_key, 1, "not a reward"))
    with pytest.raises(SupplyInvariantViolated, match="minted"):
        chain.check_invariants()


def test_validator_sets_are_kept_for_the_evidence_window(chain: Chain) -> None:
    for _ in range(5):
        extend(chain, VALIDATORS)
    chain.validator_set(chain.height + 1)
    chain.validator_set(chain.height - PARAMS.evidence_max_age)
    with pytest.raises(KeyError, match="not kept"):
        chain.validator_set(1)
    with pytest.raises(ValueError, match="next height"):
        chain.proposer(chain.height, 0)
