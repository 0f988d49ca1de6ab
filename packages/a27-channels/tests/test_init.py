"""The public API is importable from the package."""

from __future__ import annotations

import a27_channels


def test_everything_in_all_exists() -> None:
    for name in a27_channels.__all__:
        assert hasattr(a27_channels, name), name
    assert a27_channels.__version__ == "0.1.0"
