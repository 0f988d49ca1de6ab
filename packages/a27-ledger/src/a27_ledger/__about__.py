"""Version of the a27-ledger distribution."""

__version__ = "0.1.0"
