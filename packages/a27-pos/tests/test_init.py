"""The package's public API."""

from __future__ import annotations

import a27_pos


def test_everything_in_all_is_importable() -> None:
    missing = [name for name in a27_pos.__all__ if not hasattr(a27_pos, name)]
    assert missing == []
    assert len(set(a27_pos.__all__)) == len(a27_pos.__all__)


def test_version() -> None:
    assert a27_pos.__version__ == "0.1.0"
