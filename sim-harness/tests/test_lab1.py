"""Lab 1's verdict: every node's ledger is compared, and the nodes that differ are named."""

from __future__ import annotations

from a27_harness.labs.lab1 import NodeReport, ledger_disagreement
from a27_ledger import Genesis, LedgerState, sign_transfer
from a27_ledger.testing import make_keys


def _report(name: str, state: LedgerState, waiting: int = 0) -> NodeReport:
    snapshot = state.snapshot()
    return NodeReport(name, "light", snapshot.applied, snapshot.digest().hex(), waiting, 0, {}, snapshot)


def _states(count: int) -> tuple[list[LedgerState], list[bytes]]:
    keys = make_keys(3, seed=11)
    genesis = Genesis.build("a27-test", {key.public_key: 1_000 for key in keys}, [keys[0].public_key])
    return [LedgerState.from_genesis(genesis) for _ in range(count)], [key.public_key for key in keys]


def test_nodes_with_another_ledger_are_named() -> None:
    keys = make_keys(3, seed=11)
    states, accounts = _states(4)
    for state in states[:2]:
        state.apply(sign_transfer(keys[1], accounts[2], 10, 0))
    # Same nonce, another transfer: the ledgers now differ in balances (and not in nonces).
    states[3].apply(sign_transfer(keys[1], accounts[0], 10, 0))
    reports = [_report(name, state) for name, state in zip(("v0", "l0", "l1", "l2"), states, strict=True)]
    assert ledger_disagreement(reports) == ("l1", "l2")
    assert ledger_disagreement(reports[:2]) == ()


def test_a_node_still_waiting_for_log_entries_has_not_settled() -> None:
    states, _ = _states(2)
    assert ledger_disagreement([_report("v0", states[0]), _report("l0", states[1], waiting=1)]) == ("l0",)
    assert ledger_disagreement([]) == ()
