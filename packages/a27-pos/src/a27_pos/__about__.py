"""Version of the a27-pos distribution."""

__version__ = "0.1.0"
