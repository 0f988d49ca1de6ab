"""The layers a node can run, and the errors for layers that do not exist or lack what they run on."""

LAYERS = ("ledger", "pos", "channels")
"""The layers a node can be built with, bottom first."""


class UnknownLayer(ValueError):
    """A layer name that a27 does not have (yet)."""


class MissingLayer(ValueError):
    """A layer another one depends on is not in the node (every node runs ledger; channels runs on pos)."""
