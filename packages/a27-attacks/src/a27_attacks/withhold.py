"""Withholding: a validator that never proposes, keeps its votes to itself, or serves no blocks.

`Withhold` is a validator behaviour (`PosSettings.behaviour`, `make_engines(behaviours=...)`), each part switchable.
Nothing in a27-pos needs switching on against it; the defences are structural (DESIGN.md, "Withholding"):
- a withheld proposal costs its round: the others prevote nil after `timeout_propose` and the next round has
  another proposer;
- withheld votes cost nothing while the withholders hold less than a third of the stake (a quorum forms without
  them); from a third on the chain halts for everyone, the BFT liveness bound, not an attack on one account;
- a validator that serves no blocks costs a light node that long-polls it `follow_timeout`, after which the light
  node asks the next validator (`BlockSync.follow`).
`withholding_delay` measures what withheld proposals cost every transfer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs

from a27_ledger import sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import ConsensusEngine, HonestBehaviour, MessageBus, Proposal, Vote, make_engines
from a27_pos.behaviour import ConsensusMessage
from a27_pos.testing import make_pos_genesis

Recipient = TypeVar("Recipient")


class Withhold(HonestBehaviour):
    """Withholds its own proposals (`proposals`), its own votes (`votes`) and finalized blocks (`blocks`) from
    everyone; relays and announces as an honest node does."""

    name = "withhold"

    def __init__(self, *, proposals: bool = True, votes: bool = False, blocks: bool = True) -> None:
        """Withhold what the flags say."""
        self.proposals, self.votes, self.blocks = proposals, votes, blocks

    def outgoing(self, engine: ConsensusEngine, message: ConsensusMessage,
                 recipients: Sequence[Recipient]) -> list[tuple[ConsensusMessage, Sequence[Recipient]]]:
        """Nothing for an own proposal or vote that is withheld; everything else as an honest node."""
        own = engine.key.public_key if engine.key is not None else None
        if self.proposals and isinstance(message, Proposal) and message.block.proposer == own:
            return []
        if self.votes and isinstance(message, Vote) and message.validator == own:
            return []
        return [(message, recipients)]

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Never, when withholding blocks."""
        return not self.blocks


@attrs.frozen
class WithholdingDelay:
    """Mean seconds from submitting a transfer to its finality at an honest validator, with `withholders` of
    `validators` equal-stake validators withholding their proposals, and without any (`baseline`)."""

    withholders: int
    validators: int
    mean: float
    baseline: float
    unfinished: int
    """Transfers not final by the end of the run (with withholders)."""

    @property
    def extra(self) -> float:
        """The extra finality delay the withholders cause, in seconds."""
        return self.mean - self.baseline


def withholding_delay(withholders: int, *, validators: int = 4, transfers: int = 40, interval: float = 0.7,
                      seed: int = 0, votes: bool = False) -> WithholdingDelay:
    """Measure the finality delay of `transfers` transfers submitted every `interval` seconds (virtual) when the
    first `withholders` validators withhold their proposals (and their votes if `votes`), against the same run with
    every validator honest. Deterministic for a seed."""
    keys = make_keys(validators + 2, seed=seed)
    genesis = make_pos_genesis(keys, [10_000] * validators)

    def run(behaviours: dict[int, HonestBehaviour]) -> tuple[float, int]:
        bus = MessageBus(make_engines(keys[:validators], genesis, behaviours=behaviours), seed=seed)
        sender, recipient = keys[validators], keys[validators + 1]
        sent = []
        for nonce in range(transfers):
            bus.run(1.0 + nonce * interval)
            transfer = sign_transfer(sender, recipient.public_key, 1, nonce)
            bus.submit(transfer)
            sent.append(transfer.tx_id)
        bus.run(1.0 + transfers * interval + 30.0)
        committed = bus.committed_at[bus.honest[0]]
        delays = [committed[tx_id] - bus.submitted_at[tx_id] for tx_id in sent if tx_id in committed]
        return (sum(delays) / len(delays) if delays else float("inf")), len(sent) - len(delays)

    baseline, _ = run({})
    mean, unfinished = run({index: Withhold(votes=votes) for index in range(withholders)})
    return WithholdingDelay(withholders, validators, mean, baseline, unfinished)
