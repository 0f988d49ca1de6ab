"""The node's messages refuse fields the wire cannot carry."""

from __future__ import annotations

import pytest

from a27_channels import ChannelReject, MalformedChannelData, Pay, UpdateCancel, UpdateProposal, UpdateSignature


def test_fields_are_checked_on_construction() -> None:
    UpdateProposal(bytes(32), 1, Pay(5), b"\x00")
    for build in (lambda: UpdateSignature(bytes(31), 1, bytes(64)), lambda: UpdateSignature(bytes(32), 1, bytes(63)),
                  lambda: UpdateCancel(bytes(32), -1), lambda: UpdateCancel(bytes(32), 2**64)):
        with pytest.raises(MalformedChannelData):
            build()
    with pytest.raises(ValueError):
        ChannelReject(bytes(32), 0, 256, "")
    with pytest.raises(TypeError):
        UpdateProposal(bytes(32), 1, Pay(5), "text")  # type: ignore[arg-type]
