"""Version of the a27-attacks distribution."""

__version__ = "0.1.0"
