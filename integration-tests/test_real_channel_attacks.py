"""
A battle of real node processes on 127.0.0.1 with payment channels (``a27 battle up --blue-light 2``): the nodes run
ledger, pos and channels because the red teams run ``superseded-state`` (BATTLE.md). Each red light node opens a
channel with its blue light victim, pays it 1,500 of its 2,000 off chain, then closes with the opening state, in
which it held everything, as ``a27 attack superseded-state`` does in simulation.

- red1's victim (``blue-light0``) stays online: its own challenge answers (its log shows its Challenge final; its
  tower's, the same transaction, may come first) and the chain gives it the whole channel (penalty);
- red2's victim (``blue-light1``) hands its appointments over the wire to its tower (the genesis validator with the
  lowest account) and is then stopped (SIGSTOP, its operator's doing) before red2 closes, and resumed (SIGCONT) only
  once red2's node has seen the penalty final: the tower's challenge answered (the tower's log), and the chain gave
  the victim the whole channel.

The scoreboard counts each red team's loss as its deposit and its two fees (it gains nothing), blue's gain as the two
deposits less the two challenge fees; in simulation the same attack (defended) fails with nothing stolen.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from realnet import Nodes, NodeSpec

from a27_channels import Challenge, ChannelStatus, CloseOutcome, channel_record
from a27_harness.battle.referee import referee_chain
from a27_harness.client import ClientError
from a27_harness.node.config import load_genesis
from a27_harness.processes import PID_NAME, free_ports

A27 = [sys.executable, "-m", "a27_harness.entry"]
DEPOSIT, PAID, FEES = 2_000, 1_500, 2
"""The attack's deposit and payment (its defaults), and red's on-chain fees (funding and close)."""
TEAMS = {"red1": "superseded-state:victim_account=blue-light0,victim_offline=false,at=0,challenge_period=6",
         "red2": "superseded-state:victim_account=blue-light1,victim_offline=false,at=8,challenge_period=6"}
WAIT = 25.0
"""The most seconds any one step of the battle may take."""


def _log(folder: Path, node: str) -> str:
    return (folder / node / "node.log").read_text(encoding="utf-8", errors="replace")


def _until(folder: Path, node: str, pattern: str) -> re.Match[str]:
    """The first match of ``pattern`` in ``node``'s log, waiting ``WAIT`` seconds at most."""
    deadline = time.monotonic() + WAIT
    while (found := re.search(pattern, _log(folder, node))) is None:
        assert time.monotonic() < deadline, f"{node}: no {pattern!r} within {WAIT} s:\n{_log(folder, node)[-3000:]}"
        time.sleep(0.25)
    return found


def _tower(folder: Path) -> str:
    """The node name of the genesis validator with the lowest account: every light node's tower."""
    genesis = load_genesis(folder / "genesis.toml")
    return genesis.ledger.names[min(account for account, _stake in genesis.stakes)]


@pytest.mark.timeout(120)
def test_superseded_states_are_penalised_on_real_nodes_by_the_victim_and_by_its_tower(tmp_path: Path) -> None:
    folder = tmp_path / "battle"
    simulated = subprocess.Popen([*A27, "attack", "superseded-state", "--light-nodes", "3", "--duration", "40",
                                  "--out", str(tmp_path / "simulated")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    teams = [argument for name, behaviour in TEAMS.items() for argument in ("--team", f"{name}={behaviour}")]
    subprocess.run([*A27, "battle", "up", str(folder), "--blue-light", "2", *teams], check=True, capture_output=True,
                   text=True, timeout=60)
    stopped = int((folder / "blue-light1" / PID_NAME).read_text(encoding="utf-8"))
    try:
        _until(folder, "red2", r"superseded-state: honest share \(the attacker's latest balance\): 500")
        time.sleep(2.0)  # the victim hands its appointments within a tick of the complete state (every 0.25 s)
        os.kill(stopped, signal.SIGSTOP)
        assert "close outcome" not in _log(folder, "red2"), "red2 closed before its victim was stopped"
        _until(folder, "red2", r"superseded-state: close outcome: penalty")
        _until(folder, "red1", r"superseded-state: close outcome: penalty")
    finally:
        os.kill(stopped, signal.SIGCONT)
        down = subprocess.run([*A27, "battle", "down", str(folder)], check=False, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0, down.stderr
    assert "killed" not in down.stdout, down.stdout
    tower = _tower(folder)
    assert re.search(r"tower challenge admitted: client \w+'s state 1 of channel", _log(folder, tower)), tower
    # The online victim submitted its own challenge; the stopped one was resumed only once the penalty was final.
    assert "channel transaction Challenge final" in _log(folder, "blue-light0")

    with referee_chain(folder) as (_declaration, genesis, chain):
        challenges = [transaction for height in range(1, chain.height + 1)
                      for transaction in chain.block(height).transactions  # type: ignore[union-attr]
                      if isinstance(transaction.body, Challenge)]
        names = genesis.ledger.names
        assert sorted(names[transaction.sender] for transaction in challenges) == ["blue-light0", "blue-light1"]
        for transaction in challenges:
            assert isinstance(transaction.body, Challenge)
            record = channel_record(chain.state, transaction.body.signed.state.channel_id)
            assert record is not None and record.status is ChannelStatus.CLOSED
            assert record.outcome is CloseOutcome.PENALTY
    report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
    rows = {team["name"]: team for team in report["scoreboard"]["teams"]}
    for name in TEAMS:
        assert (rows[name]["held"], rows[name]["gained"]) == (rows[name]["start"] - DEPOSIT - FEES, -DEPOSIT - FEES)
    assert rows["blue"]["gained"] == 2 * (DEPOSIT - 1) and rows["blue"]["slashed"] == 0
    assert report["scoreboard"]["unowned_gained"] == 0

    assert simulated.wait(timeout=90) == 0
    sim = json.loads((tmp_path / "simulated" / "report.json").read_text(encoding="utf-8"))
    assert (sim["succeeded"], sim["stolen"]) == (False, 0)
    assert sim["audit"]["agreement"] and sim["notes"]["close outcome"] == "penalty"


HUB_DEPOSIT = 1_500


@pytest.mark.timeout(120)
def test_a_real_hub_holding_htlcs_is_routed_around(tmp_path: Path) -> None:
    """
    ``hold-htlcs`` on a real node: red's light node is a free hub that holds every HTLC (``a27 node run`` with
    ``behaviour = "hold-htlcs"``, its expiry delta 2 blocks). Three honest light nodes (REST with an API key) open
    channels through their operators' API: l0 and l1 each with the hub (1,500 each side: the hub accepts deposits up to
    its ``deposit``), l0 to l2 and l2 to l1 (their own deposits). l0 pays l1's invoice of 500: the cheapest route runs
    through the free hub, which holds the HTLC; at its expiry l0 gives the attempt up (timeout) and, with
    ``channels.avoid_failed_hops`` on, pays again around the hub, through l2: the payment succeeds in 2 attempts, as
    in simulation, where ``a27 attack hold-htlcs`` (defended) fails: nothing stolen, no payment failed by timeout.
    """
    simulated = subprocess.Popen([*A27, "attack", "hold-htlcs", "--light-nodes", "4", "--duration", "10",
                                  "--out", str(tmp_path / "simulated")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    names = ["v0", "l0", "l1", "l2", "red"]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    rest_ports = dict(zip(names, free_ports(len(names), socket.SOCK_STREAM), strict=True))
    bootstrap = [f"127.0.0.1:{port}" for port in ports.values()]
    layers = ("ledger", "pos", "channels")
    specs = [NodeSpec("v0", "validator", "127.0.0.1", ports["v0"], bootstrap, layers=layers)]
    specs += [NodeSpec(name, "light", "127.0.0.1", ports[name], bootstrap, rest_port=rest_ports[name], layers=layers,
                       api_key=f"key-{name}") for name in ("l0", "l1", "l2")]
    specs += [NodeSpec("red", "light", "127.0.0.1", ports["red"], bootstrap, layers=layers, behaviour="hold-htlcs",
                       behaviour_params=["expiry_delta=2"])]
    network = Nodes(tmp_path / "net", specs)
    accounts = {name: key.public_key.hex() for name, key in network.keys.items()}
    try:
        for name in names:
            network.start(name)
        clients = {name: network.client(name) for name in ("l0", "l1", "l2")}
        network.until(lambda: all(_peers(client) >= 4 for client in clients.values()), 30, "every node a peer")

        def open_channel(opener: str, peer: str, peer_deposit: int) -> None:
            clients[opener].request("POST", "/channels", {"peer": accounts[peer], "deposit": HUB_DEPOSIT,
                                                          "peer_deposit": peer_deposit, "timeout": 60}, timeout=70)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda edge: open_channel(*edge),
                          [("l0", "red", HUB_DEPOSIT), ("l1", "red", HUB_DEPOSIT), ("l0", "l2", 0), ("l2", "l1", 0)]))
        invoice = clients["l1"].request("POST", "/invoices", {"amount": 500})
        network.until(lambda: _routed(clients["l0"], invoice), 20, "l0 knowing the channels to route over")
        paid = clients["l0"].request("POST", "/payments", {**invoice, "timeout": 90}, timeout=100)
        channels = {name: {channel["peer"]: channel
                           for channel in clients[name].request("GET", "/channels")["channels"]}
                    for name in ("l0", "l1")}
    finally:
        network.kill_all()
    assert paid["outcome"] == "succeeded", paid
    assert paid["attempts"] == 2 and paid["route"] == [accounts["l2"], accounts["l1"]], paid
    # The hub held the first attempt's HTLC to its expiry: l0 left their channel to close it on chain and take the
    # HTLC back (the channel is no longer open); l1's channel with the hub is untouched.
    assert accounts["red"] not in channels["l0"] and accounts["red"] in channels["l1"]
    assert channels["l0"][accounts["l2"]]["balance"] < HUB_DEPOSIT - 500  # the amount and l2's fee went that way
    assert channels["l1"][accounts["l2"]]["balance"] == 500
    assert simulated.wait(timeout=90) == 0
    sim = json.loads((tmp_path / "simulated" / "report.json").read_text(encoding="utf-8"))
    assert (sim["succeeded"], sim["stolen"]) == (False, 0)
    assert sim["honest_effect"]["payments failed by timeout"] == 0


def _peers(client: Any) -> int:
    try:
        return int(client.request("GET", "/status")["peers"])
    except ClientError:
        return 0


def _routed(client: Any, invoice: dict[str, Any]) -> bool:
    """Whether the channels the payment needs are open at the payer (both of its own; the others are gossiped)."""
    return len(client.request("GET", "/channels")["channels"]) == 2
