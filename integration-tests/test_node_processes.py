"""
Real nodes as real processes (``a27 node init | genesis | run``): 4 validators and a light node on 127.0.0.1 UDP.

They finalize blocks; SIGTERM stops a validator with its SQLite stores consistent; restarted from its data directory
it catches up from its peers; in the end every node holds the same chain.
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from a27_harness.node.config import load_config, load_genesis
from a27_harness.processes import free_ports
from a27_ledger import SQLiteStore
from a27_pos import Chain, SQLiteChainStore, pos_registry

A27 = [sys.executable, "-m", "a27_harness.entry"]
"""The ``a27`` command of this interpreter's environment."""
FINALIZED = re.compile(r"(\w+): finalized height (\d+)")
NAMES = ("v0", "v1", "v2", "v3", "l0")


class Network:
    """The test's node processes, their folders and logs; every process it started is killed at the end."""

    def __init__(self, root: Path) -> None:
        """Prepare node folders under ``root``."""
        self.root = root
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = dict.fromkeys(NAMES, 0)

    def log(self, name: str) -> Path:
        """The log file of the node's current (or last) run."""
        return self.root / f"{name}.{self.starts[name]}.log"

    def start(self, name: str) -> None:
        """Start ``a27 node run`` for the node, logging to a file of its own."""
        self.starts[name] += 1
        with self.log(name).open("wb") as log:
            self.processes[name] = subprocess.Popen([*A27, "node", "run", str(self.root / name / "node.toml")],
                                                    stdout=subprocess.DEVNULL, stderr=log)

    def height(self, name: str) -> int:
        """The highest height the node's current run logged as finalized."""
        heights = [int(found[1]) for found in FINALIZED.findall(self.log(name).read_text(encoding="utf-8"))]
        return max(heights, default=0)

    def stop(self, name: str, number: signal.Signals = signal.SIGTERM) -> None:
        """Signal the node (SIGTERM or SIGINT) and check that it exits 0 after closing its databases."""
        process = self.processes.pop(name)
        process.send_signal(number)
        assert process.wait(timeout=15) == 0, self.log(name).read_text(encoding="utf-8")
        assert "databases closed" in self.log(name).read_text(encoding="utf-8")

    def kill_all(self) -> None:
        """Kill whatever is still running (a failed test)."""
        for process in self.processes.values():
            process.kill()
            process.wait(timeout=15)
        self.processes.clear()


def _until(condition: Callable[[], bool], timeout: float, what: str, network: Network) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for name, process in network.processes.items():
            assert process.poll() is None, f"{name} exited: {network.log(name).read_text(encoding='utf-8')}"
        if time.monotonic() > deadline:
            heights = {name: network.height(name) for name in network.processes}
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; heights {heights}")
        time.sleep(0.2)


def _stored_chain(network: Network, name: str) -> list[bytes]:
    """Check the node's SQLite stores (integrity, ledger and chain at the same height, invariants); its block ids."""
    data = network.root / name / "data"
    for database in (f"{name}.db", f"{name}.chain.db"):
        connection = sqlite3.connect(data / database)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            connection.close()
    genesis = load_genesis(load_config(network.root / name / "node.toml").genesis)
    ledger, chain_store = SQLiteStore(data / f"{name}.db"), SQLiteChainStore(data / f"{name}.chain.db", pos_registry())
    try:
        # Reopening refuses a ledger and a chain store at different heights, or holding different blocks.
        chain = Chain.start(genesis, ledger, chain_store)
        chain.state.check_invariants()
        blocks = [chain_store.block(height) for height in range(1, chain.height + 1)]
        return [block.block_id for block in blocks if block is not None]
    finally:
        ledger.close()
        chain_store.close()


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """Four validators and one light node set up with ``a27 node init`` and ``a27 node genesis``."""
    ports = dict(zip(NAMES, free_ports(len(NAMES)), strict=True))
    bootstrap = [f"127.0.0.1:{ports[name]}" for name in NAMES if name.startswith("v")]
    for name in NAMES:
        role = "light" if name.startswith("l") else "validator"
        subprocess.run([*A27, "node", "init", str(tmp_path / name), "--role", role, "--port", str(ports[name]),
                        "--bootstrap", *bootstrap], check=True, capture_output=True, timeout=60)
    subprocess.run([*A27, "node", "genesis", str(tmp_path / "genesis.toml"), *(str(tmp_path / name) for name in NAMES)],
                   check=True, capture_output=True, timeout=60)
    started = Network(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.mark.timeout(90)
def test_real_node_processes_finalize_stop_cleanly_and_a_restarted_validator_catches_up(network: Network) -> None:
    for name in NAMES:
        network.start(name)
    _until(lambda: all(network.height(name) >= 3 for name in NAMES), 30, "every node to finalize height 3", network)

    network.stop("v3")
    stopped_at = len(_stored_chain(network, "v3"))
    assert stopped_at >= 3
    # Three validators of four hold more than two thirds of the stake: the chain goes on without v3.
    _until(lambda: all(network.height(name) >= stopped_at + 3 for name in ("v0", "v1", "v2", "l0")), 20,
           "the others to finalize 3 more blocks", network)

    network.start("v3")
    target = max(network.height(name) for name in ("v0", "v1", "v2"))
    _until(lambda: network.height("v3") >= target, 20, f"the restarted v3 to catch up to height {target}", network)
    assert "v3: started on 127.0.0.1:" in network.log("v3").read_text(encoding="utf-8")
    assert f", height {stopped_at}\n" in network.log("v3").read_text(encoding="utf-8")

    for name in NAMES:
        network.stop(name, signal.SIGINT if name == "l0" else signal.SIGTERM)  # Ctrl-C stops a node the same way
    chains = {name: _stored_chain(network, name) for name in NAMES}
    common = min(len(chain) for chain in chains.values())
    assert common >= target
    assert len({tuple(chain[:common]) for chain in chains.values()}) == 1, "the nodes' chains differ"


def _free_block() -> int:
    """A prefix P such that UDP ports P0 to P3 and P9 on 127.0.0.1 are free (the README's 900x and 9010)."""
    for prefix in range(4_000, 6_500, 37):
        probes: list[socket.socket] = []
        try:
            for last in (0, 1, 2, 3, 9):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", prefix * 10 + last))
            return prefix
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no free block of UDP ports")


@pytest.mark.timeout(90)
def test_the_readme_commands_start_four_validators_by_hand(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "sim-harness" / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("mkdir net && cd net"):]
    block = block[:block.index("\n```")]
    prefix = str(_free_block())
    # Whatever happens, the script leaves no node running: it waits for the ones it stopped and kills any other.
    script = ("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
              + block.replace("9010", prefix + "9").replace("900", prefix) + "\nwait\n")
    environment = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    finished = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=environment, capture_output=True,
                              text=True, timeout=80, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "finalized height" in finished.stdout
    logs = tmp_path / "net"
    assert sum(log.read_text(encoding="utf-8").count("databases closed") for log in logs.glob("*.log")) == 6
    v3 = (logs / "v3.log").read_text(encoding="utf-8")
    resumed = re.findall(r"v3: started on .*, height (\d+)", v3)
    assert len(resumed) == 2
    assert int(resumed[1]) > 0  # the restart resumed from its data directory
    stopped = [int(height) for height in re.findall(r"v3: stopped at height (\d+)", v3)]
    assert stopped[1] > stopped[0]  # and caught up past where it stopped
