"""
Real nodes find each other through a tracker: ``a27 tracker run`` and 4 validators and a light node, each a process on
127.0.0.1 UDP, whose configs (``a27 node init --bootstrap TRACKER``) name only the tracker. They reach the same
finalized height,
with the same block there.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from a27_harness.processes import free_ports
from a27_pos import SQLiteChainStore, pos_registry

A27 = [sys.executable, "-m", "a27_harness.entry"]
FINALIZED = re.compile(r"(\w+): finalized height (\d+)")
NAMES = ("v0", "v1", "v2", "v3", "l0")
TARGET = 3


def _height(log: Path) -> int:
    return max((int(found[1]) for found in FINALIZED.findall(log.read_text(encoding="utf-8"))), default=0)


@pytest.fixture
def processes() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The test's processes by name; whatever still runs at the end is killed."""
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        yield started
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=15)


@pytest.mark.timeout(90)
def test_nodes_whose_bootstrap_is_only_the_tracker_reach_the_same_finalized_height(
        tmp_path: Path, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    tracker_port, *node_ports = free_ports(1 + len(NAMES))
    tracker = f"127.0.0.1:{tracker_port}"
    inits = [subprocess.Popen([*A27, "node", "init", str(tmp_path / name), "--role", "light" if name == "l0" else
                               "validator", "--port", str(port), "--bootstrap", tracker], stdout=subprocess.DEVNULL)
             for name, port in zip(NAMES, node_ports, strict=True)]
    assert [init.wait(timeout=60) for init in inits] == [0] * len(NAMES)
    for name in NAMES:
        assert f'bootstrap = ["{tracker}"]' in (tmp_path / name / "node.toml").read_text(encoding="utf-8")
    subprocess.run([*A27, "node", "genesis", str(tmp_path / "genesis.toml"), *(str(tmp_path / name) for name in NAMES)],
                   check=True, capture_output=True, timeout=60)
    logs = {name: tmp_path / f"{name}.log" for name in ("tracker", *NAMES)}
    with logs["tracker"].open("wb") as log:
        processes["tracker"] = subprocess.Popen([*A27, "tracker", "run", "--listen", "127.0.0.1", "--port",
                                                 str(tracker_port)], stdout=subprocess.DEVNULL, stderr=log)
    for name in NAMES:
        with logs[name].open("wb") as log:
            processes[name] = subprocess.Popen([*A27, "node", "run", str(tmp_path / name / "node.toml")],
                                               stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 40
    while not all(_height(logs[name]) >= TARGET for name in NAMES):
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited: {logs[name].read_text(encoding='utf-8')}"
        heights = {name: _height(logs[name]) for name in NAMES}
        assert time.monotonic() < deadline, f"no common height {TARGET} within 40 s: {heights}"
        time.sleep(0.2)
    for name in (*NAMES, "tracker"):
        processes[name].send_signal(signal.SIGTERM)
        assert processes[name].wait(timeout=15) == 0, logs[name].read_text(encoding="utf-8")
    assert "tracker: listening on 127.0.0.1:" in logs["tracker"].read_text(encoding="utf-8")
    assert {_block_id(tmp_path / name / "data" / f"{name}.chain.db", TARGET) for name in NAMES} != {None}
    assert len({_block_id(tmp_path / name / "data" / f"{name}.chain.db", TARGET) for name in NAMES}) == 1


def _block_id(path: Path, height: int) -> bytes | None:
    store = SQLiteChainStore(path, pos_registry())
    try:
        block = store.block(height)
        return None if block is None else block.block_id
    finally:
        store.close()
