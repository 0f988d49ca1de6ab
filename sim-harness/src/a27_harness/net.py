"""
``a27 net up | status | down``: a local network of real node processes on 127.0.0.1, in one folder.

``up DIR`` makes ``DIR/tracker/`` (the tracker's address), ``DIR/<node>/`` with ``a27 node init`` (config, key,
``data/``; bootstrap: the tracker) and ``DIR/genesis.toml`` with ``a27 node genesis``, then starts ``a27 tracker run``
and ``a27 node run`` for each node, detached (``processes.py``: log and pid file in each folder). ``status`` shows
the tracker's line and reads every node's REST API; ``down`` stops the nodes, then the tracker.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

from .client import ClientError, NodeClient
from .node.command import CONFIG_NAME, command_main, one_line_errors
from .node.command import main as node_main
from .node.config import ConfigError, load_config
from .processes import (
    KILLED,
    NOT_RUNNING,
    TRACKER_ADDRESS,
    free_ports,
    log_file,
    make_tracker_folder,
    running_pid,
    start_node,
    start_tracker,
    stop_processes,
)

TRACKER = "tracker"
"""The tracker's folder in a network folder."""
READY_WAIT = 60
"""Seconds ``up`` waits by default for every node to be ready (``--wait``)."""


def node_folders(root: Path) -> list[Path]:
    """The node folders of a network folder (those with a config), validators first, in name order."""
    folders = sorted(path.parent for path in root.glob(f"*/{CONFIG_NAME}"))
    return sorted(folders, key=lambda path: (not path.name.startswith("validator"), path.name))


def tracker_folder(root: Path) -> Path | None:
    """The tracker's folder of a network folder, or None for a network without a tracker (``--no-tracker``)."""
    folder = root / TRACKER
    return folder if (folder / TRACKER_ADDRESS).exists() else None


def bootstrap_addresses(validator_ports: list[int], tracker_port: int | None) -> list[str]:
    """
    Where the nodes of ``net up`` introduce themselves: the tracker only, or without one every validator (a node
    that knew only the first validator would meet the others through its random walk alone, more slowly).
    """
    if tracker_port is not None:
        return [f"127.0.0.1:{tracker_port}"]
    return [f"127.0.0.1:{port}" for port in validator_ports]


def _init(root: Path, validators: int, light_nodes: int, layers: str, funds: list[str], *, tracker: bool) -> None:
    names = [f"validator-{index + 1}" for index in range(validators)] + [
        f"light-{index + 1}" for index in range(light_nodes)]
    udp = free_ports(len(names) + 1, socket.SOCK_DGRAM)
    tcp = free_ports(len(names), socket.SOCK_STREAM)
    tracker_port = udp.pop() if tracker else None
    if tracker_port is not None:
        make_tracker_folder(root / TRACKER, "127.0.0.1", tracker_port)
    bootstrap = bootstrap_addresses(udp[:validators], tracker_port)
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


def _up(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory).resolve()
    folders = node_folders(root) if root.is_dir() else []
    tracker = tracker_folder(root) if root.is_dir() else None
    running = [folder.name for folder in [*folders, *([tracker] if tracker else [])] if running_pid(folder)]
    if running:
        raise ConfigError(f"{root} is running ({', '.join(running)}); `a27 net down {arguments.directory}` first")
    if not folders:
        root.mkdir(parents=True, exist_ok=True)
        _init(root, arguments.validators, arguments.light_nodes, arguments.layers, arguments.fund or [],
              tracker=not arguments.no_tracker)
        folders, tracker = node_folders(root), tracker_folder(root)
    if tracker is not None:
        pid = start_tracker(tracker)
        address = (tracker / TRACKER_ADDRESS).read_text(encoding="ascii").strip()
        print(f"{TRACKER}: started, pid {pid}, udp {address}")
    for folder in folders:
        pid = start_node(folder)
        config = load_config(folder / CONFIG_NAME)
        rest = config.rest.url if config.rest is not None else "no REST API"
        print(f"{folder.name}: started, pid {pid}, udp {config.listen}:{config.port}, {rest}")
    if arguments.wait:
        return _wait_ready(folders, arguments.wait)
    return 0


def _ready(folder: Path) -> bool:
    """Whether the node of ``folder`` answers on its REST API, has a peer and (with PoS) a finalized block."""
    try:
        client = NodeClient.at(str(folder), None)
        client.timeout = 2.0
        status = client.status()
    except (ClientError, ConfigError):
        return False
    return bool(status["peers"]) and (status["height"] >= 1 or "pos" not in status["layers"])


def _wait_ready(folders: list[Path], seconds: int) -> int:
    """Wait up to ``seconds`` for every node to be ready; 0, or 1 naming the nodes that are not."""
    started = time.monotonic()
    waiting = [folder for folder in folders if load_config(folder / CONFIG_NAME).rest is not None]
    while waiting and time.monotonic() - started < seconds:
        time.sleep(0.5)
        exited = [folder for folder in waiting if running_pid(folder) is None]
        if exited:
            print(f"exited: {', '.join(folder.name for folder in exited)} (see "
                  f"{', '.join(str(log_file(folder)) for folder in exited)})", file=sys.stderr)
            return 1
        waiting = [folder for folder in waiting if not _ready(folder)]
    if waiting:
        print(f"not ready after {time.monotonic() - started:.0f} s: {', '.join(folder.name for folder in waiting)} "
              f"(see {', '.join(str(log_file(folder)) for folder in waiting)})", file=sys.stderr)
        return 1
    print(f"ready in {time.monotonic() - started:.1f} s: every node has peers and a finalized block")
    return 0


def _status_rows(root: Path) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    tracker = tracker_folder(root)
    if tracker is not None:
        address = (tracker / TRACKER_ADDRESS).read_text(encoding="ascii").strip()
        state = "running" if running_pid(tracker) is not None else "stopped"
        rows.append((TRACKER, TRACKER, "-", "-", "-", "-", f"{state}, udp {address}"))
    for folder in node_folders(root):
        if running_pid(folder) is None:
            rows.append((folder.name, "-", "stopped", "-", "-", "-", ""))
            continue
        try:
            client = NodeClient.at(str(folder), None)
            client.timeout = 5.0
            status = client.status()
            balance = str(client.balance(bytes.fromhex(status["account"])))
        except (ClientError, ConfigError) as error:
            rows.append((folder.name, "-", "no answer", "-", "-", "-", str(error)[:40]))
            continue
        last = status["last_finality_time"]
        since = "-" if last is None else f"{max(0.0, time.time() - last):.1f} s ago"
        rows.append((folder.name, status["role"], str(status["height"]), str(status["peers"]), since, balance, ""))
    return rows


def _table(rows: list[tuple[str, ...]]) -> str:
    header = ("node", "role", "height", "peers", "last finality", "balance", "")
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


def stop_and_report(folders: list[Path]) -> int:
    """Stop the processes of ``folders`` (``processes.stop_processes``), one line each; how many had to be killed."""
    pids = {folder: running_pid(folder) for folder in folders}
    killed = 0
    for folder, ended in stop_processes(folders).items():
        if ended == NOT_RUNNING:
            print(f"{folder.name}: {NOT_RUNNING}")
        elif ended == KILLED:
            killed += 1
            print(f"{folder.name}: killed: still running after SIGTERM (pid {pids[folder]}); see {log_file(folder)}")
        else:
            print(f"{folder.name}: stopped (pid {pids[folder]})")
    return killed


def _down(arguments: argparse.Namespace) -> int:
    root = Path(arguments.directory).resolve()
    folders = node_folders(root)
    if not folders:
        raise ConfigError(f"{root}: no nodes here")
    tracker = tracker_folder(root)
    killed = stop_and_report(folders) + stop_and_report([tracker] if tracker is not None else [])
    return 1 if killed else 0


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
    up.add_argument("--wait", type=_count(0, 3600), default=READY_WAIT, metavar="SECONDS",
                    help=f"wait up to this long for every node to have a peer and a finalized block (default "
                         f"{READY_WAIT}; 0: return at once); exit 1 if one has not")
    up.add_argument("--no-tracker", action="store_true",
                    help="start no tracker: every node bootstraps off the validators (first `up` of DIR only)")
    up.set_defaults(net_handler=_up)
    status = kinds.add_parser("status", help="a table of the nodes: role, height, peers, last finality, balance")
    status.add_argument("directory", nargs="?", default="a27-net", metavar="DIR")
    status.add_argument("--watch", action="store_true", help="refresh until interrupted")
    status.add_argument("--interval", type=_count(1, 3600), default=2, help="seconds between refreshes (default 2)")
    status.set_defaults(net_handler=_status)
    down = kinds.add_parser("down", help="stop the nodes of DIR, then its tracker (SIGTERM, wait, report)")
    down.add_argument("directory", nargs="?", default="a27-net", metavar="DIR")
    down.set_defaults(net_handler=_down)
    net.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the parsed ``a27 net`` command; a bad folder or argument is one line on stderr and exit 2."""
    try:
        return one_line_errors(f"a27 net {arguments.net_command}", lambda: arguments.net_handler(arguments),
                               {ConfigError: 2})
    except KeyboardInterrupt:
        return 0


def main(argv: list[str]) -> int:
    """``a27 net ...`` (``argv`` starts with ``net``) without loading the rest of the ``a27`` command."""
    return command_main(add_net_parser, argv)
