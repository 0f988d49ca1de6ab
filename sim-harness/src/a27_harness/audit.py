"""
What an account holds on a finalized chain and what the chain records against it: the audit shared by the attack
runner (``a27_harness.attacks.runner``, one run against its honest replay) and the battle referee
(``a27_harness.battle.scoring``, a real chain against its declared workload).

Pure functions over a ledger state and blocks; no I/O.
"""

from __future__ import annotations

from collections.abc import Collection

from a27_channels import CHANNEL, ChannelStatus, channel_record
from a27_ledger import LedgerSnapshot, LedgerState
from a27_pos import Block


def channel_deposits(state: LedgerState, snapshot: LedgerSnapshot, accounts: Collection[bytes]) -> dict[bytes, int]:
    """What each of ``accounts`` holds in channels still escrowed on chain (Lab 3): an account's channel left open (or
    closing) at the end holds its deposit, since its off-chain balance is not on chain; a channel settling its HTLCs
    has paid both balances out, and each HTLC still pending there is its offerer's until the chain decides it."""
    held: dict[bytes, int] = {}
    for name, key, _amount in snapshot.escrows:
        record = channel_record(state, key) if name == CHANNEL else None
        if record is None:
            continue
        if record.status is ChannelStatus.SETTLING and record.published is not None:
            parts = [(record.terms.parties[htlc.offerer], htlc.amount)
                     for htlc in map(record.published.htlc, record.pending_htlcs)]
        else:
            parts = [(record.terms.party_a, record.terms.deposit_a), (record.terms.party_b, record.terms.deposit_b)]
        for party, amount in parts:
            if party in accounts:
                held[party] = held.get(party, 0) + amount
    return held


def burned(state: LedgerState) -> dict[bytes, int]:
    """Tokens the chain burned (slashing) from each account, from the ledger's supply events."""
    totals: dict[bytes, int] = {}
    for event in state.supply_events():
        if event.kind == "burn":
            totals[event.account] = totals.get(event.account, 0) + event.amount
    return totals


def evidence_kinds(block: Block) -> list[str]:
    """The class names of the evidence ``block`` carries (``Evidence``: votes; ``ProposalEvidence``), sorted, once
    each."""
    return sorted({type(item).__name__ for item in block.evidence})


def evidence_signal(height: int, block: Block) -> str | None:
    """The detection signal a finalized block with evidence gives (None without): one line naming its kinds."""
    if not block.evidence:
        return None
    return f"{'/'.join(evidence_kinds(block))} included in finalized block {height}"

