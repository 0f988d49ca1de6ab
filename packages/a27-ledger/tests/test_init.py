"""The package's public API."""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.version import Version

import a27_ledger
from a27_ledger.testing import modules_loaded_by, typed_and_lazy_exports


def test_everything_in_all_is_importable() -> None:
    missing = [name for name in a27_ledger.__all__ if not hasattr(a27_ledger, name)]
    assert missing == []
    assert len(set(a27_ledger.__all__)) == len(a27_ledger.__all__)


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    # A release bump changes __about__.py and the metadata together; no test pins the number.
    version = Version(a27_ledger.__version__)
    assert str(version) == a27_ledger.__version__
    assert a27_ledger.__version__ == importlib.metadata.version("a27-ledger")


CORE_MODULES = ("a27_ledger.behaviour", "a27_ledger.errors", "a27_ledger.genesis", "a27_ledger.keys",
                "a27_ledger.ledger_print", "a27_ledger.pending", "a27_ledger.records", "a27_ledger.registry",
                "a27_ledger.replication", "a27_ledger.snapshot", "a27_ledger.state", "a27_ledger.store",
                "a27_ledger.testing", "a27_ledger.lazy", "a27_ledger.transaction", "a27_ledger.vectors")
OVERLAY_MODULES = ("asyncio", "ipv8.community", "a27_ledger.overlay", "a27_ledger.community", "a27_ledger.payloads")



def loaded(statement: str) -> set[str]:
    """The modules among OVERLAY_MODULES that ``statement`` loads in a fresh interpreter."""
    return modules_loaded_by(statement, OVERLAY_MODULES)


def test_the_core_loads_no_overlay_code() -> None:
    # ipv8.keyvault (key conversion) is fine; the network stack and asyncio are not.
    assert loaded("import " + ", ".join(CORE_MODULES)) == set()
    assert loaded("from a27_ledger import LedgerState, LedgerReplica, KeyPair, Transaction") == set()


def test_an_overlay_name_loads_the_overlay_on_first_use() -> None:
    assert loaded("from a27_ledger import signed_handler") >= {"asyncio", "ipv8.community",
                                                                          "a27_ledger.overlay"}
    assert "a27_ledger.community" in loaded("import a27_ledger; a27_ledger.LedgerCommunity")


def test_dir_lists_every_public_name_and_unknown_names_raise() -> None:
    assert set(a27_ledger.__all__) <= set(dir(a27_ledger))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = a27_ledger.NoSuchName  # type: ignore[attr-defined]


def test_the_typed_re_exports_match_the_lazy_ones() -> None:
    # mypy reads the names under TYPE_CHECKING; __getattr__ serves _OVERLAY_NAMES: they must not drift apart.
    typed, lazy = typed_and_lazy_exports(a27_ledger)
    assert typed == lazy
