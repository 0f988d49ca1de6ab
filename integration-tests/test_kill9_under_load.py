"""
``kill -9`` a validator under load (Lab 5): 4 validators and a light node as ``a27 node run`` processes on 127.0.0.1,
each with its REST API; signed transfers from funded accounts go in through the light node's API. One validator is
killed with SIGKILL mid-load (no handler runs) and restarted from its data directory: it catches up, and every
transfer the API reported final, before or after the kill, is in every node's finalized chain, with the same
balances everywhere.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from realnet import Load, Nodes, NodeSpec, blocks_through_rest, dump

from a27_harness.processes import free_ports
from a27_ledger import KeyPair

VALIDATORS = ("v0", "v1", "v2", "v3")
NAMES = (*VALIDATORS, "l0")
SENDERS = [KeyPair.from_seed(bytes([0xA0 + index]) * 32) for index in range(4)]
RECIPIENT = KeyPair.from_seed(b"\xaf" * 32).public_key
FUNDS = 1_000_000


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    """Four validators and a light node, each serving REST on loopback, and four funded senders."""
    ports = dict(zip(NAMES, free_ports(len(NAMES)), strict=True))
    rest_ports = dict(zip(NAMES, free_ports(len(NAMES), socket.SOCK_STREAM), strict=True))
    bootstrap = [f"127.0.0.1:{ports[name]}" for name in VALIDATORS]
    specs = [NodeSpec(name, "light" if name == "l0" else "validator", "127.0.0.1", ports[name], bootstrap,
                      rest_port=rest_ports[name]) for name in NAMES]
    network = Nodes(tmp_path, specs, funded=[(sender.public_key, FUNDS) for sender in SENDERS])
    try:
        yield network
    finally:
        network.kill_all()


@pytest.mark.timeout(90)
def test_a_validator_killed_under_load_restarts_catches_up_and_no_final_transfer_is_lost(nodes: Nodes) -> None:
    started = time.monotonic()
    for name in NAMES:
        nodes.start(name)
    nodes.until(lambda: all(nodes.height(name) >= 2 for name in NAMES), 30, "every node to finalize height 2")
    load = Load(nodes.client("l0"), SENDERS, RECIPIENT, interval=0.5)
    load.start()
    try:
        nodes.until(lambda: len(load.final()) >= 8, 20, "8 transfers final before the kill")
        nodes.kill("v3")
        final_before = len(load.final())
        killed_at = nodes.height("v3")
        # Three validators of four hold more than two thirds of the stake: finality goes on without v3.
        nodes.until(lambda: len(load.final()) >= final_before + 8, 20, "8 more transfers final without v3")
        nodes.start("v3")
        nodes.until(lambda: nodes.height("v3") > killed_at, 20, "the restarted v3 to finalize again")
        resumed = re.search(r"v3: started on .*, height (\d+)\n", nodes.log("v3").read_text(encoding="utf-8"))
        assert resumed is not None and int(resumed[1]) >= 2, "v3 did not resume from its data directory"
        final_after_restart = len(load.final())
        nodes.until(lambda: len(load.final()) >= final_after_restart + 4, 20, "4 more transfers final with v3 back")
    finally:
        load.stop(drain=10)
    final = load.final()
    assert final, load.errors

    # Every node, the restarted one included, reaches the height of the last final transfer and holds the same blocks.
    clients = {name: nodes.client(name) for name in NAMES}
    top = max(sent.height or 0 for sent in final)
    nodes.until(lambda: all(int(client.status()["height"]) >= top for client in clients.values()), 20,
                f"every node to reach height {top}")
    chains = {name: blocks_through_rest(client, top) for name, client in clients.items()}
    assert len({dump([block["block_id"] for block in chain]) for chain in chains.values()}) == 1, "the chains differ"
    in_chain = {transaction["tx_id"]: block["height"] for block in chains["v3"]
                for transaction in block["transactions"]}  # type: ignore[attr-defined]
    lost = [sent.tx_id for sent in final if in_chain.get(sent.tx_id) != sent.height]
    assert not lost, f"{len(lost)} of {len(final)} transfers reported final are not at their height in the chain"

    # Balances agree on every node and account for exactly the transfers reported final (all final ones were, each
    # sender waits for one before signing the next nonce).
    for sender in SENDERS:
        sent = load.sent[sender.public_key]
        done = [item for item in sent if item.final_at is not None]
        for name, client in clients.items():
            account = client.account(sender.public_key)
            assert account["balance"] == FUNDS - sum(item.amount for item in done), (name, dump(account))
            assert account["nonce"] == len(done), (name, dump(account))
    received = sum(sent.amount for sent in final)
    assert {name: client.balance(RECIPIENT) for name, client in clients.items()} == dict.fromkeys(NAMES, received)
    print(f"\n{len(final)} transfers final ({final_before} before the kill), {len(load.errors)} retried requests, "
          f"{time.monotonic() - started:.1f} s")
