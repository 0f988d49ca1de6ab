"""
The ``a27`` console script: ``a27 node ...`` goes to the node commands alone, ``a27 tracker ...`` to the tracker
command alone, everything else to ``a27_harness.cli``.

A real node process (``a27 node run``) thus never imports the labs, the experiments or the report code, and with them
matplotlib and scipy (architecture: "A node process imports no plotting or report code").

The plumbing every such command's process shares lives here too: the argument parser whose errors are one line
(``OneLineErrorParser``), parsing one command alone (``command_main``), its errors as one line and an exit code
(``one_line_errors``), and a long-running service with its log on stderr (``run_service``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, NoReturn

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``a27`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["node"]:
        from .node.command import main as node_main  # noqa: PLC0415 - imported only for `a27 node`

        return node_main(arguments)
    if arguments[:1] == ["tracker"]:
        from .tracker.command import main as tracker_main  # noqa: PLC0415 - imported only for `a27 tracker`

        return tracker_main(arguments)
    if arguments[:1] == ["wallet"]:
        from .wallet import main as wallet_main  # noqa: PLC0415 - a client of a node's REST API

        return wallet_main(arguments)
    if arguments[:1] == ["net"]:
        from .net import main as net_main  # noqa: PLC0415 - starts and reads node processes

        return net_main(arguments)
    from .cli import main as cli_main  # noqa: PLC0415 - the full command, with its reports

    return cli_main(arguments)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
