"""Version of the a27-channels distribution."""

__version__ = "0.1.0"
