"""
``a27 node init | genesis | run``: set up and run one real node.

The ``a27`` command hands ``a27 node ...`` straight to ``main`` here (``a27_harness.entry``), so a node process never
loads the labs, the experiments or the report code; ``add_node_parser`` also puts the commands in ``a27 --help``.

The plumbing the other commands entered that way (``a27 tracker``, ``wallet``, ``net``) share with it lives here too:
the parser whose errors are one line (``OneLineErrorParser``), parsing one command alone (``command_main``), errors as
one line and an exit code (``one_line_errors``), a long-running service logging to stderr (``run_service``). Not in
``entry.py``: that imports ``cli`` and with it the reports, which a node or tracker module may not (import-linter).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from a27_ledger import LedgerError
from a27_pos import PosError

from .builder import ROLES, VALIDATOR
from .config import (
    DEFAULT_REST_PORT,
    ConfigError,
    RestConfig,
    check_layers,
    load_config,
    load_genesis,
    load_or_create_key,
    parse_fund,
    render_config,
    render_genesis,
)
from .process import attacker_genesis, serve

CONFIG_NAME = "node.toml"
"""The config file ``a27 node init DIR`` writes in DIR."""
LOG_LEVELS = ("debug", "info", "warning", "error")
"""The levels every ``--log-level`` takes (node, tracker, attack)."""
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The stderr log lines of a node or tracker process."""


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (``a27 sim: argument --seed: ...``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` on one line after the command's name, and exit with status 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def command_main(add_parser: Callable[[argparse._SubParsersAction], None], argv: Sequence[str]) -> int:
    """
    Run ``a27 COMMAND ...`` (``argv`` starts with COMMAND) with only the parser ``add_parser`` adds, so that the
    process loads nothing of the rest of the ``a27`` command; the exit status of the command's handler.
    """
    parser = OneLineErrorParser(prog="a27")
    add_parser(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    return int(arguments.handler(arguments))


def one_line_errors(command: str, run: Callable[[], int], exit_codes: Mapping[type[Exception], int]) -> int:
    """
    The exit status of ``run()``; an error of a type in ``exit_codes`` (the first that matches, in order) is one line
    on stderr, ``COMMAND: error``, and that type's exit status instead of a traceback.
    """
    try:
        return int(run())
    except tuple(exit_codes) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return next(code for kind, code in exit_codes.items() if isinstance(error, kind))


def run_service(command: str, log_level: str, service: Coroutine[Any, Any, None]) -> int:
    """
    Log to stderr at ``log_level`` and run ``service`` (a node or the tracker, which return on SIGINT or SIGTERM) on
    a new event loop; exit status 0, or 1 with one line ``COMMAND: error`` when the network refuses it (OSError:
    an address in use or not this host's).
    """
    logging.basicConfig(stream=sys.stderr, level=log_level.upper(), format=LOG_FORMAT)
    try:
        asyncio.run(service)
    except OSError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    return 0


def _init(arguments: argparse.Namespace) -> int:
    directory = Path(arguments.directory)
    config_path = directory / CONFIG_NAME
    api_key = secrets.token_urlsafe(24) if arguments.api_key is None else arguments.api_key
    text = render_config(arguments.name or directory.resolve().name, arguments.role,
                         check_layers("--layers", arguments.layers), arguments.port, arguments.bootstrap or [],
                         listen=arguments.listen, genesis=arguments.genesis,
                         rest=RestConfig(arguments.rest_address, arguments.rest_port or DEFAULT_REST_PORT, api_key),
                         rest_enabled=arguments.rest_port is not None)
    if config_path.exists():
        raise ConfigError(f"{config_path} exists; it is not overwritten (edit it, or init another folder)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Mode 0600: the config holds the REST API key.
        descriptor = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigError(f"{directory}: cannot write {CONFIG_NAME} there: {error.strerror or error}") from None
    config = load_config(config_path)
    key = load_or_create_key(config.key_file)
    print(f"{config_path}: {config.role} {config.name}, key {key.public_key.hex()}")
    return 0


def _genesis(arguments: argparse.Namespace) -> int:
    target = Path(arguments.out)
    if target.exists():
        raise ConfigError(f"{target} exists; a genesis is never overwritten (the nodes' data depend on it)")
    nodes = []
    for given in arguments.nodes:
        path = Path(given)
        config = load_config(path / CONFIG_NAME if path.is_dir() else path)
        nodes.append((config, load_or_create_key(config.key_file)))
    if not any(config.role == VALIDATOR for config, _ in nodes):
        raise ConfigError("a genesis needs at least one validator among the nodes")
    funded = [parse_fund(text) for text in arguments.fund or []]
    text = render_genesis(arguments.chain_id, nodes, arguments.balance, arguments.stake, funded,
                          attackers=attacker_genesis(nodes, arguments.stake))
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise ConfigError(f"{target}: cannot write it: {error.strerror or error}") from None
    written = load_genesis(target.resolve())
    print(f"{target}: {len(written.ledger.balances)} accounts, {len(written.stakes)} validators")
    return 0


def _run(arguments: argparse.Namespace) -> int:
    config = load_config(arguments.config)
    try:
        return run_service(f"a27 node run: {config.name}", arguments.log_level, serve(config))
    except (LedgerError, PosError) as error:
        # The data directory holds another chain than the genesis names, or a store the layers refuse to reopen.
        raise ConfigError(f"{config.data_dir}: {error}") from None


def add_node_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``node`` and its commands (init, genesis, run) to the ``a27`` command's subcommands."""
    node = commands.add_parser("node", help="set up and run one real node on a UDP socket",
                               description="Run one real a27 node from a config file: `init` writes a config and a "
                                           "key, `genesis` the genesis file the nodes share, `run` starts the node.")
    kinds = node.add_subparsers(dest="node_command", required=True)
    init = kinds.add_parser("init", help="write a commented config (DIR/node.toml) and a key (DIR/key.bin)",
                            description="Write DIR/node.toml, a commented config, and the key DIR/key.bin (mode "
                                        "0600) unless it exists. Neither file is ever overwritten.")
    init.add_argument("directory", metavar="DIR", help="the node's folder (created if missing)")
    init.add_argument("--name", help="the node's name (default: the folder's name)")
    init.add_argument("--role", choices=ROLES, default=VALIDATOR, help="validator (default) or light")
    init.add_argument("--layers", default="ledger,pos", help="ledger, ledger,pos (default) or ledger,pos,channels")
    init.add_argument("--listen", default="127.0.0.1", help="the IPv4 address to listen on (default 127.0.0.1)")
    init.add_argument("--port", type=int, default=9000, help="the UDP port to listen on (default 9000)")
    init.add_argument("--bootstrap", nargs="*", metavar="HOST:PORT", help="nodes to introduce this node to")
    init.add_argument("--genesis", default="../genesis.toml",
                      help="the shared genesis file, relative to DIR (default ../genesis.toml)")
    init.add_argument("--rest-address", default="127.0.0.1",
                      help="the IPv4 address of the node's REST API (default 127.0.0.1; any other needs an API key)")
    init.add_argument("--rest-port", type=int,
                      help=f"serve the node's REST API on this TCP port (default: none; the [rest] table is written "
                           f"commented out, with port {DEFAULT_REST_PORT})")
    init.add_argument("--api-key", help="the REST API key (default: a fresh random one; \"\" for none, loopback only)")
    init.set_defaults(node_handler=_init)
    genesis = kinds.add_parser("genesis", help="write the genesis file for some nodes' keys",
                               description="Write the genesis file OUT for the nodes whose folders (or configs) are "
                                           "given: every account starts with --balance, each validator also bonds "
                                           "--stake. Creates missing keys; never overwrites OUT.")
    genesis.add_argument("out", metavar="OUT", help="the genesis file to write")
    genesis.add_argument("nodes", nargs="+", metavar="NODE", help="a node's folder (with node.toml) or config file")
    genesis.add_argument("--chain-id", default="a27-local", help="the chain id (default a27-local)")
    genesis.add_argument("--balance", type=int, default=1_000_000, help="each account's balance (default 1000000)")
    genesis.add_argument("--stake", type=int, default=100_000, help="each validator's stake (default 100000)")
    genesis.add_argument("--fund", action="append", metavar="KEYFILE_OR_PUBKEY=AMOUNT",
                         help="one more account (a key file, e.g. a wallet's, or 64 hex characters) and its balance; "
                              "repeatable")
    genesis.set_defaults(node_handler=_genesis)
    run = kinds.add_parser("run", help="run the node a config describes until SIGINT or SIGTERM",
                           description="Run one node on its UDP socket; log to stderr; stop cleanly on SIGINT or "
                                       "SIGTERM (every database closed). A restart resumes from the data directory.")
    run.add_argument("config", metavar="CONFIG.toml", help="the node's config file")
    run.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="what to log (default info)")
    run.set_defaults(node_handler=_run)
    node.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the ``a27 node`` command parsed into ``arguments``; a bad config is one line on stderr and exit 2."""
    return one_line_errors(f"a27 node {arguments.node_command}", lambda: arguments.node_handler(arguments),
                           {ConfigError: 2})


def main(argv: Sequence[str]) -> int:
    """``a27 node ...`` (``argv`` starts with ``node``) without loading the rest of the ``a27`` command."""
    return command_main(add_node_parser, argv)
