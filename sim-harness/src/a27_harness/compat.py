"""
What differs between the Pythons a27 supports (3.10 to 3.13), in one place.

``tomllib``: the standard library's TOML reader from Python 3.11, its backport ``tomli`` (a dependency on 3.10 only)
before; node configs, scenario files and sweep manifests all read TOML through it.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
