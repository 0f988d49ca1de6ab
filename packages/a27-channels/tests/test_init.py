"""The public API is importable from the package."""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.version import Version

import a27_channels
from a27_ledger.testing import modules_loaded_by, typed_and_lazy_exports


def test_everything_in_all_exists() -> None:
    for name in a27_channels.__all__:
        assert hasattr(a27_channels, name), name


def test_version_is_pep440_and_matches_the_installed_distribution() -> None:
    # A release bump changes __about__.py and the metadata together; no test pins the number.
    version = Version(a27_channels.__version__)
    assert str(version) == a27_channels.__version__
    assert a27_channels.__version__ == importlib.metadata.version("a27-channels")


CORE_MODULES = ("a27_channels.actions", "a27_channels.announcements", "a27_channels.behaviour", "a27_channels.book",
                "a27_channels.chain_watch", "a27_channels.channel", "a27_channels.closing", "a27_channels.errors",
                "a27_channels.forwarding", "a27_channels.gossip", "a27_channels.graph", "a27_channels.inprocess",
                "a27_channels.messages", "a27_channels.node", "a27_channels.onchain", "a27_channels.opening",
                "a27_channels.params", "a27_channels.payment", "a27_channels.payments", "a27_channels.retransmission",
                "a27_channels.router", "a27_channels.state", "a27_channels.store", "a27_channels.testing",
                "a27_channels.updates")
OVERLAY_MODULES = ("a27_channels.community", "a27_channels.payloads")



def loaded(statement: str) -> set[str]:
    """The modules among OVERLAY_MODULES that ``statement`` loads in a fresh interpreter."""
    return modules_loaded_by(statement, OVERLAY_MODULES)


def test_the_core_loads_no_channel_overlay() -> None:
    # asyncio and ipv8.community still come in through a27_pos, whose __init__ loads PosCommunity.
    assert loaded("import " + ", ".join(CORE_MODULES)) == set()
    assert loaded("from a27_channels import ChannelNode, ChannelNetwork, Channel") == set()


def test_an_overlay_name_loads_the_overlay_on_first_use() -> None:
    assert loaded("from a27_channels import ChannelCommunity") == {"a27_channels.community",
                                                                                     "a27_channels.payloads"}


def test_dir_lists_every_public_name_and_unknown_names_raise() -> None:
    assert set(a27_channels.__all__) <= set(dir(a27_channels))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = a27_channels.NoSuchName  # type: ignore[attr-defined]


def test_the_typed_re_exports_match_the_lazy_ones() -> None:
    # mypy reads the names under TYPE_CHECKING; __getattr__ serves _OVERLAY_NAMES: they must not drift apart.
    typed, lazy = typed_and_lazy_exports(a27_channels)
    assert typed == lazy
