"""
``long-range`` on real node processes, and its defence for real operators: a checkpoint in a joining node's config.

Two honest validators and one red validator process, ``behaviour = "long-range"``, that plays ``a1`` and holds the
key of ``a0`` (``behaviour_node``, ``[behaviour_keys]``); ``a27 node genesis`` bonds both as the attack asks (more
than two thirds of the stake, ``attacker_stakes``) with its short unbonding delay. Red unbonds both, pays a0's
released stake to the first honest validator (the merchant) on the real chain, forges a history from genesis in
which a0 pays it to the sink instead, certified by the old keys, and serves it unasked to every node that becomes
its peer. Not a battle: a genesis giving red more than two thirds of the stake is no fair fight, so the test runs
the nodes itself.

Then two fresh light nodes join with empty data directories, bootstrapping to red and the honest validators: one
whose operator put in its config the checkpoint ``a27 wallet checkpoint`` printed from an honest validator's REST
API, one without. The undefended one adopts the fork (the attack succeeds, as in ``a27 attack long-range
--undefended``); the defended one refuses the fork at the checkpoint height (one log line), syncs the real chain
from the validators instead (a27-pos tries a history below the checkpoint before applying it) and holds the
merchant's payment and nothing for the sink: stolen 0, as in simulation.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from realnet import A27, Nodes, NodeSpec

from a27_attacks import account_key
from a27_harness.client import ClientError, NodeClient
from a27_harness.node.config import load_genesis
from a27_harness.processes import free_ports

HONEST = ("v0", "v1")
LATE = ("late-checkpoint", "late-plain")
JOIN_AT = 14.0
"""Seconds after red's start when it forges the history and starts serving it."""


def _note(log: Path, key: str) -> str | None:
    """The last value red's act noted for ``key`` (``NodeArena.note``'s log line), None before it."""
    found = re.findall(rf"red: long-range: {re.escape(key)}: (.*)", log.read_text(encoding="utf-8"))
    return found[-1].strip() if found else None


def _block_id(client: NodeClient, height: int) -> str | None:
    try:
        return str(client.request("GET", f"/blocks/{height}")["block_id"])
    except ClientError:
        return None


@pytest.mark.timeout(120)
def test_long_range_on_real_nodes_a_checkpoint_from_a_trusted_node_refuses_the_fork(tmp_path: Path) -> None:
    ports = free_ports(len(HONEST) + 1 + len(LATE))
    rest_ports = free_ports(len(HONEST) + len(LATE), socket.SOCK_STREAM)
    bootstrap = [f"127.0.0.1:{port}" for port in ports[:len(HONEST) + 1]]
    specs = [NodeSpec(name, "validator", "127.0.0.1", port, bootstrap, rest_port=rest)
             for name, port, rest in zip(HONEST, ports, rest_ports, strict=False)]
    specs.append(NodeSpec("red", "validator", "127.0.0.1", ports[len(HONEST)], bootstrap, behaviour="long-range"))
    specs += [NodeSpec(name, "light", "127.0.0.1", port, bootstrap, rest_port=rest)
              for name, port, rest in zip(LATE, ports[len(HONEST) + 1:], rest_ports[len(HONEST):], strict=True)]
    nodes = Nodes(tmp_path, specs)
    red_config = tmp_path / "red" / "node.toml"
    text = red_config.read_text(encoding="utf-8")
    text = text.replace('behaviour_params = []', f'behaviour_params = ["join_at={JOIN_AT}", "serve_for=40"]\n'
                                                  'behaviour_node = "a1"')
    red_config.write_text(text + '\n[behaviour_keys]\na0 = "a0.key"\n', encoding="utf-8")
    # The genesis again, as `a27 node genesis` writes it for these configs: red's validators bonded as the attack asks.
    (tmp_path / "genesis.toml").unlink()
    subprocess.run([*A27, "node", "genesis", str(tmp_path / "genesis.toml"),
                    *(str(tmp_path / spec.name) for spec in specs)], check=True, capture_output=True)
    genesis = load_genesis(tmp_path / "genesis.toml")
    stakes = dict(genesis.stakes)
    red = nodes.keys["red"].public_key
    a0 = next(account for account in stakes if genesis.ledger.names[account] == "red-a0")
    assert (stakes[a0], stakes[red], genesis.params.unbonding_delay) == (100_000, 400_001, 3)
    sink = account_key("sink").public_key
    red_log = nodes.log("red")
    try:
        for name in (*HONEST, "red"):
            nodes.start(name)
        red_log = nodes.log("red")
        nodes.until(lambda: _note(red_log, "forged blocks") is not None, JOIN_AT + 30, "red to forge the history")
        # The merchant, a validator, also earned block rewards meanwhile.
        assert int(_note(red_log, "merchant paid on the real chain") or 0) >= 100_000

        # The defended operator asks a node it trusts for a checkpoint, out of band, and puts it in the config.
        printed = subprocess.run([*A27, "wallet", "checkpoint", "--node", nodes.client("v0").url],
                                 check=True, capture_output=True, text=True).stdout
        checkpoint = re.fullmatch(r'checkpoint = "(\d+):([0-9a-f]{64})"\n', printed)
        assert checkpoint is not None, printed
        checkpoint_height = int(checkpoint[1])
        late_config = tmp_path / LATE[0] / "node.toml"
        late_text = late_config.read_text(encoding="utf-8")
        late_config.write_text(late_text.replace('# checkpoint = "HEIGHT:BLOCK_ID"', printed.strip()),
                               encoding="utf-8")
        for name in LATE:
            nodes.start(name)
        defended, plain = (nodes.client(name) for name in LATE)
        honest = nodes.client("v0")

        def settled() -> bool:
            logged = nodes.log(LATE[0]).read_text(encoding="utf-8")
            try:
                plain_height = int(plain.status()["height"])
                # Red serves a newcomer within 0.25 s, before its first poll of a validator (1 s): the defended node
                # meets the fork first, refuses it at the checkpoint, and syncs the real chain from the validators.
                defended_done = ("not the checkpointed chain" in logged
                                 and _block_id(defended, checkpoint_height) == checkpoint[2])
            except ClientError:
                return False
            return defended_done and plain_height >= checkpoint_height

        nodes.until(settled, 30, "the late nodes to sync")
        time.sleep(2.0)  # a little longer: a node that went past the checkpoint would show it now
        real_block_1 = _block_id(honest, 1)

        # Undefended: the fork adopted, past the honest height when the node joined (the checkpoint's, taken then);
        # the sink paid there.
        assert _block_id(plain, 1) != real_block_1
        assert int(plain.status()["height"]) >= checkpoint_height
        assert plain.balance(sink) == 100_000

        # Defended: the fork refused at the checkpoint height (one log line), the real chain followed past it, the
        # sink paid nothing there and the merchant paid a0's stake.
        logged = nodes.log(LATE[0]).read_text(encoding="utf-8")
        assert re.search(r"checkpoint \d+:[0-9a-f]{64} \(enforced\)", logged)
        assert "not the checkpointed chain" in logged
        assert _block_id(defended, 1) == real_block_1
        assert int(defended.status()["height"]) >= checkpoint_height
        assert defended.balance(sink) == 0
        merchant = min(nodes.keys[name].public_key for name in HONEST)  # red's first honest validator
        history = defended.request("GET", f"/accounts/{merchant.hex()}/history?limit=50")["transactions"]
        assert [(entry["sender"], entry.get("amount")) for entry in history if entry["sender"] == a0.hex()] == [
            (a0.hex(), 100_000)]
        # The real chain paid the merchant once and the sink nothing.
        assert honest.balance(sink) == 0
        nodes.check_running()
    finally:
        nodes.kill_all()
