"""``channel_deposits``: what an account holds in channels still escrowed on chain, as the battle referee and the
attack audit count it (BATTLE.md, "What counts as stolen")."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from a27_channels import PARTY_A, PARTY_B, ChannelRecord, ChannelState, ChannelStatus, ChannelTerms, CloseOutcome, Htlc
from a27_harness import audit
from a27_ledger import KeyPair

ALICE, BOB = KeyPair.from_seed(bytes([0x21]) * 32).public_key, KeyPair.from_seed(bytes([0x22]) * 32).public_key


def _record(terms: ChannelTerms, status: ChannelStatus, pending: tuple[int, ...] = ()) -> ChannelRecord:
    htlcs = (Htlc(5, PARTY_A, 1_200, bytes([0xAA]) * 32, 140), Htlc(8, PARTY_B, 300, bytes([0xAB]) * 32, 141))
    published = ChannelState(terms.channel_id, 9, PARTY_B, 60_000, 38_500, htlcs)
    if status is ChannelStatus.OPEN:
        return ChannelRecord(terms, status, bytes(32), 42)
    return ChannelRecord(terms, status, bytes(32), 42, CloseOutcome.UNILATERAL, 120, 140, PARTY_B, published, pending)


def test_open_and_closing_channels_hold_the_deposits_and_settling_ones_only_their_pending_htlcs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    terms = [ChannelTerms(ALICE, BOB, 70_000, 30_000, 20, 150, salt=salt) for salt in range(3)]
    records = {terms[0].channel_id: _record(terms[0], ChannelStatus.OPEN),
               terms[1].channel_id: _record(terms[1], ChannelStatus.CLOSING),
               terms[2].channel_id: _record(terms[2], ChannelStatus.SETTLING, (5, 8))}
    monkeypatch.setattr(audit, "channel_record", lambda _state, key: records.get(key))
    escrows = [("channel", terms[0].channel_id, 100_000), ("channel", terms[1].channel_id, 100_000),
               ("channel", terms[2].channel_id, 1_500), ("bond", ALICE, 7)]
    snapshot = cast(Any, SimpleNamespace(escrows=escrows))
    held = audit.channel_deposits(cast(Any, None), snapshot, [ALICE, BOB])
    # Open and closing: each party's deposit. Settling: the balances are paid out; HTLC 5 is ALICE's, 8 BOB's.
    assert held == {ALICE: 2 * 70_000 + 1_200, BOB: 2 * 30_000 + 300}
    assert audit.channel_deposits(cast(Any, None), snapshot, [BOB]) == {BOB: 60_300}
