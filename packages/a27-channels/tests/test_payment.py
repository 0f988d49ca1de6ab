"""Route data and failure reports: encodings and causes."""

from __future__ import annotations

import pytest

from a27_channels import (
    MAX_INSTRUCTIONS,
    ChannelBusy,
    ExpiryTooSoon,
    FailureCause,
    FailureReport,
    HopInstruction,
    InsufficientChannelBalance,
    MalformedChannelData,
    UnknownChannel,
    cause_of,
    decode_instructions,
    encode_instructions,
)


def test_instructions_round_trip() -> None:
    hops = [HopInstruction(bytes([index]) * 32, 1_000 - index, 50 - index) for index in range(3)]
    encoded = encode_instructions(hops)
    assert len(encoded) == 1 + 3 * 48
    assert decode_instructions(encoded) == hops
    assert decode_instructions(encode_instructions([])) == []
    for bad in (b"", b"\x01", encoded + b"\x00", bytes([MAX_INSTRUCTIONS + 1]) + bytes(48 * (MAX_INSTRUCTIONS + 1))):
        with pytest.raises(MalformedChannelData):
            decode_instructions(bad)
    with pytest.raises(MalformedChannelData):
        encode_instructions([hops[0]] * (MAX_INSTRUCTIONS + 1))


def test_failure_reports_round_trip() -> None:
    report = FailureReport(FailureCause.HOP_OFFLINE, bytes([4]) * 32, bytes([5]) * 32)
    assert FailureReport.decode(report.encode()) == report
    with pytest.raises(MalformedChannelData):
        FailureReport.decode(b"\x63" + report.encode()[1:])
    with pytest.raises(MalformedChannelData):
        FailureReport.decode(report.encode()[:-1])


def test_causes() -> None:
    assert FailureCause.INSUFFICIENT_BALANCE.label == "insufficient balance"
    assert cause_of(InsufficientChannelBalance()) is FailureCause.INSUFFICIENT_BALANCE
    assert cause_of(ExpiryTooSoon()) is FailureCause.EXPIRY_TOO_SOON
    assert cause_of(UnknownChannel()) is FailureCause.UNKNOWN_CHANNEL
    assert cause_of(ChannelBusy()) is FailureCause.CHANNEL_FAILURE
