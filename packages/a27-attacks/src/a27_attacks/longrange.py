"""Long-range fork: validators that have unbonded sign another history from an old height.

A commit certificate proves only that the validator set of its height signed. Once that set has unbonded and its
stake was released (`unbonding_delay` blocks later), its members risk nothing by signing a second history from a
height where they held more than two thirds: evidence against them can no longer be included (it is older than
`evidence_max_age`) and there is nothing left to slash. Every certificate of that history verifies against the
validator sets the history itself computes, so a node that syncs from genesis (a new light node, a validator
restarting with an empty store) cannot tell it from the real chain by signatures. The attacker's spending on the
real chain (the tokens it unbonded and paid away) is then undone for that node, and the tokens are spent again.

The defence lives in a27-pos: `pos.checkpoints` (weak subjectivity, `a27_pos.Checkpoint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from a27_ledger import KeyPair, Transaction
from a27_pos import PRECOMMIT, Block, Chain, CommitCertificate, PosError, PosGenesis, Vote

CertifiedBlock = tuple[Block, CommitCertificate]
"""A finalized block with its commit certificate, as block sync carries it."""

MAX_ROUNDS = 64
"""Rounds tried per height for one of the attacker's keys to be the proposer."""


class ForkImpossible(Exception):
    """The keys given cannot sign the forged history (not the proposer in any round tried, or not two thirds)."""


@attrs.frozen
class SyncOutcome:
    """What a syncing node made of a history it was served: blocks applied, and the error that stopped it if any."""

    applied: int
    refused: PosError | None


def forge_history(genesis: PosGenesis, shared: Iterable[CertifiedBlock], keys: Sequence[KeyPair],
                  transactions: Iterable[Sequence[Transaction]], *, block_interval_ms: int = 1_000,
                  ) -> list[CertifiedBlock]:
    """An alternative history: the `shared` prefix of the real chain replayed, then one block per entry of
    `transactions`, each proposed by one of `keys` (in the first round where one is the proposer) and certified by
    the precommits of all of `keys` that validate at its height.

    Returns the forged blocks only (the prefix is the real chain's). ForkImpossible if `keys` do not hold more than
    two thirds of some height's validator set or never propose within MAX_ROUNDS rounds."""
    chain = Chain.start(genesis)
    for block, certificate in shared:
        chain.apply_synced(block, certificate)
    by_account = {key.public_key: key for key in keys}
    forged: list[CertifiedBlock] = []
    for contents in transactions:
        height = chain.height + 1
        validator_set = chain.validator_set(height)
        signers = [key for key in keys if key.public_key in validator_set]
        if not validator_set.has_quorum(sum(validator_set.power(key.public_key) for key in signers)):
            raise ForkImpossible(f"the keys hold no two-thirds quorum of height {height}")
        round_number = next((candidate for candidate in range(MAX_ROUNDS)
                             if chain.proposer(height, candidate) in by_account), None)
        if round_number is None:
            raise ForkImpossible(f"none of the keys proposes at height {height} within {MAX_ROUNDS} rounds")
        proposer = by_account[chain.proposer(height, round_number)]
        block = chain.build_block(proposer, round_number, chain.head.timestamp + block_interval_ms, contents)
        certificate = CommitCertificate.from_votes(
            Vote(PRECOMMIT, height, round_number, block.block_id, key.public_key).signed(key, chain.chain_id)
            for key in signers)
        chain.commit(block, certificate)
        forged.append((block, certificate))
    return forged


def serve_history(victim: Chain, history: Iterable[CertifiedBlock]) -> SyncOutcome:
    """Hand `victim` the blocks of `history` in height order, as block sync does with a peer's BlockResponses
    (`Chain.apply_synced`, the path of both a light node and a validator catching up); stop at the first refusal."""
    applied = 0
    for block, certificate in history:
        before = victim.height
        try:
            victim.apply_synced(block, certificate)
        except PosError as error:
            return SyncOutcome(applied, error)
        applied += victim.height - before
    return SyncOutcome(applied, None)
