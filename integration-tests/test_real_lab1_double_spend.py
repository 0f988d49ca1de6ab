"""
Lab 1's double spend on real node processes: three ledger-only validators (``layers = ["ledger"]``) and one red light
node running ``behaviour = "double-spend-lab1"``, whose ``act`` runs in its own process through its node's arena
(``a27_harness.node.arena``): it signs two transfers of its whole balance under one nonce, to sink-a and sink-b, and
sends them to two validators at once. With the ledger's defences on, the validators end with one ledger between them
and the red accounts hold the balance once (no token paid twice), as in ``a27 attack double-spend-lab1``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from realnet import Nodes, NodeSpec

from a27_attacks import account_key
from a27_harness.node.config import load_config
from a27_harness.processes import free_ports
from a27_ledger import SQLiteStore

VALIDATORS = ("v0", "v1", "v2")
SETTLE = 20.0
"""Seconds at most for the act to finish and the validators to hold the same balances for red's accounts."""


def _balances(nodes: Nodes, name: str) -> list[tuple[bytes, int]]:
    """The stopped node's stored balances (its SQLite ledger)."""
    config = load_config(nodes.root / name / "node.toml")
    store = SQLiteStore(config.data_dir / f"{name}.db")
    try:
        return sorted(store.balances())
    finally:
        store.close()


@pytest.mark.timeout(90)
def test_a_red_light_node_double_spends_on_a_real_lab1_network_and_nobody_is_paid_twice(tmp_path: Path) -> None:
    ports = free_ports(len(VALIDATORS) + 1)
    bootstrap = [f"127.0.0.1:{port}" for port in ports[:len(VALIDATORS)]]
    specs = [NodeSpec(name, "validator", "127.0.0.1", port, bootstrap, layers=("ledger",))
             for name, port in zip(VALIDATORS, ports, strict=False)]
    specs.append(NodeSpec("red", "light", "127.0.0.1", ports[-1], bootstrap, behaviour="double-spend-lab1",
                          layers=("ledger",)))
    nodes = Nodes(tmp_path, specs, chain_id="a27-lab1")
    red_log = ""
    try:
        for spec in specs:
            nodes.start(spec.name)
        nodes.until(lambda: "double-spend-lab1: act finished at" in nodes.log("red").read_text(encoding="utf-8"),
                    SETTLE, "red's act to finish")
        # Each validator relays what it admitted; give the conflicting entries a few seconds to meet everywhere.
        nodes.until(lambda: all("double spend" in nodes.log(name).read_text(encoding="utf-8") for name in VALIDATORS),
                    SETTLE, "every validator to see the conflicting transfers")
        for spec in specs:
            nodes.stop(spec.name)
        red_log = nodes.log("red").read_text(encoding="utf-8")
    finally:
        nodes.kill_all()
    assert red_log.count("double-spend-lab1 sends transaction") == 2, red_log
    assert red_log.count(" answered transaction ") == 2, red_log
    assert "double-spend-lab1: amount signed twice: 1000000" in red_log
    ledgers = {name: _balances(nodes, name) for name in VALIDATORS}
    assert len({tuple(ledger) for ledger in ledgers.values()}) == 1, ledgers
    red = [nodes.keys["red"].public_key, *(account_key(name).public_key for name in ("sink-a", "sink-b"))]
    held = dict(ledgers["v0"])
    assert sum(held.get(account, 0) for account in red) == 1_000_000, held
