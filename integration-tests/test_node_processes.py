"""
Real nodes as real processes (``a27 node init | genesis | run``): 4 validators and a light node on 127.0.0.1 UDP.

They finalize blocks; SIGTERM stops a validator with its SQLite stores consistent; restarted from its data directory
it catches up from its peers; in the end every node holds the same chain.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from realnet import A27, Processes, stored_chain

from a27_harness.processes import free_ports

NAMES = ("v0", "v1", "v2", "v3", "l0")


def _stored_chain(network: Processes, name: str) -> list[bytes]:
    """The stopped node's block ids, after ``stored_chain``'s checks (integrity, stores together, invariants)."""
    return [block.block_id for block in stored_chain(network.root / name / "node.toml")]


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Processes]:
    """Four validators and one light node set up with ``a27 node init`` and ``a27 node genesis``."""
    ports = dict(zip(NAMES, free_ports(len(NAMES)), strict=True))
    bootstrap = [f"127.0.0.1:{ports[name]}" for name in NAMES if name.startswith("v")]
    for name in NAMES:
        role = "light" if name.startswith("l") else "validator"
        subprocess.run([*A27, "node", "init", str(tmp_path / name), "--role", role, "--port", str(ports[name]),
                        "--bootstrap", *bootstrap], check=True, capture_output=True, timeout=60)
    subprocess.run([*A27, "node", "genesis", str(tmp_path / "genesis.toml"), *(str(tmp_path / name) for name in NAMES)],
                   check=True, capture_output=True, timeout=60)
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.mark.timeout(90)
def test_real_node_processes_finalize_stop_cleanly_and_a_restarted_validator_catches_up(network: Processes) -> None:
    for name in NAMES:
        network.start(name)
    network.until(lambda: all(network.height(name) >= 3 for name in NAMES), 30, "every node to finalize height 3")

    network.stop("v3")
    stopped_at = len(_stored_chain(network, "v3"))
    assert stopped_at >= 3
    # Three validators of four hold more than two thirds of the stake: the chain goes on without v3.
    network.until(lambda: all(network.height(name) >= stopped_at + 3 for name in ("v0", "v1", "v2", "l0")), 20,
           "the others to finalize 3 more blocks")

    network.start("v3")
    target = max(network.height(name) for name in ("v0", "v1", "v2"))
    network.until(lambda: network.height("v3") >= target, 20, f"the restarted v3 to catch up to height {target}")
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
