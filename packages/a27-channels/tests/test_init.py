"""The public API is importable from the package."""

from __future__ import annotations

import importlib.metadata

from packaging.version import Version

import a27_channels


def test_everything_in_all_exists() -> None:
    for name in a27_channels.__all__:
        assert hasattr(a27_channels, name), name


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    # A release bump changes __about__.py and the metadata together; no test pins the number.
    version = Version(a27_channels.__version__)
    assert str(version) == a27_channels.__version__
    assert a27_channels.__version__ == importlib.metadata.version("a27-channels")
