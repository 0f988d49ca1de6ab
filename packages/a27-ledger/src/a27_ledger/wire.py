"""
IPv8 plumbing shared by every a27 community.

- Community ids are derived from a name, so real nodes built from the same code find each other.
- Messages use IPv8's standard signed layout (prefix, message id, the sender's public key, the payload, an Ed25519
  signature over everything before it), byte for byte what ``ez_send`` and ``lazy_wrapper`` produce and accept,
  but signed and checked with libnacl, which verifies about twice as fast as the IPv8 key API on our machines.
- Handlers never raise on bad input: a malformed packet, a bad signature, trailing bytes, or a message from an
  unknown or banned peer is logged in one line and counted, and the node's state does not change.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import libnacl
from ipv8.community import Community, CommunitySettings
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload
from ipv8.messaging.serialization import PackError, Payload, default_serializer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ipv8.messaging.interfaces.udp.endpoint import Address
    from ipv8.peer import Peer

    from .keys import KeyPair

CURVE25519_PUBLIC_PREFIX = b"LibNaCLPK:"
CURVE25519_PRIVATE_PREFIX = b"LibNaCLSK:"
SIGNATURE_LENGTH = 64
PREFIX_LENGTH = 22
HEADER_LENGTH = PREFIX_LENGTH + 1

logger = logging.getLogger(__name__)

P = ParamSpec("P")
C = TypeVar("C", bound="A27Community")
PayloadT = TypeVar("PayloadT", bound=Payload)
K = TypeVar("K")
R = TypeVar("R")


def community_id_for(name: str) -> bytes:
    """The 20-byte IPv8 community id of an a27 community: SHA-1 of its name (e.g. ``a27/ledger/v1``)."""
    return hashlib.sha1(name.encode("utf-8")).digest()


def account_of(public_key_bin: bytes) -> bytes:
    """The 32-byte Ed25519 account key inside an IPv8 curve25519 public key, or b"" for any other key."""
    if len(public_key_bin) == 74 and public_key_bin.startswith(CURVE25519_PUBLIC_PREFIX):
        return public_key_bin[42:]
    return b""


class DroppedMessage(Exception):
    """A message that failed a check; raised inside handlers, logged and counted by the handler wrapper."""

    def __init__(self, cause: str, detail: str = "") -> None:
        """Create a drop with a short ``cause`` (a counter key) and a ``detail`` for the log line."""
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause
        self.detail = detail


class A27Community(Community):
    """Base of every a27 community: libnacl signing, strict decoding, drop counters and a ban list."""

    def __init__(self, settings: CommunitySettings) -> None:
        """Create the community; the node's IPv8 key must be a curve25519 (Ed25519) key."""
        super().__init__(settings)
        private_bin = self.my_peer.key.key_to_bin()
        if not private_bin.startswith(CURVE25519_PRIVATE_PREFIX):
            msg = "a27 nodes use curve25519 keys: generate them with KeyPair or the IPv8 'curve25519' curve"
            raise ValueError(msg)
        _, self._signing_key = libnacl.crypto_sign_seed_keypair(private_bin[42:74])
        self.account = account_of(self.my_peer.public_key.key_to_bin())
        self.banned: dict[bytes, str] = {}
        """Banned peers' IPv8 public keys, with the reason."""
        self.drops: Counter[str] = Counter()
        """Dropped messages by cause."""

    # Signing: the IPv8 layout, libnacl crypto ----------------------------------------------------------------------

    def _ez_pack(self, prefix: bytes, msg_num: int, payloads: Sequence[Payload], sig: bool = True) -> bytes:
        packet = prefix + bytes([msg_num]) + self.serializer.pack_serializable_list(payloads)
        if sig:
            packet += libnacl.crypto_sign_detached(packet, self._signing_key)
        return packet

    def _verify_signature(self, auth: BinMemberAuthenticationPayload, data: bytes) -> tuple[bool, bytes]:
        account = account_of(auth.public_key_bin)
        if not account:
            return super()._verify_signature(auth, data)
        remainder = data[2 + len(auth.public_key_bin):-SIGNATURE_LENGTH]
        return verify_detached(account, data[:-SIGNATURE_LENGTH], data[-SIGNATURE_LENGTH:]), remainder

    def pack_signed(self, payload: Payload) -> bytes:
        """A signed packet for ``payload`` (whose class has a ``msg_id``), ready to send to any number of peers."""
        return self.ezr_pack(payload.msg_id, payload)

    def send_packet(self, peers: Sequence[Peer], packet: bytes) -> None:
        """Send one packed message to several peers (signing once, not once per peer)."""
        for peer in peers:
            self.endpoint.send(peer.address, packet)

    async def retransmit(self, packet: bytes, peers: Sequence[Peer], futures: dict[K, asyncio.Future[R]], key: K, *,
                         attempts: int, attempts_per_peer: int, interval: float,
                         final: Callable[[R], bool] = lambda _: True) -> R | None:
        """
        Send ``packet`` to ``peers`` in turn until the answer a handler puts in ``futures[key]`` is final.

        Each peer gets ``attempts_per_peer`` attempts ``interval`` seconds apart before the next one is tried; an
        answer that is not ``final`` (say, "queued") is waited past: the attempt still lasts ``interval`` seconds,
        and a final answer arriving meanwhile (say, the verdict on a queued submission) is taken. Returns the final
        answer, or None after ``attempts`` attempts. ``futures[key]`` is removed either way.
        """
        loop = asyncio.get_running_loop()
        try:
            for attempt in range(attempts):
                future = futures.get(key)
                if future is None or future.done():
                    future = futures[key] = loop.create_future()
                self.send_packet([peers[(attempt // attempts_per_peer) % len(peers)]], packet)
                deadline = loop.time() + interval
                while (remaining := deadline - loop.time()) > 0:
                    done, _ = await asyncio.wait({future}, timeout=remaining)
                    if not done:
                        break
                    if final(future.result()):
                        return future.result()
                    future = futures[key] = loop.create_future()
        finally:
            futures.pop(key, None)
        return None

    def sorted_peers(self) -> list[Peer]:
        """This community's peers in a stable order (by public key), so runs with one seed repeat exactly."""
        return sorted(self.get_peers(), key=lambda peer: peer.public_key.key_to_bin())

    # Receiving --------------------------------------------------------------------------------------------------

    def on_packet(self, packet: tuple[Address, bytes], warn_unknown: bool = True) -> None:
        """Drop packets too short to carry a message id (IPv8 would raise on them), then dispatch as usual."""
        source_address, data = packet
        if len(data) <= PREFIX_LENGTH and data[:PREFIX_LENGTH] == self.get_prefix():
            self.record_drop("packet", source_address, DroppedMessage("malformed", f"{len(data)} bytes, no message id"))
            return
        super().on_packet(packet, warn_unknown)

    def unpack_signed(self, payload_class: type[PayloadT], data: bytes) -> tuple[bytes, PayloadT]:
        """Check and decode a signed packet: returns the sender's IPv8 public key and the payload."""
        return decode_signed(data, payload_class)

    def known_peer(self, key_bin: bytes, source_address: Address) -> Peer:
        """The verified peer that signed a message; unknown and banned peers are dropped."""
        if key_bin in self.banned:
            raise DroppedMessage("banned peer", self.banned[key_bin])
        peer = self.network.get_verified_by_public_key_bin(key_bin)
        if peer is None:
            raise DroppedMessage("unknown peer", f"from {source_address[0]}:{source_address[1]}")
        return peer

    def ban(self, peer: Peer, reason: str) -> None:
        """Ignore every further message from ``peer``."""
        key_bin = peer.public_key.key_to_bin()
        if key_bin not in self.banned:
            self.banned[key_bin] = reason
            self.logger.warning("banning peer %s: %s", peer.mid.hex()[:8], reason)

    def record_drop(self, message_name: str, source_address: Address, drop: DroppedMessage) -> None:
        """Count and log one dropped message."""
        self.drops[drop.cause] += 1
        self.logger.warning("dropped %s from %s:%s: %s", message_name, source_address[0], source_address[1], drop)


def encode_signed(prefix: bytes, key: KeyPair, payload: Payload) -> bytes:
    """The signed packet a node with ``key`` sends for ``payload`` in the community with ``prefix``."""
    packet = prefix + bytes([payload.msg_id]) + default_serializer.pack_serializable_list(
        [BinMemberAuthenticationPayload(key.ipv8_key().pub().key_to_bin()), payload])
    return packet + key.sign(packet)


def decode_signed(data: bytes, payload_class: type[PayloadT]) -> tuple[bytes, PayloadT]:
    """
    Check and decode a signed packet of ``payload_class``: the sender's IPv8 public key and the payload.

    :raises DroppedMessage: when the packet is malformed, carries trailing bytes, or does not verify.
    """
    try:
        auth, offset = default_serializer.unpack_serializable(BinMemberAuthenticationPayload, data,
                                                              offset=HEADER_LENGTH)
    except (PackError, ValueError, IndexError) as error:
        raise DroppedMessage("malformed", f"no sender key ({error})") from error
    key_bin = auth.public_key_bin
    account = account_of(key_bin)
    if not account:
        raise DroppedMessage("unsupported key", "a27 peers sign with curve25519 keys")
    if len(data) - offset < SIGNATURE_LENGTH:
        raise DroppedMessage("malformed", "packet too short for a signature")
    body, signature = data[:-SIGNATURE_LENGTH], data[-SIGNATURE_LENGTH:]
    if not verify_detached(account, body, signature):
        raise DroppedMessage("bad signature", f"{payload_class.__name__} does not verify")
    try:
        payload, end = default_serializer.unpack_serializable(payload_class, body, offset=offset)
    except (PackError, ValueError, IndexError, UnicodeDecodeError) as error:
        raise DroppedMessage("malformed", f"{payload_class.__name__}: {error}") from error
    if end != len(body):
        raise DroppedMessage("malformed", f"{payload_class.__name__}: {len(body) - end} trailing bytes")
    return key_bin, payload


def verify_detached(account: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification with libnacl that returns False instead of raising."""
    try:
        libnacl.crypto_sign_verify_detached(signature, message, account)
    except (ValueError, TypeError):
        return False
    return True


def signed_handler(payload_class: type[PayloadT]) -> Callable[
        [Callable[Concatenate[C, Peer, PayloadT, P], Any]], Callable[[C, Address, bytes], None]]:
    """
    Decorate ``handler(self, peer, payload)`` as the receiver of signed ``payload_class`` messages.

    The wrapper checks the signature and the layout, looks the sender up among verified, unbanned peers, and
    logs and counts any ``DroppedMessage`` the handler raises. Other exceptions are bugs: they propagate to
    IPv8, which logs them in production and fails the test under ``TestBase``.
    """
    def decorator(handler: Callable[Concatenate[C, Peer, PayloadT, P], Any]) -> Callable[[C, Address, bytes], None]:
        @wraps(handler)
        def wrapper(self: C, source_address: Address, data: bytes) -> None:
            try:
                key_bin, payload = self.unpack_signed(payload_class, data)
                peer = self.known_peer(key_bin, source_address)
                handler(self, peer, payload)  # type: ignore[call-arg]
            except DroppedMessage as drop:
                self.record_drop(payload_class.__name__, source_address, drop)
        return wrapper
    return decorator
