"""The package installs, carries its version, and imports only the layers below it."""

from __future__ import annotations

import importlib.metadata

from packaging.version import Version

import a27_attacks
from a27_ledger.testing import modules_loaded_by


def test_everything_in_all_exists() -> None:
    for name in a27_attacks.__all__:
        assert hasattr(a27_attacks, name), name


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    version = Version(a27_attacks.__version__)
    assert str(version) == a27_attacks.__version__
    assert a27_attacks.__version__ == importlib.metadata.version("a27-attacks")


def test_importing_the_package_loads_no_harness_or_simulator() -> None:
    assert modules_loaded_by("import a27_attacks", ("a27_harness", "a27_netsim")) == set()
