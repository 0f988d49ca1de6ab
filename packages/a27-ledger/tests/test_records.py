"""Receipts, supply events and change sets."""

from __future__ import annotations

from a27_ledger import StateChanges, StoreMeta, SupplyEvent


def test_absorb_layers_later_changes_on_top() -> None:
    earlier, later = StateChanges(), StateChanges()
    earlier.balances.update({b"a": 5, b"b": 1})
    earlier.minted = 2
    earlier.supply_events.append(SupplyEvent(1, "mint", b"a", 2, "reward"))
    later.balances[b"a"] = 0
    later.nonces[b"a"] = 3
    later.escrows[("stake", b"a")] = 4
    later.data[("notes", b"a")] = None
    later.burned = 1
    later.supply_events.append(SupplyEvent(2, "burn", b"b", 1, "slash"))
    earlier.absorb(later)
    assert earlier.balances == {b"a": 0, b"b": 1}
    assert earlier.nonces == {b"a": 3}
    assert earlier.escrows == {("stake", b"a"): 4}
    assert earlier.data == {("notes", b"a"): None}
    assert (earlier.minted, earlier.burned) == (2, 1)
    assert [event.sequence for event in earlier.supply_events] == [1, 2]


def test_total_supply_of_meta() -> None:
    assert StoreMeta(None, 100, 7, 3, 0).total_supply == 104
