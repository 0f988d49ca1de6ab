"""What travels with routed HTLCs: the hop instructions for the rest of a route, and failure reports coming back.

Encodings, big-endian::

    instructions  count u8 | (channel_id 32 | amount u64 | expiry u64) * count       (1 + 48 n bytes)
    failure       cause u8 | failing node 32 | channel_id 32                         (65 bytes)
"""

from __future__ import annotations

import enum
import struct

import attrs

from a27_channels.errors import (
    ExpiryTooSoon,
    InsufficientChannelBalance,
    MalformedChannelData,
    UnknownChannel,
    WrongChannelStatus,
)
from a27_channels.router import RouteHop
from a27_ledger import LedgerError

_HOP = struct.Struct(">32sQQ")
_FAILURE = struct.Struct(">B32s32s")
MAX_INSTRUCTIONS = 32
NO_CHANNEL = bytes(32)
"""The channel id of a failure that names no channel (no path)."""


class FailureCause(enum.IntEnum):
    """Why a payment, or one attempt of it, failed (DESIGN.md, "Failure causes")."""

    NO_PATH = 1
    INSUFFICIENT_BALANCE = 2
    HOP_OFFLINE = 3
    EXPIRY_TOO_SOON = 4
    FEE_INSUFFICIENT = 5
    UNKNOWN_CHANNEL = 6
    UNKNOWN_PAYMENT = 7
    TIMEOUT = 8
    CHANNEL_FAILURE = 9
    """Any other refusal by the next channel (too many HTLCs, closing)."""

    @property
    def label(self) -> str:
        """The cause in words, as reports print it: ``insufficient balance``."""
        return self.name.lower().replace("_", " ")


def cause_of(error: LedgerError) -> FailureCause:
    """The failure cause a channel error stands for when it stops an HTLC."""
    if isinstance(error, InsufficientChannelBalance):
        return FailureCause.INSUFFICIENT_BALANCE
    if isinstance(error, ExpiryTooSoon):
        return FailureCause.EXPIRY_TOO_SOON
    if isinstance(error, (UnknownChannel, WrongChannelStatus)):
        return FailureCause.UNKNOWN_CHANNEL
    return FailureCause.CHANNEL_FAILURE


@attrs.frozen
class FailureReport:
    """Why an HTLC failed, where: the node that gave up and the channel it could not use."""

    cause: FailureCause
    node: bytes
    channel_id: bytes = NO_CHANNEL

    def encode(self) -> bytes:
        """The 65-byte encoding."""
        return _FAILURE.pack(self.cause, self.node, self.channel_id)

    @classmethod
    def decode(cls, data: bytes) -> FailureReport:
        """Parse the 65-byte encoding; MalformedChannelData otherwise (an unknown cause included)."""
        if len(data) != _FAILURE.size:
            raise MalformedChannelData(f"a failure report is {_FAILURE.size} bytes")
        cause, node, channel_id = _FAILURE.unpack(data)
        try:
            return cls(FailureCause(cause), node, channel_id)
        except ValueError as error:
            raise MalformedChannelData(f"unknown failure cause {cause}") from error


@attrs.frozen
class HopInstruction:
    """What a forwarding node does with an incoming HTLC: offer `amount` until `expiry` on `channel_id`."""

    channel_id: bytes
    amount: int
    expiry: int


def encode_instructions(hops: tuple[RouteHop, ...] | list[HopInstruction]) -> bytes:
    """The route data of an HTLC: instructions for each following hop (empty for the payee's HTLC)."""
    if len(hops) > MAX_INSTRUCTIONS:
        raise MalformedChannelData(f"at most {MAX_INSTRUCTIONS} hops")
    return bytes([len(hops)]) + b"".join(_HOP.pack(hop.channel_id, hop.amount, hop.expiry) for hop in hops)


def decode_instructions(data: bytes) -> list[HopInstruction]:
    """Parse route data; MalformedChannelData otherwise."""
    if not data or len(data) != 1 + data[0] * _HOP.size or data[0] > MAX_INSTRUCTIONS:
        raise MalformedChannelData("route data is a count and 48 bytes per hop")
    return [HopInstruction(*_HOP.unpack_from(data, 1 + index * _HOP.size)) for index in range(data[0])]
