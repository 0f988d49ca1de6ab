"""
Lab 1's double spend on real node processes: three ledger-only validators (``layers = ["ledger"]``) and one red light
node running ``behaviour = "double-spend-lab1"``, whose ``act`` runs in its own process through its node's arena
(``a27_harness.node.arena``): it signs two transfers of its whole balance under one nonce, to sink-a and sink-b, and
sends them to two validators at once. With the ledger's defences on, the validators end with one ledger between them
and the red accounts hold the balance once (no token paid twice), as in ``a27 attack double-spend-lab1``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from realnet import Nodes, NodeSpec

from a27_attacks import account_key
from a27_harness.client import ClientError
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


def _red_holdings(nodes: Nodes, name: str, accounts: list[bytes]) -> tuple[int, ...]:
    """What ``accounts`` hold in validator ``name``'s ledger now (its REST API; 0 for one it never credited)."""
    client = nodes.client(name)
    holdings = []
    for account in accounts:
        try:
            holdings.append(client.balance(account))
        except ClientError as error:
            if error.status != 404:
                raise
            holdings.append(0)
    return tuple(holdings)


@pytest.mark.timeout(90)
def test_a_red_light_node_double_spends_on_a_real_lab1_network_and_nobody_is_paid_twice(tmp_path: Path) -> None:
    ports = free_ports(len(VALIDATORS) + 1)
    rest_ports = free_ports(len(VALIDATORS), socket.SOCK_STREAM)
    bootstrap = [f"127.0.0.1:{port}" for port in ports[:len(VALIDATORS)]]
    specs = [NodeSpec(name, "validator", "127.0.0.1", port, bootstrap, rest_port=rest_port, layers=("ledger",))
             for name, port, rest_port in zip(VALIDATORS, ports, rest_ports, strict=False)]
    specs.append(NodeSpec("red", "light", "127.0.0.1", ports[-1], bootstrap, behaviour="double-spend-lab1",
                          layers=("ledger",)))
    nodes = Nodes(tmp_path, specs, chain_id="a27-lab1")
    red = [nodes.keys["red"].public_key, *(account_key(name).public_key for name in ("sink-a", "sink-b"))]

    def settled() -> bool:
        """Red's act has finished and the validators hold the same for red's accounts (a double spend they admitted
        both halves of is voided once the conflicting entries meet; one they saw in time is refused)."""
        if "double-spend-lab1: act finished at" not in nodes.log("red").read_text(encoding="utf-8"):
            return False
        return len({_red_holdings(nodes, name, red) for name in VALIDATORS}) == 1

    try:
        for spec in specs:
            nodes.start(spec.name)
        nodes.until(settled, SETTLE, "red's act to finish and the validators to agree on red's accounts")
        for spec in specs:
            nodes.stop(spec.name)
    finally:
        nodes.kill_all()
    red_log = nodes.log("red").read_text(encoding="utf-8")
    assert red_log.count("double-spend-lab1 sends transaction") == 2, red_log
    assert red_log.count(" answered transaction ") == 2, red_log
    assert "double-spend-lab1: amount signed twice: 1000000" in red_log
    ledgers = {name: _balances(nodes, name) for name in VALIDATORS}
    assert len({tuple(ledger) for ledger in ledgers.values()}) == 1, ledgers
    held = dict(ledgers["v0"])
    assert sum(held.get(account, 0) for account in red) == 1_000_000, held
