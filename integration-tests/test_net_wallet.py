"""
``a27 net up`` with a tracker (every node's only bootstrap address), 4 validators and 2 light nodes, two ``a27 wallet
send``, every node on the same finalized chain and
balances (read through each node's REST API), ``a27 net status``, ``a27 net down``: the sim-harness README's "A local
network" block, run as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a27_harness.client import NodeClient
from a27_harness.net import node_folders, running_pid, tracker_folder
from a27_harness.node.config import load_config, parse_address
from a27_ledger import KeyPair

README = Path(__file__).parents[1] / "sim-harness" / "README.md"


def _readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text[text.index("a27 wallet new alice.key"):]
    block = block[:block.index("\n```")]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.run(command, shell=True, cwd=cwd, env=environment, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.timeout(90)
def test_net_up_wallet_send_converge_and_net_down_as_the_readme_shows(tmp_path: Path) -> None:
    commands = _readme_commands()
    assert [command.split()[:3] for command in commands] == [
        ["a27", "wallet", "new"], ["a27", "wallet", "new"], ["a27", "net", "up"], ["a27", "wallet", "send"],
        ["a27", "wallet", "send"], ["a27", "net", "status"], ["a27", "net", "down"]]
    network = tmp_path / "a27-net"
    try:
        for command in commands[:3]:
            finished = _run(command, tmp_path)
            assert finished.returncode == 0, (command, finished.stderr)
        tracker = tracker_folder(network)
        assert tracker is not None and running_pid(tracker) is not None
        address = (tracker / "tracker.address").read_text(encoding="ascii").strip()
        assert f"tracker: started, pid {running_pid(tracker)}, udp {address}" in finished.stdout
        assert all(load_config(folder / "node.toml").bootstrap == (parse_address("tracker", address),)
                   for folder in node_folders(network))
        again = _run(commands[2], tmp_path)
        assert again.returncode == 2 and "is running" in again.stderr
        for command in commands[3:5]:
            finished = _run(command, tmp_path)
            assert finished.returncode == 0, (command, finished.stderr, _logs(network))
            assert "final at height" in finished.stdout
        clients = [NodeClient.at(str(folder)) for folder in node_folders(network)]
        assert len(clients) == 6
        alice, bob = (KeyPair.load(tmp_path / name).public_key for name in ("alice.key", "bob.key"))
        # Every node reaches the height of the second transfer and holds the same blocks and balances.
        deadline = time.monotonic() + 20
        while True:
            views = [(client.status()["height"], client.balance(alice), client.balance(bob)) for client in clients]
            common = min(height for height, _, _ in views)
            chains = {tuple(block["block_id"] for block in _blocks(client, common)) for client in clients}
            if (len(chains) == 1 and len({view[1:] for view in views}) == 1) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(chains) == 1, "the nodes' finalized chains differ"
        assert {view[1:] for view in views} == {(1_000_000 - 300 - 200, 500)}
        status = _run(commands[5], tmp_path)
        assert status.returncode == 0
        assert status.stdout.count(" validator ") == 4 and status.stdout.count(" light ") == 2
        assert re.search(rf"^tracker +tracker .* running, udp {re.escape(address)}$", status.stdout, re.MULTILINE)
    finally:
        down = _run(commands[6] if len(commands) > 6 else "a27 net down a27-net", tmp_path)
    assert down.returncode == 0, down.stdout
    assert down.stdout.count("stopped (pid") == 7 and down.stdout.splitlines()[-1].startswith("tracker: stopped")
    assert all(running_pid(folder) is None for folder in [*node_folders(network), network / "tracker"])
    assert "tracker: stopping" in (network / "tracker" / "tracker.log").read_text(encoding="utf-8")
    assert all("databases closed" in (folder / "node.log").read_text(encoding="utf-8")
               for folder in node_folders(network))


def _blocks(client: NodeClient, height: int) -> list[dict[str, object]]:
    blocks: list[dict[str, object]] = []
    for start in range(1, height + 1, 50):
        blocks += client.request("GET", f"/blocks?start={start}&count={min(50, height - start + 1)}")["blocks"]
    return blocks


def _logs(network: Path) -> str:
    return "\n".join(f"{folder.name}: {(folder / 'node.log').read_text(encoding='utf-8')[-800:]}"
                     for folder in node_folders(network))
