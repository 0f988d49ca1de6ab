"""
``a27 net up | status | down``: a local network of real node processes on 127.0.0.1, in one folder.

``up DIR`` makes ``DIR/<node>/`` with ``a27 node init`` (config, key, ``data/``), ``DIR/genesis.toml`` with ``a27 node
genesis``, and starts ``a27 node run`` for each node detached, its output in ``DIR/<node>/node.log`` and its process
id in ``DIR/<node>/node.pid``. ``status`` reads every node's REST API; ``down`` sends SIGTERM and waits.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .client import ClientError, NodeClient
from .node.command import CONFIG_NAME, OneLineErrorParser
from .node.command import main as node_main
from .node.config import ConfigError, load_config

PID_NAME = "node.pid"
LOG_NAME = "node.log"
STOP_WAIT = 20.0
"""Seconds ``down`` waits for a node to exit after SIGTERM."""


def _free_ports(count: int, kind: int) -> list[int]:
    probes = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def node_folders(root: Path) -> list[Path]:
    """The node folders of a network folder (those with a config), validators first, in name order."""
    folders = sorted(path.parent for path in root.glob(f"*/{CONFIG_NAME}"))
    return sorted(folders, key=lambda path: (not path.name.startswith("validator"), path.name))


def running_pid(folder: Path) -> int | None:
    """The process id of the node running from ``folder``, checked against the process's command line; else None."""
    try:
        pid = int((folder / PID_NAME).read_text(encoding="ascii").strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(folder / CONFIG_NAME).encode() in command else None


def bootstrap_addresses(validator_ports: list[int]) -> list[str]:
    """
    Where the nodes of ``net up`` introduce themselves: THE place to put the tracker (``a27 tracker``) when it lands.

    Until then every node walks to the validators: a27 nodes run no random walk, so a node that knew only the first
    validator would never meet the others (consensus needs every validator to reach every other).
    """
    return [f"127.0.0.1:{port}" for port in validator_ports]


def _init(root: Path, validators: int, light_nodes: int, layers: str, funds: list[str]) -> None:
    names = [f"validator-{index + 1}" for index in range(validators)] + [
        f"light-{index + 1}" for index in range(light_nodes)]
    udp = _free_ports(len(names), socket.SOCK_DGRAM)
    tcp = _free_ports(len(names), socket.SOCK_STREAM)
    bootstrap = bootstrap_addresses(udp[:validators])
    for index, name in enumerate(names):
        role = "validator" if name.startswith("validator") else "light"
        code = node_main(["node", "init", str(root / name), "--role", role, "--layers", layers, "--port",
                          str(udp[index]), "--rest-port", str(tcp[index]), "--bootstrap", *bootstrap])
        if code:
            raise ConfigError(f"a27 node init {root / name} failed")
    fund_options = [option for text in funds for option in ("--fund", text)]
    if node_main(["node", "genesis", str(root / "genesis.toml"), *(str(root / name) for name in names),
                  *fund_options]):
        raise ConfigError("a27 node genesis failed")


def _start(folder: Path) -> int:
    with (folder / LOG_NAME).open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "a27_harness.entry", "node", "run",
                                    str(folder / CONFIG_NAME)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, cwd=folder)
    (folder / PID_NAME).write_text(f"{process.pid}\n", encoding="ascii")
    return process.pid


def _up(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory).resolve()
    folders = node_folders(root) if root.is_dir() else []
    running = [folder.name for folder in folders if running_pid(folder) is not None]
    if running:
        raise ConfigError(f"{root} is running ({', '.join(running)}); `a27 net down {arguments.directory}` first")
    if not folders:
        root.mkdir(parents=True, exist_ok=True)
        _init(root, arguments.validators, arguments.light_nodes, arguments.layers, arguments.fund or [])
        folders = node_folders(root)
    # The tracker (`a27 tracker`) will be started here, before the nodes, once it lands.
    for folder in folders:
        pid = _start(folder)
        config = load_config(folder / CONFIG_NAME)
        rest = config.rest.url if config.rest is not None else "no REST API"
        print(f"{folder.name}: started, pid {pid}, udp {config.listen}:{config.port}, {rest}")
    return 0


def _status_rows(root: Path) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for folder in node_folders(root):
        if running_pid(folder) is None:
            rows.append((folder.name, "-", "stopped", "-", "-", "-"))
            continue
        try:
            client = NodeClient.at(str(folder), None)
            client.timeout = 5.0
            status = client.status()
            balance = str(client.balance(bytes.fromhex(status["account"])))
        except (ClientError, ConfigError) as error:
            rows.append((folder.name, "-", "no answer", "-", "-", str(error)[:40]))
            continue
        last = status["last_finality_time"]
        since = "-" if last is None else f"{max(0.0, time.time() - last):.1f} s ago"
        rows.append((folder.name, status["role"], str(status["height"]), str(status["peers"]), since, balance))
    return rows


def _table(rows: list[tuple[str, ...]]) -> str:
    header = ("node", "role", "height", "peers", "last finality", "balance")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def _status(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory).resolve()
    if not node_folders(root):
        raise ConfigError(f"{root}: no nodes here (`a27 net up {arguments.directory}` makes them)")
    while True:
        table = _table(_status_rows(root))
        if not arguments.watch:
            print(table)
            return 0
        print("\x1b[2J\x1b[H" + table, flush=True)
        time.sleep(arguments.interval)


def _down(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory).resolve()
    folders = node_folders(root)
    if not folders:
        raise ConfigError(f"{root}: no nodes here")
    stopping = {}
    for folder in folders:
        pid = running_pid(folder)
        if pid is None:
            print(f"{folder.name}: not running")
            (folder / PID_NAME).unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        stopping[folder] = pid
    deadline = time.monotonic() + STOP_WAIT
    failed = 0
    for folder, pid in stopping.items():
        while running_pid(folder) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(folder) is None:
            (folder / PID_NAME).unlink(missing_ok=True)
            print(f"{folder.name}: stopped (pid {pid})")
        else:
            failed += 1
            print(f"{folder.name}: still running after {STOP_WAIT:.0f} s (pid {pid}); see {folder / LOG_NAME}")
    return 1 if failed else 0


def _count(low: int, high: int) -> object:
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {high}, got {text!r}")
        return int(text)

    return parse


def add_net_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``net`` and its commands (up, status, down) to the ``a27`` command's subcommands."""
    net = commands.add_parser("net", help="a local network of real node processes: up, status, down",
                              description="Run a network of real a27 nodes on 127.0.0.1 from one folder.")
    kinds = net.add_subparsers(dest="net_command", required=True)
    up = kinds.add_parser("up", help="set up (first time) and start the nodes of DIR, detached")
    up.add_argument("directory", nargs="?", default="a27-net", metavar="DIR", help="the folder (default a27-net)")
    up.add_argument("--validators", type=_count(1, 64), default=4, help="validators (default 4)")
    up.add_argument("--light-nodes", type=_count(0, 64), default=4, help="light nodes (default 4)")
    up.add_argument("--layers", default="ledger,pos", help="ledger,pos (default) or ledger,pos,channels")
    up.add_argument("--fund", action="append", metavar="KEYFILE_OR_PUBKEY=AMOUNT",
                    help="one more funded account in the genesis, e.g. a wallet's key file; repeatable")
    up.set_defaults(net_handler=_up)
    status = kinds.add_parser("status", help="a table of the nodes: role, height, peers, last finality, balance")
    status.add_argument("directory", nargs="?", default="a27-net", metavar="DIR")
    status.add_argument("--watch", action="store_true", help="refresh until interrupted")
    status.add_argument("--interval", type=_count(1, 3600), default=2, help="seconds between refreshes (default 2)")
    status.set_defaults(net_handler=_status)
    down = kinds.add_parser("down", help="stop the nodes of DIR (SIGTERM, wait, report)")
    down.add_argument("directory", nargs="?", default="a27-net", metavar="DIR")
    down.set_defaults(net_handler=_down)
    net.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the parsed ``a27 net`` command; a bad folder or argument is one line on stderr and exit 2."""
    try:
        return int(arguments.net_handler(arguments))
    except ConfigError as error:
        print(f"a27 net {arguments.net_command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def main(argv: list[str]) -> int:
    """``a27 net ...`` (``argv`` starts with ``net``) without loading the rest of the ``a27`` command."""
    parser = OneLineErrorParser(prog="a27")
    add_net_parser(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    return int(arguments.handler(arguments))
