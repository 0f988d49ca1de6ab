"""Error codes: stable, in this layer's range, and understood by the ledger's apply path."""

from __future__ import annotations

from a27_channels import ChannelError, InsufficientChannelBalance, NoRoute, channel_error_for_code
from a27_channels.errors import _ERRORS
from a27_ledger import LedgerError


def test_codes_are_unique_and_in_range() -> None:
    codes = [error.code for error in _ERRORS]
    assert len(codes) == len(set(codes))
    assert all(96 <= code <= 127 for code in codes)
    assert all(issubclass(error, LedgerError) for error in _ERRORS)


def test_codes_map_back_to_classes() -> None:
    assert channel_error_for_code(108) is InsufficientChannelBalance
    assert channel_error_for_code(113) is NoRoute
    assert channel_error_for_code(126) is ChannelError
    error = InsufficientChannelBalance("balance 5 < 9")
    assert (str(error), error.reason) == ("balance 5 < 9", "insufficient channel balance")
    assert str(ChannelError()) == "channel error"
