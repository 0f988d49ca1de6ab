"""Censoring one account: Byzantine validators leave every transaction of a victim out of their blocks.

`Censor` is a validator behaviour (`PosSettings.behaviour`, `make_engines(behaviours=...)`): it proposes the honest
choice minus the victims' transactions, and does not relay them to the other validators. It votes honestly (a
censor that also withheld votes would be the withholding attack, and more than a third of such stake halts the
chain for everyone, which is no longer censorship of one account).

What defeats it lives in a27-pos: the proposer rotates (round robin or lottery, both weighted by stake), so the next
honest proposer includes the transaction, which honest validators hold because a light node's transfer reaches an
honest validator (`pos.resubmit`: a submitter whose transfer is admitted but not final asks the next validator) and
honest validators relay it to each other. `censorship_delay` measures what the victim pays for it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Sequence
from typing import TypeVar

import attrs

from a27_ledger import Transaction, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import AnyEvidence, ConsensusEngine, HonestBehaviour, MessageBus, PosParams, make_engines
from a27_pos.testing import make_pos_genesis

Recipient = TypeVar("Recipient")

log = logging.getLogger(__name__)


class Censor(HonestBehaviour):
    """Leaves every transaction sent by one of `victims` out of the blocks it proposes and does not relay them; each
    time, one log line (logger `a27_attacks.censor`, INFO) names the transactions."""

    name = "censor"

    def __init__(self, victims: Iterable[bytes]) -> None:
        """Censor the accounts `victims`."""
        self.victims = frozenset(victims)

    def block_contents(self, engine: ConsensusEngine, transactions: Sequence[Transaction],
                       evidence: Sequence[AnyEvidence]) -> tuple[Sequence[Transaction], Sequence[AnyEvidence]]:
        """The honest choice without the victims' transactions. A transaction of another sender that spends what a
        victim's transfer in the same block would pay it no longer applies then: honest validators refuse that block
        and the censor loses its round, which only helps the victim."""
        kept = [tx for tx in transactions if tx.sender not in self.victims]
        if len(kept) < len(transactions):
            log.info("censor: %d transactions of a victim left out of the block built at height %d: %s",
                     len(transactions) - len(kept), engine.chain.height + 1,
                     " ".join(tx.tx_id.hex()[:16] for tx in transactions if tx.sender in self.victims))
        return kept, evidence

    def relay_transaction(self, transaction: Transaction, recipients: Sequence[Recipient]) -> Sequence[Recipient]:
        """Nobody for a victim's transaction (logged), every validator otherwise."""
        if transaction.sender not in self.victims:
            return recipients
        log.info("censor: transaction %s of a victim admitted and relayed to nobody", transaction.tx_id.hex()[:16])
        return []


@attrs.frozen
class CensorshipDelay:
    """What censors holding `censor_share` of the stake cost a victim: seconds from submitting each transfer to its
    finality at an honest validator (`delays`, one per run; None for a transfer not final within the horizon)."""

    censor_share: float
    delays: tuple[float | None, ...]

    @property
    def censored(self) -> int:
        """Transfers that never became final within the horizon."""
        return sum(delay is None for delay in self.delays)

    @property
    def mean(self) -> float | None:
        """Mean delay of the transfers that became final (None if none did)."""
        final = [delay for delay in self.delays if delay is not None]
        return statistics.fmean(final) if final else None

    @property
    def worst(self) -> float | None:
        """Longest delay, None if some transfer never became final (or there was none)."""
        if not self.delays or self.censored:
            return None
        return max(delay for delay in self.delays if delay is not None)


def censorship_delay(censor_share: float, *, validators: int = 10, runs: int = 8, seed: int = 0,
                     submit_at: float = 5.0, spread: float = 12.0, horizon: float = 60.0,
                     proposer_strategy: str = "weighted-round-robin") -> CensorshipDelay:
    """Measure the finality delay of a victim's transfer when censors hold `censor_share` of the stake.

    `validators` equal-stake validators on the in-memory network; `round(censor_share * validators)` of them censor
    the victim (a light account): the first in account order, which the round robin lets propose one after the
    other, the worst case for the victim. The victim's transfer reaches every validator's mempool (what relaying and
    `pos.resubmit` achieve); run i submits it at `submit_at + i * spread / runs` (`spread` about one rotation of
    proposers), so the runs meet the proposer order at different places. One delay per run (seeds
    `seed`..`seed + runs - 1`), in virtual seconds, deterministic.
    """
    if not 0.0 <= censor_share <= 1.0:
        raise ValueError(f"censor_share {censor_share} is not in [0, 1]")
    censors = round(censor_share * validators)
    keys = make_keys(validators + 2, seed=seed)
    victim, recipient = keys[validators], keys[validators + 1]
    genesis = make_pos_genesis(keys, [10_000] * validators, params=PosParams(proposer_strategy=proposer_strategy))
    in_account_order = sorted(range(validators), key=lambda index: keys[index].public_key)
    behaviours = {index: Censor([victim.public_key]) for index in in_account_order[:censors]}
    delays: list[float | None] = []
    for run in range(runs):
        bus = MessageBus(make_engines(keys[:validators], genesis, behaviours=behaviours), seed=seed + run)
        bus.run(submit_at + run * spread / runs)
        transfer = sign_transfer(victim, recipient.public_key, 1, 0)
        bus.submit(transfer)
        bus.run(horizon)
        honest = bus.honest[0] if bus.honest else 0
        final_at = bus.committed_at[honest].get(transfer.tx_id)
        delays.append(None if final_at is None else final_at - bus.submitted_at[transfer.tx_id])
    return CensorshipDelay(censors / validators, tuple(delays))
