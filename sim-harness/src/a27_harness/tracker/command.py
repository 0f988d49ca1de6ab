"""
``a27 tracker run``: the tracker as its own process, until SIGINT or SIGTERM.

The ``a27`` command hands ``a27 tracker ...`` straight to ``main`` here (``a27_harness.entry``), so a tracker process
loads neither the node layers' stores nor the labs, experiments or reports.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from collections.abc import Sequence

import attrs

from ..node.command import LOG_LEVELS, command_main, run_service
from ..node.process import stop_on_signals
from .server import start_tracker, stop_tracker
from .table import TrackerQuotas

DEFAULT_PORT = 8090
"""py-ipv8's tracker port."""

log = logging.getLogger("a27.tracker")


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IPv4 address such as 127.0.0.1, got {text!r}") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65_535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65,535, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0 (0 switches the quota off), got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0 switches the age limit off), got {text!r}")
    return value


def quotas_from(arguments: argparse.Namespace) -> TrackerQuotas:
    """The quotas the options ask for: the defaults, each option replacing one, ``--no-quotas`` all off first."""
    quotas = TrackerQuotas.none() if arguments.no_quotas else TrackerQuotas()
    options = ("per_endpoint", "per_ip", "per_subnet", "max_age", "max_overlays", "rate")
    changes = {name: getattr(arguments, name) for name in options if getattr(arguments, name) is not None}
    if arguments.no_key_refresh:
        changes["key_refresh"] = False
    return attrs.evolve(quotas, **changes)


async def serve(host: str, port: int, quotas: TrackerQuotas) -> None:
    """Run the tracker on ``host``:``port`` until SIGINT or SIGTERM arrives."""
    with stop_on_signals() as stop:
        server = await start_tracker(host, port, quotas)
        address = server.endpoint.get_address()
        log.info("tracker: listening on %s:%d, quotas %s", address[0], address[1], quotas)
        try:
            await stop.wait()
        finally:
            log.info("tracker: stopping; %d overlays, %d peers", len(server.table.overlays), len(server.table))
            await stop_tracker(server)


def _run(arguments: argparse.Namespace) -> int:
    return run_service("a27 tracker run", arguments.log_level, serve(arguments.listen, arguments.port,
                                                                    quotas_from(arguments)))


def add_tracker_parser(commands: argparse._SubParsersAction) -> None:
    """Add ``tracker`` and its command (run) to the ``a27`` command's subcommands."""
    tracker = commands.add_parser("tracker", help="run an IPv8 bootstrap server (tracker) for real nodes",
                                  description="An IPv8 bootstrap server: answers introduction requests for any "
                                              "community and introduces each node to another of its community.")
    kinds = tracker.add_subparsers(dest="tracker_command", required=True)
    run = kinds.add_parser("run", help="run the tracker on a UDP port until SIGINT or SIGTERM",
                           description="Run the tracker. It keeps the 100 newest peers per community, under quotas "
                                       "(on by default) that keep Sybil identities from pushing honest peers out; "
                                       "--no-quotas gives py-ipv8's stock tracker.")
    run.add_argument("--listen", type=_ipv4, default="0.0.0.0",
                     help="the IPv4 address to listen on (default 0.0.0.0: every interface)")
    run.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"the UDP port (default {DEFAULT_PORT})")
    run.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="what to log (default info)")
    defaults = TrackerQuotas()
    run.add_argument("--no-quotas", action="store_true",
                     help="switch every quota off (py-ipv8's tracker); options below switch single quotas back on")
    run.add_argument("--per-endpoint", type=_count, metavar="N",
                     help=f"keys per UDP address per community (default {defaults.per_endpoint}; 0: off)")
    run.add_argument("--per-ip", type=_count, metavar="N",
                     help=f"keys per IP address per community (default {defaults.per_ip}; 0: off)")
    run.add_argument("--per-subnet", type=_count, metavar="N",
                     help=f"keys per IPv4 /24 per community (default {defaults.per_subnet}; 0: off)")
    run.add_argument("--max-age", type=_seconds, metavar="SECONDS",
                     help=f"forget a peer this long after its last request (default {defaults.max_age:g}; 0: off)")
    run.add_argument("--max-overlays", type=_count, metavar="N",
                     help=f"communities tracked at once (default {defaults.max_overlays:,}; 0: no bound)")
    run.add_argument("--rate", type=_count, metavar="N",
                     help=f"requests per second per IP address, checked before the signature (default "
                          f"{defaults.rate}; 0: off)")
    run.add_argument("--no-key-refresh", action="store_true",
                     help="a key's repeated requests keep its first registration's age (py-ipv8's behaviour)")
    run.set_defaults(tracker_handler=_run)
    tracker.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the ``a27 tracker`` command parsed into ``arguments``."""
    return int(arguments.tracker_handler(arguments))


def main(argv: Sequence[str]) -> int:
    """``a27 tracker ...`` (``argv`` starts with ``tracker``) without loading the rest of the ``a27`` command."""
    return command_main(add_tracker_parser, argv)
