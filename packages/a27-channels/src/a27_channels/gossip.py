"""What nodes tell each other about channels: announcements (both parties) and forwarding policies (one party).

Encodings, big-endian (see PROTOCOL.md)::

    announcement  channel_id 32 | node_a 32 | node_b 32 | capacity u64 | funding_tx_id 32 | signature_a 64
                  | signature_b 64                                   (264 bytes; both sign the first 136 bytes)
    update        channel_id 32 | node 32 | serial u32 | fee_base u32 | fee_ppm u32 | expiry_delta u16 | flags u8
                  | signature 64                                     (143 bytes; `node` signs the first 79 bytes)

Signatures are over ``"a27/channel/announcement/v1"`` or ``"a27/channel/policy/v1"`` followed by the signed bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import attrs

from a27_channels.errors import InvalidAnnouncement, MalformedChannelData
from a27_channels.onchain import ChannelRecord, ChannelStatus
from a27_channels.state import SIGNATURE_LENGTH
from a27_ledger import KeyPair, verify_signature

ANNOUNCEMENT_DOMAIN = b"a27/channel/announcement/v1"
POLICY_DOMAIN = b"a27/channel/policy/v1"
DISABLED = 0x01
"""ChannelUpdate flag: the node does not forward on this channel."""

_ANNOUNCED = struct.Struct(">32s32s32sQ32s")
_POLICY = struct.Struct(">32s32sIIIHB")


def _uint(limit: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or not 0 <= value <= limit:
            raise MalformedChannelData(f"{attribute.name} {value!r} is not an integer in 0..{limit}")

    return check


def _bytes(length: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not bytes or len(value) != length:
            raise MalformedChannelData(f"{attribute.name} must be {length} bytes")

    return check


@attrs.frozen
class ChannelPolicy:
    """How a node forwards onto one of its channels: its fee and the expiry delta it needs (BOLT 7)."""

    fee_base: int = attrs.field(default=1, validator=_uint(2**32 - 1))
    fee_ppm: int = attrs.field(default=1_000, validator=_uint(2**32 - 1))
    """Proportional fee in millionths of the forwarded amount."""
    expiry_delta: int = attrs.field(default=10, validator=_uint(2**16 - 1))
    """Blocks between the incoming HTLC's expiry and the outgoing one's."""
    disabled: bool = False

    def fee(self, amount: int) -> int:
        """The fee for forwarding `amount`: ``fee_base + amount * fee_ppm // 1_000_000``."""
        return self.fee_base + amount * self.fee_ppm // 1_000_000


@attrs.frozen
class ChannelAnnouncement:
    """A channel as both parties announce it: endpoints, capacity and the funding transaction, signed by both."""

    channel_id: bytes = attrs.field(validator=_bytes(32))
    node_a: bytes = attrs.field(validator=_bytes(32))
    node_b: bytes = attrs.field(validator=_bytes(32))
    capacity: int = attrs.field(validator=_uint(2**64 - 1))
    funding_tx_id: bytes = attrs.field(validator=_bytes(32))
    signature_a: bytes = attrs.field(default=bytes(SIGNATURE_LENGTH), validator=_bytes(SIGNATURE_LENGTH))
    signature_b: bytes = attrs.field(default=bytes(SIGNATURE_LENGTH), validator=_bytes(SIGNATURE_LENGTH))

    @classmethod
    def of_record(cls, record: ChannelRecord) -> ChannelAnnouncement:
        """The unsigned announcement of a channel the chain holds."""
        terms = record.terms
        return cls(record.channel_id, terms.party_a, terms.party_b, terms.capacity, record.funding_tx_id)

    def signing_bytes(self) -> bytes:
        """The domain and the 136 bytes both parties sign."""
        return ANNOUNCEMENT_DOMAIN + _ANNOUNCED.pack(self.channel_id, self.node_a, self.node_b, self.capacity,
                                                     self.funding_tx_id)

    def sign(self, key: KeyPair) -> bytes:
        """`key`'s signature of this announcement."""
        return key.sign(self.signing_bytes())

    def verify(self) -> None:
        """InvalidAnnouncement unless both nodes' signatures verify."""
        message = self.signing_bytes()
        if not (verify_signature(self.node_a, message, self.signature_a)
                and verify_signature(self.node_b, message, self.signature_b)):
            raise InvalidAnnouncement(f"announcement of {self.channel_id.hex()[:16]} is not signed by both nodes")

    def check_against(self, record: ChannelRecord | None) -> None:
        """InvalidAnnouncement unless the chain holds this channel open, with these nodes, capacity and funding."""
        if record is None:
            raise InvalidAnnouncement(f"no channel {self.channel_id.hex()[:16]} on chain")
        if record.status is not ChannelStatus.OPEN:
            raise InvalidAnnouncement(f"channel {self.channel_id.hex()[:16]} is {record.status.name.lower()}")
        if attrs.evolve(self, signature_a=bytes(SIGNATURE_LENGTH),
                        signature_b=bytes(SIGNATURE_LENGTH)) != ChannelAnnouncement.of_record(record):
            raise InvalidAnnouncement("the announcement does not match the channel on chain")

    def encode(self) -> bytes:
        """The 264-byte encoding."""
        return self.signing_bytes()[len(ANNOUNCEMENT_DOMAIN):] + self.signature_a + self.signature_b

    @classmethod
    def decode(cls, data: bytes) -> ChannelAnnouncement:
        """Parse the 264-byte encoding; MalformedChannelData otherwise."""
        if type(data) is not bytes or len(data) != _ANNOUNCED.size + 2 * SIGNATURE_LENGTH:
            raise MalformedChannelData("an announcement is 264 bytes")
        channel_id, node_a, node_b, capacity, funding_tx_id = _ANNOUNCED.unpack_from(data)
        end = _ANNOUNCED.size
        return cls(channel_id, node_a, node_b, capacity, funding_tx_id, data[end:end + SIGNATURE_LENGTH],
                   data[end + SIGNATURE_LENGTH:])


@attrs.frozen
class ChannelUpdate:
    """One node's policy for forwarding onto a channel; the highest `serial` it signed is the current one."""

    channel_id: bytes = attrs.field(validator=_bytes(32))
    node: bytes = attrs.field(validator=_bytes(32))
    serial: int = attrs.field(validator=_uint(2**32 - 1))
    policy: ChannelPolicy
    signature: bytes = attrs.field(default=bytes(SIGNATURE_LENGTH), validator=_bytes(SIGNATURE_LENGTH))

    @classmethod
    def create(cls, key: KeyPair, channel_id: bytes, serial: int, policy: ChannelPolicy) -> ChannelUpdate:
        """The update signed by `key`."""
        unsigned = cls(channel_id, key.public_key, serial, policy)
        return attrs.evolve(unsigned, signature=key.sign(unsigned.signing_bytes()))

    def signing_bytes(self) -> bytes:
        """The domain and the 79 bytes the node signs."""
        policy = self.policy
        return POLICY_DOMAIN + _POLICY.pack(self.channel_id, self.node, self.serial, policy.fee_base, policy.fee_ppm,
                                            policy.expiry_delta, DISABLED if policy.disabled else 0)

    def verify(self) -> None:
        """InvalidAnnouncement unless the node's signature verifies."""
        if not verify_signature(self.node, self.signing_bytes(), self.signature):
            raise InvalidAnnouncement(f"policy of {self.channel_id.hex()[:16]} is not signed by its node")

    def encode(self) -> bytes:
        """The 143-byte encoding."""
        return self.signing_bytes()[len(POLICY_DOMAIN):] + self.signature

    @classmethod
    def decode(cls, data: bytes) -> ChannelUpdate:
        """Parse the 143-byte encoding; MalformedChannelData otherwise (unknown flags included)."""
        if type(data) is not bytes or len(data) != _POLICY.size + SIGNATURE_LENGTH:
            raise MalformedChannelData("a channel update is 143 bytes")
        channel_id, node, serial, fee_base, fee_ppm, expiry_delta, flags = _POLICY.unpack_from(data)
        if flags & ~DISABLED:
            raise MalformedChannelData(f"unknown channel update flags {flags:#x}")
        policy = ChannelPolicy(fee_base, fee_ppm, expiry_delta, bool(flags & DISABLED))
        return cls(channel_id, node, serial, policy, data[_POLICY.size:])
