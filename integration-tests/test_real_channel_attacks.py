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

The second battle's red team is a ``hold-htlcs`` hub, routed around by the blue light nodes' payment (its
docstring).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from a27_channels import Challenge, ChannelStatus, CloseOutcome, channel_record
from a27_harness.battle.referee import referee_chain
from a27_harness.client import ClientError, NodeClient
from a27_harness.node.config import load_genesis
from a27_harness.processes import PID_NAME

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
def test_a_red_hub_holding_htlcs_is_routed_around_and_gains_nothing(tmp_path: Path) -> None:
    """
    ``hold-htlcs`` as a battle's red team (``--team red=hold-htlcs:expiry_delta=2 --blue-light 3``): red's light node
    is a free hub that holds every HTLC. The blue light nodes' operators, through their REST APIs (the key in each
    node's config), open channels: blue-light0 and blue-light1 each with the hub (1,500 each side: the hub accepts
    deposits up to its ``deposit``), blue-light0 to blue-light2 and blue-light2 to blue-light1 (their own deposits).
    blue-light0 pays blue-light1's invoice of 500: the cheapest route runs through the free hub, which holds the HTLC;
    at its expiry blue-light0 gives the attempt up (timeout), goes on chain to take the HTLC back, and, with
    ``channels.avoid_failed_hops`` on, pays around the hub through blue-light2: the payment succeeds in 2 attempts.
    Red gains nothing and blue loses only its fees, as in simulation, where ``a27 attack hold-htlcs`` (defended)
    fails: nothing stolen, no payment failed by timeout.
    """
    simulated = subprocess.Popen([*A27, "attack", "hold-htlcs", "--light-nodes", "4", "--duration", "10",
                                  "--out", str(tmp_path / "simulated")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    folder = tmp_path / "battle"
    subprocess.run([*A27, "battle", "up", str(folder), "--blue-light", "3", "--team", "red=hold-htlcs:expiry_delta=2"],
                   check=True, capture_output=True, text=True, timeout=60)
    blue = [f"blue-light{index}" for index in range(3)]
    clients = {name: NodeClient.at(str(folder / name)) for name in blue}
    genesis = load_genesis(folder / "genesis.toml")
    accounts = {name: account.hex() for account, name in genesis.ledger.names.items()}
    try:
        deadline = time.monotonic() + WAIT
        while not all(_peers(client) >= 8 for client in clients.values()):
            assert time.monotonic() < deadline, "the blue light nodes did not meet every node"
            time.sleep(0.25)

        def open_channel(opener: str, peer: str, peer_deposit: int) -> None:
            clients[opener].request("POST", "/channels", {"peer": accounts[peer], "deposit": HUB_DEPOSIT,
                                                          "peer_deposit": peer_deposit, "timeout": 60}, timeout=70)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda edge: open_channel(*edge), [
                ("blue-light0", "red", HUB_DEPOSIT), ("blue-light1", "red", HUB_DEPOSIT),
                ("blue-light0", "blue-light2", 0), ("blue-light2", "blue-light1", 0)]))
        # Once the hub's free policy reached blue-light0, the cheapest route to blue-light1 runs through the hub.
        deadline = time.monotonic() + WAIT
        while _route(clients["blue-light0"], accounts["blue-light1"]) != [accounts["red"], accounts["blue-light1"]]:
            assert time.monotonic() < deadline, "blue-light0 does not route through the hub"
            time.sleep(0.25)
        invoice = clients["blue-light1"].request("POST", "/invoices", {"amount": 500})
        paid = clients["blue-light0"].request("POST", "/payments", {**invoice, "timeout": 90}, timeout=100)
        channels = {name: {channel["peer"]: channel
                           for channel in clients[name].request("GET", "/channels")["channels"]}
                    for name in ("blue-light0", "blue-light1")}
    finally:
        down = subprocess.run([*A27, "battle", "down", str(folder)], check=False, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0 and "killed" not in down.stdout, down
    assert paid["outcome"] == "succeeded", paid
    assert paid["attempts"] == 2 and paid["route"] == [accounts["blue-light2"], accounts["blue-light1"]], paid
    # The hub held the first attempt's HTLC to its expiry: blue-light0 left their channel to close it on chain and
    # take the HTLC back (it is no longer open); blue-light1's channel with the hub is untouched.
    assert accounts["red"] not in channels["blue-light0"] and accounts["red"] in channels["blue-light1"]
    assert channels["blue-light1"][accounts["blue-light2"]]["balance"] == 500

    report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
    rows = {team["name"]: team for team in report["scoreboard"]["teams"]}
    with referee_chain(folder) as (_declaration, _genesis, chain):
        blue_fees = sum(chain.state.next_nonce(bytes.fromhex(accounts[name])) for name in blue)  # fee 1 each
    assert blue_fees >= 4  # the four opens (and blue-light0's close, once final)
    assert (rows["red"]["gained"], rows["red"]["held"]) == (0, rows["red"]["start"]), rows["red"]
    assert rows["blue"]["gained"] == -blue_fees and report["scoreboard"]["unowned_gained"] == 0, rows["blue"]
    assert simulated.wait(timeout=90) == 0
    sim = json.loads((tmp_path / "simulated" / "report.json").read_text(encoding="utf-8"))
    assert (sim["succeeded"], sim["stolen"]) == (False, 0)
    assert sim["honest_effect"]["payments failed by timeout"] == 0


def _peers(client: Any) -> int:
    try:
        return int(client.request("GET", "/status")["peers"])
    except ClientError:
        return 0


def _route(client: Any, payee: str) -> list[str] | None:
    """The route of a payment of 500 to ``payee`` from the client's node now (None: no route yet)."""
    try:
        return list(client.request("GET", f"/route?payee={payee}&amount=500")["route"])
    except ClientError:
        return None
