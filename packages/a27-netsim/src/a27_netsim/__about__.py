"""Version of the a27-netsim distribution."""

__version__ = "0.1.0"
