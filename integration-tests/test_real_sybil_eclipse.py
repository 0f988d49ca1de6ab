"""
``sybil`` and ``eclipse`` on real node processes on 127.0.0.1 UDP, against the defended build: four validators, a blue
light node (the victim, with a REST API) and two red light nodes, one running ``behaviour = "sybil"`` and one
``behaviour = "eclipse"``. Each red process hosts its attack's other attacker nodes as identities of its own
(``a27_harness.node.arena.Identities``: 12 and 6 in all), which walk to every peer they meet; the Sybils send votes
to the validators, the eclipsers a false height and a private chain's block to every light node they meet.

What only the simulator can do (shrink the victim's peer table and re-join it after the attackers are in place) is
done by the victim's operator: once every identity is up, the victim restarts with ``[network] max_peers = 5``. As
``a27 attack sybil|eclipse`` in simulation: it keeps validator peers (the anchors), catches up to the validators'
height and never adopts the private chain; the Sybils' votes are refused and no block is theirs.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from realnet import Nodes, NodeSpec, blocks_through_rest, dump

from a27_attacks import ATTACKS
from a27_harness.client import ClientError, NodeClient
from a27_harness.node.arena import identity_key
from a27_harness.processes import free_ports

VALIDATORS = ("v0", "v1", "v2", "v3")
SLOTS = 5
"""The victim's ``[network] max_peers`` when it restarts (fewer than the identities trying for its table)."""
UP = 25.0
"""Seconds at most until every identity is up, the Sybils' votes are sent and the victim follows the chain."""
CATCH_UP = 15.0
"""Seconds at most for the restarted victim to reach the validators' height with validator peers."""


def _height(client: NodeClient) -> int:
    """The node's finalized height, -1 while its REST API does not answer yet."""
    try:
        return int(client.status()["height"])
    except ClientError as error:
        if error.status:
            raise
        return -1


def _red_ports(nodes: Nodes, red: str, log: str) -> set[str]:
    """The UDP ports of red node ``red`` and its identities (its log)."""
    return {str(nodes.specs[red].port), *re.findall(rf"{red}: identity a\d+ \(light\) on 127\.0\.0\.1:(\d+)", log)}


def _red_accounts(nodes: Nodes, red: str, attack: str) -> set[str]:
    """The accounts of red node ``red``'s attacker nodes: its own and its identities' (``identity_key``)."""
    owner = nodes.keys[red].public_key
    names = [node.name for node in ATTACKS[attack]().attacker_nodes()]
    return {owner.hex(), *(identity_key(owner, name).public_key.hex() for name in names[1:])}


@pytest.mark.timeout(90)
def test_sybil_and_eclipse_identities_on_real_nodes_leave_a_restarted_victim_on_the_honest_chain(
        tmp_path: Path) -> None:
    ports = free_ports(len(VALIDATORS) + 3)
    rest_ports = free_ports(2, socket.SOCK_STREAM)
    bootstrap = [f"127.0.0.1:{port}" for port in ports[:len(VALIDATORS)]]
    specs = [NodeSpec(name, "validator", "127.0.0.1", port, bootstrap) for name, port in zip(VALIDATORS, ports,
                                                                                               strict=False)]
    specs[0].rest_port = rest_ports[0]
    specs += [NodeSpec("victim", "light", "127.0.0.1", ports[-3], bootstrap, rest_port=rest_ports[1]),
              NodeSpec("sybil", "light", "127.0.0.1", ports[-2], bootstrap, behaviour="sybil"),
              NodeSpec("eclipse", "light", "127.0.0.1", ports[-1], bootstrap, behaviour="eclipse")]
    nodes = Nodes(tmp_path, specs)
    sybils, eclipsers = _red_accounts(nodes, "sybil", "sybil"), _red_accounts(nodes, "eclipse", "eclipse")
    victim, validator = nodes.client("victim"), nodes.client("v0")

    def text(name: str) -> str:
        return nodes.log(name).read_text(encoding="utf-8")

    def attackers_in_place() -> bool:
        """Every identity is up, the Sybils' votes are sent, and Sybils and eclipsers walked into the victim's table
        (unbounded before its restart) while it followed the chain."""
        if not (text("sybil").count(": identity a") == len(sybils) - 1
                and text("eclipse").count(": identity a") == len(eclipsers) - 1
                and "sybil: sybil votes sent:" in text("sybil") and _height(victim) >= 1):
            return False
        table = set(victim.status()["peer_accounts"])
        return bool(table & sybils) and bool(table & eclipsers)

    def caught_up() -> bool:
        """The victim reached the validators' height, two blocks past the one they had at its restart."""
        return _height(victim) >= max(_height(validator), restarted + 2) and victim.status()["validator_peers"] >= 1

    try:
        for spec in specs:
            nodes.start(spec.name)
        nodes.until(attackers_in_place, UP, "every identity up, the Sybils' votes sent, the victim following")
        before = set(victim.status()["peer_accounts"])
        nodes.stop("victim")
        config = tmp_path / "victim" / "node.toml"
        small = config.read_text(encoding="utf-8").replace("[network]\n", f"[network]\nmax_peers = {SLOTS}\n")
        config.write_text(small, encoding="utf-8")
        restarted = _height(validator)
        nodes.start("victim")
        nodes.until(caught_up, CATCH_UP, "the restarted victim to reach the validators' height")
        status = victim.status()
        height = status["height"]
        victim_chain, honest_chain = blocks_through_rest(victim, height), blocks_through_rest(validator, height)
        for spec in specs:
            nodes.stop(spec.name)
    finally:
        nodes.kill_all()
    validators = {nodes.keys[name].public_key.hex() for name in VALIDATORS}
    peers = set(status["peer_accounts"])
    # The anchors kept every validator in the small table; the identities got at most the slots left.
    assert validators <= peers and len(peers) <= SLOTS, dump(status)
    # The identities walked to the restarted victim again and again; its full table refused them.
    refused_walks = set(re.findall(r"dropped introduction from 127\.0\.0\.1:(\d+): peer table full", text("victim")))
    red_ports = _red_ports(nodes, "sybil", text("sybil")) | _red_ports(nodes, "eclipse", text("eclipse"))
    assert refused_walks & red_ports, text("victim")
    print(f"victim's table before the restart: {len(before & sybils)} Sybils, {len(before & eclipsers)} eclipsers")
    print(f"victim's table at height {height}: {len(peers & sybils)} Sybils, {len(peers & eclipsers)} eclipsers, "
          f"{len(peers & validators)} validators, {len(peers - sybils - eclipsers - validators)} others")
    assert status["validator_peers"] == len(VALIDATORS), dump(status)
    # The victim's chain is the validators' (no private block adopted), and no block is a red identity's.
    assert victim_chain == honest_chain, dump({"victim": victim_chain, "validator": honest_chain})
    assert {block["proposer"] for block in victim_chain} <= validators, dump(victim_chain)
    # The eclipsers lied to the victim; it refused their height claims and private blocks (from a peer it does not
    # keep, or one outside the validator set: peers.cheap_checks_first, peers.validator_pinning).
    victim_account = nodes.keys["victim"].public_key.hex()
    assert f"eclipse: lying to: {victim_account}" in text("eclipse"), text("eclipse")
    refused_lies = set(re.findall(r"dropped (?:Status|BlockResponse) from 127\.0\.0\.1:(\d+): "
                                  r"(?:unknown peer|not a validator)", text("victim")))
    assert refused_lies & _red_ports(nodes, "eclipse", text("eclipse")), text("victim")
    # The Sybils' votes reached the validators, which refused them: no stake.
    sent = re.search(r"sybil: sybil votes sent: (\d+)", text("sybil"))
    assert sent is not None and int(sent[1]) > 0, text("sybil")
    refused = sum(len(re.findall(r"is not a validator at height", text(name))) for name in VALIDATORS)
    assert refused > 0, {name: text(name) for name in VALIDATORS}
