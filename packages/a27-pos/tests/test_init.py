"""The package's public API."""

from __future__ import annotations

import importlib.metadata

from packaging.version import Version

import a27_pos


def test_everything_in_all_is_importable() -> None:
    missing = [name for name in a27_pos.__all__ if not hasattr(a27_pos, name)]
    assert missing == []
    assert len(set(a27_pos.__all__)) == len(a27_pos.__all__)


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    # A release bump changes __about__.py and the metadata together; no test pins the number.
    version = Version(a27_pos.__version__)
    assert str(version) == a27_pos.__version__
    assert a27_pos.__version__ == importlib.metadata.version("a27-pos")
