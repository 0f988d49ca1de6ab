"""
Multi-host on one machine (Lab 5): one ``a27 node run`` process per network namespace, the namespaces joined by veth
pairs to a bridge in a hub namespace (10.27.0.0/24), so every packet crosses interfaces. Each node also runs in a time
namespace whose monotonic clock is hours apart from the others' (machines booted at different times), and two
validators' time bases are off by minutes (``[clock] offset_seconds``): one 3 minutes ahead, one 3 minutes behind.
They converge on one finalized chain whose timestamps keep the PoS rule (each after its parent's, none more than
``max_clock_drift`` ahead of Unix time: the ahead validator's proposals are refused, never finalized).

The test creates and removes every namespace (the veths go with them), even on failure. It skips, printing why, only
where namespaces cannot be created (not root, no ``ip``); CI runs as root, where it must run.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from realnet import Nodes, NodeSpec

from a27_pos import PosSettings

VALIDATORS = ("v0", "v1", "v2", "v3")
NAMES = (*VALIDATORS, "l0")
OFFSETS = {"v2": 180.0, "v3": -180.0}
"""Validators whose time base is off by minutes: v2 ahead, v3 behind."""
PORT = 9000
TARGET = 6
"""The height every node must finalize."""


def _ip(*words: str) -> None:
    subprocess.run(["ip", *words], check=True, capture_output=True, timeout=10)


class Namespaces:
    """The test's namespaces: a hub with a bridge, and one namespace per node with a veth to the bridge."""

    def __init__(self, tag: str) -> None:
        """Name them after ``tag`` (unique per test process); nothing is created yet."""
        self.hub = f"{tag}hub"
        self.created: list[str] = []

    def add(self, name: str) -> None:
        """Create a namespace (with its loopback up) and remember it for ``remove``."""
        _ip("netns", "add", name)
        self.created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def create_hub(self) -> None:
        """The hub namespace and its bridge."""
        self.add(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")

    def attach(self, name: str, index: int, address: str) -> None:
        """A node namespace whose eth0 (``address``/24) is a veth to the hub's bridge."""
        self.add(name)
        _ip("-n", self.hub, "link", "add", f"p{index}", "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("-n", self.hub, "link", "set", f"p{index}", "master", "br0", "up")
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")

    def bytes_through(self, index: int) -> int:
        """Bytes the hub's side of node ``index``'s veth received (what that node sent across interfaces)."""
        shown = subprocess.run(["ip", "-n", self.hub, "-s", "link", "show", f"p{index}"], check=True,
                               capture_output=True, text=True, timeout=10).stdout
        found = re.search(r"RX:.*\n\s+(\d+)", shown)
        assert found is not None, shown
        return int(found[1])

    def remove(self) -> None:
        """Delete every namespace created (their veths and the bridge go with them)."""
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=10)
        self.created.clear()


def _time_namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "--time", "--monotonic", "3600", "true"], check=False,
                              capture_output=True, timeout=10).returncode == 0
    except OSError:
        return False


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    """The hub namespace, or a skip with the reason printed where namespaces cannot be created."""
    reason = None
    if os.geteuid() != 0:
        reason = "network namespaces need root (ip netns add)"
    elif shutil.which("ip") is None:
        reason = "no ip command (iproute2)"
    created = Namespaces(f"a27t{os.getpid()}")
    if reason is None:
        try:
            created.create_hub()
        except subprocess.CalledProcessError as error:
            created.remove()
            reason = f"cannot create a network namespace: {error.stderr.decode(errors='replace').strip()}"
    if reason is not None:
        print(f"\nSKIPPED: {reason}")
        pytest.skip(reason)
    try:
        yield created
    finally:
        created.remove()
        listed = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True, text=True, timeout=10)
        assert created.hub not in listed.stdout, "a namespace of the test is left"


@pytest.mark.timeout(90)
def test_nodes_in_separate_namespaces_with_offset_clocks_converge_on_one_chain(namespaces: Namespaces,
                                                                               tmp_path: Path) -> None:
    started = time.monotonic()
    addresses = {name: f"10.27.0.{index + 1}" for index, name in enumerate(NAMES)}
    bootstrap = [f"{addresses[name]}:{PORT}" for name in VALIDATORS]
    time_namespaces = _time_namespaces_work()
    specs = []
    for index, name in enumerate(NAMES):
        namespace = f"{namespaces.hub[:-3]}n{index}"
        namespaces.attach(namespace, index, addresses[name])
        prefix = ["ip", "netns", "exec", namespace]
        if time_namespaces:  # each "machine" booted hours apart: real event loops' clocks differ
            hours = str(3_600 * (index + 1))
            prefix += ["unshare", "--time", "--monotonic", hours, "--boottime", hours]
        specs.append(NodeSpec(name, "light" if name == "l0" else "validator", addresses[name], PORT, bootstrap,
                              clock_offset=OFFSETS.get(name, 0.0), prefix=prefix))
    nodes = Nodes(tmp_path, specs, chain_id="a27-netns")
    try:
        for name in NAMES:
            nodes.start(name)
        nodes.until(lambda: all(nodes.height(name) >= TARGET for name in NAMES), 50,
                    f"every node to finalize height {TARGET}")
        for name in NAMES:
            nodes.stop(name)
    finally:
        nodes.kill_all()
    stopped = time.time()
    for name in NAMES:
        assert "offset_seconds" in nodes.log(name).read_text(encoding="utf-8") or name not in OFFSETS
    assert all(namespaces.bytes_through(index) > 0 for index in range(len(NAMES))), "no packet crossed a veth"

    chains = {name: nodes.stored_chain(name) for name in NAMES}
    common = min(len(chain) for chain in chains.values())
    assert common >= TARGET
    assert len({tuple(block.block_id for block in chain[:common]) for chain in chains.values()}) == 1
    drift_ms = int(PosSettings().max_clock_drift * 1000)
    longest = max(chains.values(), key=len)
    timestamps = [block.header.timestamp for block in longest]
    assert all(later > earlier for earlier, later in itertools.pairwise(timestamps))
    # No block is stamped from the clock 3 minutes ahead: every one is within the drift of the Unix time it ended by.
    assert max(timestamps) <= int(stopped * 1000) + drift_ms, (max(timestamps), stopped)
    ahead = nodes.keys["v2"].public_key
    print(f"\n{common} common blocks, {sum(block.header.proposer == ahead for block in longest)} proposed by the "
          f"ahead v2, time namespaces {'on' if time_namespaces else 'unavailable'}, "
          f"{time.monotonic() - started:.1f} s")
