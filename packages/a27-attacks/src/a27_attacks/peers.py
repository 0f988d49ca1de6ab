"""
Peer-level attacks: flooding, Sybil identity sets and eclipsing a light node.

Each attacker speaks only what PROTOCOL.md documents and signs with its own keys; it plugs into an otherwise honest
node through the documented seams (``LedgerSettings.peer_policy``, ``PosSettings.behaviour``) or sends packets as a
client. The defences these attacks meet live in a27-ledger (``a27_ledger.PeerDefences``, names ``peers.<field>``):
``rate_limit``, ``max_packet_size`` and ``cheap_checks_first`` against floods, ``diversity`` and ``anchors`` against
Sybils taking a node's peer slots, ``anchors`` and ``validator_pinning`` against eclipses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from a27_ledger import KeyPair, encode_signed, sign_transfer
from a27_ledger.testing import make_keys
from a27_pos import HonestBehaviour
from a27_pos.payloads import BlockResponse, Status, SubmitTransaction

if TYPE_CHECKING:
    from ipv8.messaging.interfaces.udp.endpoint import Address
    from ipv8.messaging.serialization import Payload

    from a27_pos import Block, CommitCertificate


class PacketSender(Protocol):
    """Anything that sends bytes to an address: an IPv8 endpoint (simulated, mock or UDP)."""

    def send(self, socket_address: Address, packet: bytes) -> None:
        """Send ``packet`` to ``socket_address``."""
        ...


@attrs.frozen
class SybilIdentities:
    """A set of attacker identities without stake: deterministic keys from ``seed``."""

    keys: tuple[KeyPair, ...]

    @classmethod
    def generate(cls, count: int, seed: int = 666) -> SybilIdentities:
        """``count`` keys made from ``seed`` (the same seed gives the same identities)."""
        return cls(tuple(make_keys(count, seed=seed)))

    @property
    def accounts(self) -> frozenset[bytes]:
        """The identities' account keys (32-byte Ed25519 public keys)."""
        return frozenset(key.public_key for key in self.keys)

    @property
    def ipv8_public_keys(self) -> frozenset[bytes]:
        """The identities' IPv8 public keys (``key_to_bin()``), as peer tables hold them."""
        return frozenset(key.ipv8_key().pub().key_to_bin() for key in self.keys)


@attrs.frozen
class SybilShare:
    """How much of a victim's peer table Sybil identities hold, against their share of the identities that tried."""

    slots: int
    """Peers in the victim's table."""
    sybil_slots: int
    """Of those, Sybil identities."""
    sybil_identities: int
    honest_identities: int

    @property
    def slot_fraction(self) -> float:
        """Fraction of the victim's peer slots held by Sybils (0 for an empty table)."""
        return self.sybil_slots / self.slots if self.slots else 0.0

    @property
    def identity_fraction(self) -> float:
        """Fraction of the identities that tried to connect that are Sybils."""
        total = self.sybil_identities + self.honest_identities
        return self.sybil_identities / total if total else 0.0

    @property
    def advantage(self) -> float:
        """Slot fraction over identity fraction: 1 is a fair share, above 1 the Sybils gained more than their share."""
        return self.slot_fraction / self.identity_fraction if self.identity_fraction else 0.0


def sybil_share(peer_keys: Iterable[bytes], sybil_keys: Collection[bytes],
                honest_keys: Collection[bytes]) -> SybilShare:
    """
    Measure a victim's peer table for the scoreboard: ``peer_keys`` are the IPv8 public keys of its peers
    (``community.get_peers()``), ``sybil_keys`` and ``honest_keys`` those of the identities that tried to connect.
    """
    sybils = set(sybil_keys)
    peers = set(peer_keys)
    return SybilShare(slots=len(peers), sybil_slots=len(peers & sybils), sybil_identities=len(sybils),
                      honest_identities=len(set(honest_keys) - sybils))


class Flooder:
    """
    Sends valid-looking signed packets (documented layouts, signed with the flooder's own keys) to one address.

    One key or many: packet ``i`` is signed by ``keys[i % len(keys)]``. Every packet differs, so a receiver's
    signature cache saves it nothing.
    """

    def __init__(self, sender: PacketSender, prefix: bytes, keys: Sequence[KeyPair]) -> None:
        """Flood through ``sender`` in the community with ``prefix`` (``community.get_prefix()``), signing with
        ``keys`` (at least one)."""
        if not keys:
            raise ValueError("a flooder needs at least one key")
        self.sender = sender
        self.prefix = prefix
        self.keys = list(keys)
        self.sent = 0
        """Packets sent so far."""

    def packets(self, count: int, make_payload: Callable[[int, KeyPair], Payload]) -> list[bytes]:
        """``count`` signed packets; ``make_payload(i, key)`` gives the payload of the ``i``-th."""
        packets = []
        for index in range(count):
            key = self.keys[index % len(self.keys)]
            packets.append(encode_signed(self.prefix, key, make_payload(index, key)))
        return packets

    def send(self, address: Address, packets: Iterable[bytes]) -> int:
        """Send ``packets`` to ``address`` back to back; returns how many."""
        sent = 0
        for packet in packets:
            self.sender.send(address, packet)
            sent += 1
        self.sent += sent
        return sent


def transfer_flood(recipient: bytes) -> Callable[[int, KeyPair], SubmitTransaction]:
    """Payloads for ``Flooder.packets``: PoS submissions of a signed 1-token transfer to ``recipient``, one nonce
    per packet (valid-looking; the sender's balance decides whether a validator admits it)."""
    def make(index: int, key: KeyPair) -> SubmitTransaction:
        return SubmitTransaction(sign_transfer(key, recipient, 1, index).encode())
    return make


def oversized_block_response(size: int) -> BlockResponse:
    """A BlockResponse (its block field may be up to 2**32 - 1 bytes long) with ``size`` bytes of junk for a block:
    a receiver that reads it verifies the packet's signature before the block fails to decode."""
    return BlockResponse(bytes(size), b"")


class CabalPolicy:
    """A ``PeerPolicy`` for eclipsing nodes: keep only fellow attackers and the victims, so that every peer an
    attacker introduces (IPv8 introduces from its own peers) is another attacker."""

    def __init__(self, kept: Collection[bytes]) -> None:
        """Keep the peers whose IPv8 public keys are in ``kept``."""
        self.kept = frozenset(kept)

    def keeps(self, public_key_bin: bytes) -> bool:
        """Whether ``public_key_bin`` is a fellow attacker or a victim."""
        return public_key_bin in self.kept


class WithholdingNode(HonestBehaviour):
    """A ``PosSettings.behaviour`` that answers no block request: the victim waits for blocks that never come."""

    def serves_blocks(self, requester: object, start: int) -> bool:
        """Never."""
        return False

    def announces_status(self, height: int) -> bool:
        """Never (its lies are sent by ``height_claim``)."""
        return False


def height_claim(height: int, block_id: bytes = b"\xee" * 32) -> Status:
    """A Status claiming a finalized ``height`` the sender does not have: a victim that believes it asks the
    sender for blocks, which a ``WithholdingNode`` never serves."""
    return Status(height, block_id)


def fake_block_response(block: Block, certificate: CommitCertificate) -> BlockResponse:
    """A BlockResponse carrying a block of a private chain and its certificate (signed by attacker keys, which hold
    no bonded stake: a node that checks certificates refuses it)."""
    return BlockResponse(block.encode(), certificate.encode())
