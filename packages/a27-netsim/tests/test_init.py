"""The package's public API."""

from __future__ import annotations

import importlib.metadata
import inspect

from packaging.version import Version

import a27_netsim


def test_everything_in_all_is_importable_and_documented() -> None:
    missing = [name for name in a27_netsim.__all__ if not hasattr(a27_netsim, name)]
    assert missing == []
    assert len(set(a27_netsim.__all__)) == len(a27_netsim.__all__)
    undocumented = [
        name
        for name in a27_netsim.__all__
        if (inspect.isclass(getattr(a27_netsim, name)) or inspect.isfunction(getattr(a27_netsim, name)))
        and not inspect.getdoc(getattr(a27_netsim, name))
    ]
    assert undocumented == []


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    # A release bump changes __about__.py and the metadata together; no test pins the number.
    version = Version(a27_netsim.__version__)
    assert str(version) == a27_netsim.__version__
    assert a27_netsim.__version__ == importlib.metadata.version("a27-netsim")
