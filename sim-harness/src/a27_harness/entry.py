"""
The ``a27`` console script: ``a27 node ...`` goes to the node commands alone, ``a27 tracker ...`` to the tracker
command alone, everything else to ``a27_harness.cli``.

A real node process (``a27 node run``) thus never imports the labs, the experiments or the report code, and with them
matplotlib and scipy (architecture: "A node process imports no plotting or report code").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


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
