"""
Helpers for the real-network tests: node folders written the way ``a27 node init | genesis`` writes them, ``a27 node
run`` processes (stopped by pid, SIGKILL included), a load of signed transfers through a node's REST API, and the
stored chains read back from the nodes' SQLite files.

Every address is 127.0.0.1 or one inside the test's own network namespaces; nothing else is contacted.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs

from a27_harness.client import ClientError, NodeClient
from a27_harness.node.config import (
    RestConfig,
    load_config,
    load_genesis,
    load_or_create_key,
    render_config,
    render_genesis,
)
from a27_harness.node.stores import chain_registry, open_chain
from a27_ledger import KeyPair, SQLiteStore, sign_transfer
from a27_pos import Block, Chain, SQLiteChainStore

A27 = [sys.executable, "-m", "a27_harness.entry"]
"""The ``a27`` command of this interpreter's environment."""
FINALIZED = re.compile(r"(\w+): finalized height (\d+)")



@attrs.define
class NodeSpec:
    """One node of a test network: its name, role, address, bootstrap list and optional extras."""

    name: str
    role: str
    listen: str
    port: int
    bootstrap: Sequence[str]
    rest_port: int | None = None
    behaviour: str = "honest"
    clock_offset: float = 0.0
    prefix: Sequence[str] = ()
    """Words run before ``a27 node run`` (``ip netns exec NS``)."""
    layers: Sequence[str] = ("ledger", "pos")
    api_key: str | None = None
    """The REST API's key (channel operations need one)."""
    behaviour_params: Sequence[str] = ()


class Processes:
    """
    ``a27 node run`` processes of nodes whose folders (``ROOT/NAME/node.toml``) exist; each run logs to a file of its
    own, and ``kill_all`` kills, by pid, every one still running.
    """

    def __init__(self, root: Path, prefixes: dict[str, Sequence[str]] | None = None) -> None:
        """Processes of the nodes under ``root``; ``prefixes`` are words run before a node's command
        (``ip netns exec NS``)."""
        self.root = root
        self.prefixes = dict(prefixes or {})
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def log(self, name: str) -> Path:
        """The log file of the node's current (or last) run."""
        return self.root / f"{name}.{self.starts.get(name, 0)}.log"

    def start(self, name: str) -> None:
        """Start ``a27 node run`` for the node (after its prefix), logging to a file of its own."""
        self.starts[name] = self.starts.get(name, 0) + 1
        command = [*self.prefixes.get(name, ()), *A27, "node", "run", str(self.root / name / "node.toml")]
        with self.log(name).open("wb") as log:
            self.processes[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    def height(self, name: str) -> int:
        """The highest height the node's current run logged as finalized."""
        heights = [int(found[1]) for found in FINALIZED.findall(self.log(name).read_text(encoding="utf-8"))]
        return max(heights, default=0)

    def kill(self, name: str) -> None:
        """``kill -9`` the node: no signal handler runs, its databases are left as the moment found them."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=15) == -signal.SIGKILL

    def stop(self, name: str, number: signal.Signals = signal.SIGTERM) -> None:
        """Signal the node (SIGTERM, or SIGINT as Ctrl-C) and check that it exits 0 after closing its databases."""
        process = self.processes.pop(name)
        process.send_signal(number)
        assert process.wait(timeout=15) == 0, self.log(name).read_text(encoding="utf-8")
        assert "databases closed" in self.log(name).read_text(encoding="utf-8")

    def kill_all(self) -> None:
        """Kill whatever is still running (by pid) and reap it."""
        for process in self.processes.values():
            process.kill()
            process.wait(timeout=15)
        self.processes.clear()

    def check_running(self) -> None:
        """Fail, with its log, if a node that should run has exited."""
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited: {self.log(name).read_text(encoding='utf-8')}"

    def until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait (polling every 0.2 s) until ``condition()``; fail after ``timeout`` s or if a node exits."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.check_running()
            if time.monotonic() > deadline:
                heights = {name: self.height(name) for name in self.processes}
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; heights {heights}")
            time.sleep(0.2)


class Nodes(Processes):
    """A test's node folders and ``a27 node run`` processes; ``kill_all`` kills, by pid, every one still running."""

    def __init__(self, root: Path, specs: Sequence[NodeSpec], funded: Sequence[tuple[bytes, int]] = (),
                 chain_id: str = "a27-test") -> None:
        """Write each node's folder (config, key) and the shared genesis under ``root``."""
        super().__init__(root, {spec.name: spec.prefix for spec in specs})
        self.specs = {spec.name: spec for spec in specs}
        self.keys: dict[str, KeyPair] = {}
        for spec in specs:
            folder = root / spec.name
            folder.mkdir(parents=True)
            rest = None if spec.rest_port is None else RestConfig("127.0.0.1", spec.rest_port, spec.api_key)
            text = render_config(spec.name, spec.role, list(spec.layers), spec.port, list(spec.bootstrap),
                                 listen=spec.listen, behaviour=spec.behaviour, rest=rest,
                                 behaviour_params=spec.behaviour_params)
            if spec.clock_offset:
                text += f"\n[clock]\noffset_seconds = {spec.clock_offset!r}\n"
            (folder / "node.toml").write_text(text, encoding="utf-8")
            self.keys[spec.name] = load_or_create_key(folder / "key.bin")
        configs = [(load_config(root / name / "node.toml"), key) for name, key in self.keys.items()]
        (root / "genesis.toml").write_text(render_genesis(chain_id, configs, 1_000_000, 100_000, funded),
                                           encoding="utf-8")
        self.genesis = load_genesis(root / "genesis.toml")

    def client(self, name: str) -> NodeClient:
        """A REST client for the node (it must have a ``rest_port``)."""
        port = self.specs[name].rest_port
        assert port is not None, f"{name} serves no REST API"
        return NodeClient(f"http://127.0.0.1:{port}", self.specs[name].api_key, timeout=15.0)

    def stored_chain(self, name: str) -> list[Block]:
        """The stopped node's finalized blocks from its SQLite stores (see ``stored_chain``)."""
        return stored_chain(self.root / name / "node.toml")


def stored_chain(config_path: Path) -> list[Block]:
    """
    A stopped node's finalized blocks read from its SQLite stores, after checking that each database passes SQLite's
    integrity check, that they reopen together (same height, same blocks) and that the chain's invariants hold:
    balances plus escrows equal the supply, and the supply is the genesis supply plus the block rewards minus what
    was burned (slashing included).
    """
    with opened_chain(config_path) as (chain, chain_store):
        blocks = [chain_store.block(height) for height in range(1, chain.height + 1)]
        return [block for block in blocks if block is not None]


@contextmanager
def opened_chain(config_path: Path) -> Iterator[tuple[Chain, SQLiteChainStore]]:
    """A stopped node's chain and chain store, reopened from its SQLite stores and checked as ``stored_chain`` says;
    closed when the block ends."""
    config = load_config(config_path)
    data = config.data_dir
    for database in (f"{config.name}.db", f"{config.name}.chain.db"):
        connection = sqlite3.connect(data / database)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",), f"{database} is corrupt"
        finally:
            connection.close()
    ledger = SQLiteStore(data / f"{config.name}.db")
    chain_store = SQLiteChainStore(data / f"{config.name}.chain.db", chain_registry(config.layers))
    try:
        chain = open_chain(config.layers, load_genesis(config.genesis), ledger, chain_store)
        chain.check_invariants()
        yield chain, chain_store
    finally:
        ledger.close()
        chain_store.close()


@attrs.define
class Sent:
    """One transfer of the load: its signed bytes, when it was first submitted and when the API called it final."""

    raw: str
    tx_id: str
    amount: int
    submitted: float
    final_at: float | None = None
    height: int | None = None


class Load:
    """
    Signed transfers from funded senders to one recipient, submitted through one node's REST API by one thread per
    sender: submit, wait (``?wait=``) for finality, submit the same bytes again if still pending, then the next nonce
    after ``interval`` seconds. ``stop`` ends new transfers; the pending ones are still driven to finality.
    """

    def __init__(self, client: NodeClient, senders: Sequence[KeyPair], recipient: bytes, interval: float) -> None:
        """Prepare the threads (``start`` runs them)."""
        self.client = client
        self.recipient = recipient
        self.interval = interval
        self.sent: dict[bytes, list[Sent]] = {sender.public_key: [] for sender in senders}
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._threads = [threading.Thread(target=self._run, args=(sender,), daemon=True) for sender in senders]

    def start(self) -> None:
        """Start the senders."""
        for thread in self._threads:
            thread.start()

    def final(self) -> list[Sent]:
        """The transfers the API reported final so far."""
        return [sent for sents in self.sent.values() for sent in list(sents) if sent.final_at is not None]

    def stop(self, drain: float) -> None:
        """No new transfers; wait up to ``drain`` s for the pending ones to be final, then end the threads."""
        self._deadline = time.monotonic() + drain
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=drain + 20)

    def _run(self, sender: KeyPair) -> None:
        nonce = 0
        while not self._stopping.is_set():
            amount = 1 + nonce % 7
            transaction = sign_transfer(sender, self.recipient, amount, nonce)
            sent = Sent(transaction.encode().hex(), transaction.tx_id.hex(), amount, time.monotonic())
            self.sent[sender.public_key].append(sent)
            while sent.final_at is None and time.monotonic() < self._deadline:
                self._attempt(sent)
            if sent.final_at is None:
                return
            nonce += 1
            self._stopping.wait(self.interval)

    def _attempt(self, sent: Sent) -> None:
        try:
            self.client.request("POST", "/transactions", {"transaction": sent.raw}, timeout=15.0)
        except ClientError as error:
            # A killed validator does not answer (504); one that took the transfer already refuses it again (422).
            self.errors.append(str(error))
        try:
            answer = self.client.request("GET", f"/transactions/{sent.tx_id}?wait=5", timeout=15.0)
        except ClientError as error:
            self.errors.append(str(error))
            time.sleep(0.5)
            return
        if answer.get("status") == "final":
            sent.final_at = time.monotonic()
            sent.height = int(answer["height"])


def blocks_through_rest(client: NodeClient, up_to: int) -> list[dict[str, object]]:
    """The node's finalized blocks 1 to ``up_to`` read page by page through its REST API."""
    blocks: list[dict[str, object]] = []
    while len(blocks) < up_to:
        page = client.request("GET", f"/blocks?start={len(blocks) + 1}&count={min(50, up_to - len(blocks))}")
        assert page["blocks"], f"{client.url} has no block at height {len(blocks) + 1}"
        blocks += page["blocks"]
    return blocks


def dump(value: object) -> str:
    """``value`` as sorted JSON, for messages."""
    return json.dumps(value, sort_keys=True, default=str)
