"""Fixtures for tests, for the layers above and for the harness: PoS genesis builders, certificates, chains."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from a27_ledger import KeyPair, Transaction
from a27_ledger.testing import make_keys
from a27_pos.block import Block
from a27_pos.chain import Chain
from a27_pos.evidence import AnyEvidence
from a27_pos.params import PosGenesis, PosParams
from a27_pos.votes import PRECOMMIT, CommitCertificate, Vote


def make_pos_genesis(
    keys: Sequence[KeyPair],
    stakes: Sequence[int] | int = 10_000,
    *,
    balance: int = 1_000_000,
    params: PosParams | None = None,
    chain_id: str = "a27-test",
) -> PosGenesis:
    """A genesis where every key holds `balance` to spend and the first `len(stakes)` keys stake `stakes[i]`.

    An int for `stakes` stakes that much on every key. Accounts are named n0, n1, ...
    """
    amounts = [stakes] * len(keys) if isinstance(stakes, int) else list(stakes)
    if len(amounts) > len(keys):
        raise ValueError("more stakes than keys")
    return PosGenesis.build(
        chain_id,
        {key.public_key: balance for key in keys},
        {key.public_key: stake for key, stake in zip(keys, amounts, strict=False)},
        params,
        {key.public_key: f"n{index}" for index, key in enumerate(keys)},
    )


def make_validators(n: int, stakes: Sequence[int] | int = 10_000, *, seed: int = 0,
                    params: PosParams | None = None) -> tuple[list[KeyPair], PosGenesis]:
    """`n` deterministic keys, all staking, and their genesis."""
    keys = make_keys(n, seed=seed)
    return keys, make_pos_genesis(keys, stakes, params=params)


def certify(block: Block, keys: Iterable[KeyPair], round_number: int | None = None) -> CommitCertificate:
    """A certificate for `block` with precommits signed by `keys` (in the block's round unless given)."""
    round_number = block.header.round if round_number is None else round_number
    votes = [Vote(PRECOMMIT, block.height, round_number, block.block_id, key.public_key).signed(key,
                                                                                             block.header.chain_id)
             for key in keys]
    return CommitCertificate.from_votes(votes)


def extend(chain: Chain, keys: Sequence[KeyPair], transactions: Sequence[Transaction] = (), *,
           evidence: Sequence[AnyEvidence] = (), round_number: int = 0, timestamp: int | None = None) -> Block:
    """Build, certify (by every key in `keys` that validates) and commit the next block; the proposer signs it.

    The proposer is the chain's proposer of `round_number`, looked up among `keys`.
    """
    by_account = {key.public_key: key for key in keys}
    height = chain.height + 1
    proposer = by_account[chain.proposer(height, round_number)]
    block = chain.build_block(proposer, round_number, chain.head.timestamp + 1_000 if timestamp is None else timestamp,
                              transactions, evidence)
    validator_set = chain.validator_set(height)
    chain.commit(block, certify(block, [key for key in keys if key.public_key in validator_set]))
    return block


class LoopClock:
    """A clock for test nodes: `start` seconds at its first reading, then advancing with the running event loop.

    Share one instance among the nodes of a test so that they agree on the time, as Unix time makes real nodes agree,
    while the test depends neither on the wall clock nor on the host's uptime (a real loop's clock). `start` near 0
    and near 10**9 covers a fresh simulation and a Unix-time deployment.
    """

    def __init__(self, start: float = 0.0) -> None:
        """A clock that will read `start` when first read."""
        self.start = start
        self._offset: float | None = None

    def __call__(self) -> float:
        """Seconds: `start` plus the loop time elapsed since the first reading."""
        loop_time = asyncio.get_running_loop().time()
        if self._offset is None:
            self._offset = self.start - loop_time
        return loop_time + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` ahead at once, for a test that needs time to pass without waiting for it."""
        self.start += seconds
        if self._offset is not None:
            self._offset += seconds
