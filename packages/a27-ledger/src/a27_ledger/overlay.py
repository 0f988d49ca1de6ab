"""
IPv8 plumbing shared by every a27 community.

- Community ids are derived from a name, so real nodes built from the same code find each other.
- Messages use IPv8's standard signed layout (prefix, message id, the sender's public key, the payload, an Ed25519
  signature over everything before it), byte for byte what ``ez_send`` and ``lazy_wrapper`` produce and accept,
  but signed and checked with libnacl, which verifies about twice as fast as the IPv8 key API on our machines.
  Checks go through `a27_ledger.keys.verify_signature`, so a packet sent to many peers of one process (a
  simulation) is verified once and found in the signature cache by the others.
- Handlers never raise on bad input: a malformed packet, a bad signature, trailing bytes, or a message from an
  unknown or banned peer is logged in one line and counted, and the node's state does not change. The same holds
  for junk on IPv8's own message ids (introductions, punctures) and on ids nobody handles.
- Drop logs are rate-limited per cause (``DropLogLimiter``) so that a flood cannot fill the disk; the counters in
  ``drops`` stay exact.
- Peer defences (``peer_defences.py``, switched by the ``peer_defences`` setting, numbers in ``peer_limits``): a
  packet size bound and per-address token buckets before any decoding, unknown senders refused before their
  signature is verified, and a peer table in which anchors (genesis validators) always get a slot and a full table
  gives slots to under-represented address groups only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import libnacl
from ipv8.community import Community, CommunitySettings
from ipv8.lazy_community import PacketDecodingError
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload
from ipv8.messaging.serialization import PackError, Payload, default_serializer

from .behaviour import KEEP_EVERY_PEER, PeerPolicy
from .keys import SIGNATURE_LENGTH, verify_signature
from .peer_defences import PeerDefences, PeerLimits, TokenBuckets, address_group, decide_admission

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ipv8.messaging.interfaces.udp.endpoint import Address
    from ipv8.messaging.payload import (
        IntroductionRequestPayload,
        IntroductionResponsePayload,
        NewIntroductionRequestPayload,
        NewIntroductionResponsePayload,
    )
    from ipv8.messaging.payload_headers import GlobalTimeDistributionPayload
    from ipv8.peer import Peer

    from .keys import KeyPair

CURVE25519_PUBLIC_PREFIX = b"LibNaCLPK:"
CURVE25519_PRIVATE_PREFIX = b"LibNaCLSK:"
PREFIX_LENGTH = 22
HEADER_LENGTH = PREFIX_LENGTH + 1

logger = logging.getLogger(__name__)

BUILTIN_DECODE_ERRORS: tuple[type[Exception], ...] = (PackError, PacketDecodingError, ValueError, IndexError, KeyError)
"""What IPv8's own handlers raise on junk (found by fuzzing pyipv8 3.2's introduction and puncture handlers)."""

DROP_LOG_BURST = 10
"""Log lines per drop cause per ``DROP_LOG_INTERVAL``; further drops of that cause are only counted and summarised."""

DROP_LOG_INTERVAL = 10.0
"""Seconds of a drop-log window; a summary line reports how many drops of a cause were not logged in it."""

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


class DropLogLimiter:
    """
    Decides which dropped messages get a log line: at most ``burst`` per cause in each ``interval`` seconds.

    Sans-IO: the caller passes ``now`` (any clock that does not go back). Drops that are not logged are counted per
    cause; ``summaries`` returns those counts once their window has ended, for one "n more dropped" line each.
    """

    def __init__(self, burst: int = DROP_LOG_BURST, interval: float = DROP_LOG_INTERVAL) -> None:
        """Allow ``burst`` (at least 1) lines per cause per ``interval`` (positive) seconds."""
        if burst < 1 or not interval > 0:
            raise ValueError("drop log burst must be at least 1 and interval positive")
        self.burst = burst
        self.interval = interval
        self._windows: dict[str, list[float]] = {}
        """Per cause: [window start, lines logged in it, drops not logged in it]."""

    def admit(self, cause: str, now: float) -> bool:
        """Whether a drop of ``cause`` at ``now`` gets a log line (call ``summaries`` first to close old windows)."""
        window = self._windows.get(cause)
        if window is None or now - window[0] >= self.interval:
            window = self._windows[cause] = [now, 0, 0]
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False

    def summaries(self, now: float) -> list[tuple[str, int]]:
        """Causes whose window has ended with drops not logged, and how many; forgets the ended windows."""
        ended = [(cause, window) for cause, window in self._windows.items() if now - window[0] >= self.interval]
        for cause, _ in ended:
            del self._windows[cause]
        return [(cause, int(window[2])) for cause, window in ended if window[2]]


class A27Community(Community):
    """Base of every a27 community: libnacl signing, strict decoding, drop counters, a ban list, a peer policy."""

    peer_policy: PeerPolicy = KEEP_EVERY_PEER
    """Which peers this node keeps (see ``a27_ledger.behaviour``); a subclass sets it from its settings."""

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
        self.drop_log = DropLogLimiter()
        """Which drops get a log line; replace it to change the rate."""
        self.peer_defences: PeerDefences = getattr(settings, "peer_defences", None) or PeerDefences()
        """Which overlay-wide peer defences run (``a27_ledger.peer_defences``), from the ``peer_defences`` setting."""
        self.peer_limits: PeerLimits = getattr(settings, "peer_limits", None) or PeerLimits()
        """The numbers of those defences, from the ``peer_limits`` setting."""
        self.rate_buckets: TokenBuckets[tuple[Address, int]] = TokenBuckets(
            self.peer_limits.rate, self.peer_limits.burst, self.peer_limits.max_tracked)
        """Token buckets per (source address, message id) of ``peers.rate_limit``."""
        self.work: Counter[str] = Counter()
        """Work spent on received packets: ``packets handled`` (given to a handler), ``signatures verified``
        (signed a27 messages whose signature was checked), ``handler calls`` (signed messages that reached their
        handler)."""
        self._introduced: OrderedDict[Address, None] = OrderedDict()
        """Addresses introduction responses named, oldest first (bounded by ``PeerLimits.max_introduced``)."""
        self._joined: dict[bytes, int] = {}
        """Admission order of the peers this community admitted through an introduction (for eviction)."""
        self._joins = 0
        # IPv8's own handlers (introductions, punctures, deprecated ids) raise or log on junk: make junk a drop.
        for msg_id, handler in enumerate(self.decode_map):
            if handler is not None:
                self.decode_map[msg_id] = self._builtin_handler(msg_id, handler)
        self.register_task("drop_log_summary", self.log_drop_summaries, interval=self.drop_log.interval,
                           delay=self.drop_log.interval)

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
        return verify_signature(account, data[:-SIGNATURE_LENGTH], data[-SIGNATURE_LENGTH:]), remainder

    def pack_signed(self, payload: Payload) -> bytes:
        """A signed packet for ``payload`` (whose class has a ``msg_id``), ready to send to any number of peers."""
        return self.ezr_pack(payload.msg_id, payload)

    def send_packet(self, peers: Sequence[Peer], packet: bytes) -> None:
        """Send one packed message to several peers (signing once, not once per peer)."""
        for peer in peers:
            self.endpoint.send(peer.address, packet)

    async def retransmit(self, packet: bytes, peers: Sequence[Peer], futures: dict[K, asyncio.Future[R]], key: K, *,
                         attempts: int, attempts_per_peer: int, interval: float,
                         final: Callable[[R], bool] = lambda _: True, sent_to: set[bytes] | None = None) -> R | None:
        """
        Send ``packet`` to ``peers`` in turn until the answer a handler puts in ``futures[key]`` is final.

        Each peer gets ``attempts_per_peer`` attempts ``interval`` seconds apart before the next one is tried; an
        answer that is not ``final`` (say, "queued") is waited past: the attempt still lasts ``interval`` seconds,
        and a final answer arriving meanwhile (say, the verdict on a queued submission) is taken. Returns the final
        answer, or None after ``attempts`` attempts. ``futures[key]`` is removed either way. The public keys of the
        peers the packet went to are added to ``sent_to`` if given.
        """
        loop = asyncio.get_running_loop()
        try:
            for attempt in range(attempts):
                future = futures.get(key)
                if future is None or future.done():
                    future = futures[key] = loop.create_future()
                peer = peers[(attempt // attempts_per_peer) % len(peers)]
                self.send_packet([peer], packet)
                if sent_to is not None:
                    sent_to.add(peer.public_key.key_to_bin())
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

    def get_peers(self) -> list[Peer]:
        """This community's peers that ``peer_policy`` keeps."""
        return [peer for peer in super().get_peers() if self.peer_policy.keeps(peer.public_key.key_to_bin())]

    def on_introduction_request(self, peer: Peer, dist: GlobalTimeDistributionPayload,
                                payload: IntroductionRequestPayload | NewIntroductionRequestPayload) -> None:
        """Answer an introduction as IPv8 does, unless ``peer_policy`` refuses the peer or the peer table has no
        slot for it (``admit_peer``); either is a counted drop."""
        if self._refuses(peer) or not self.admit_peer(peer):
            return
        super().on_introduction_request(peer, dist, payload)

    def on_introduction_response(self, peer: Peer, dist: GlobalTimeDistributionPayload,
                                 payload: IntroductionResponsePayload | NewIntroductionResponsePayload) -> None:
        """Take an introduction response as IPv8 does, unless ``peer_policy`` refuses the peer or the peer table
        has no slot for it (``admit_peer``); either is a counted drop."""
        if self._refuses(peer) or not self.admit_peer(peer):
            return
        super().on_introduction_response(peer, dist, payload)
        self._remember_introduced(peer, payload)

    def _remember_introduced(self, peer: Peer, payload: IntroductionResponsePayload | NewIntroductionResponsePayload,
                             ) -> None:
        """Remember the addresses IPv8 discovered from ``payload`` (the introductions it takes, by its own rules, and
        the sender's address on another interface) and forget the oldest beyond ``max_introduced``: each is removed
        from the network unless a verified peer holds it (an ``introduced address forgotten`` count)."""
        unset = ("0.0.0.0", 0)
        lan, wan = payload.lan_introduction_address, payload.wan_introduction_address
        if wan != unset and wan[0] != self.my_estimated_wan[0]:
            named = [lan, wan]
        elif lan != unset and wan[0] == self.my_estimated_wan[0]:
            named = [lan]
        elif wan != unset:
            named = [wan, type(wan)(self.my_estimated_lan[0], wan[1])]
        else:
            named = []
        if type(payload.source_wan_address) is not type(peer.address):
            named.append(payload.source_wan_address)
        for address in named:
            if address != unset:
                self._introduced[address] = None
                self._introduced.move_to_end(address)
        while len(self._introduced) > self.peer_limits.max_introduced:
            address, _ = self._introduced.popitem(last=False)
            if self.network.get_verified_by_address(address) is None:
                self.network.remove_by_address(address)
                self.drops["introduced address forgotten"] += 1

    def anchor_accounts(self) -> frozenset[bytes]:
        """Accounts of the peers ``peers.anchors`` always keeps (a subclass returns its genesis validators)."""
        return frozenset()

    def admit_peer(self, peer: Peer) -> bool:
        """
        Whether ``peer`` gets a slot in this community's peer table (``max_peers``), evicting a peer if needed.

        With ``peers.anchors`` and ``peers.diversity`` both off this is IPv8's rule (its introduction handlers refuse
        requests beyond ``max_peers``). Otherwise `a27_ledger.peer_defences.decide_admission` decides; a refusal is
        a ``peer table full`` drop and an eviction removes the evicted peer from the network.
        """
        defences = self.peer_defences
        if not (defences.anchors or defences.diversity):
            return True
        key_bin = peer.public_key.key_to_bin()
        peers = self.get_peers()
        if self.max_peers >= 0 and len(peers) >= self.max_peers and all(
                other.public_key.key_to_bin() != key_bin for other in peers):
            anchors = self.anchor_accounts()
            prefix = self.peer_limits.group_prefix
            by_key = {other.public_key.key_to_bin(): other for other in peers}
            self._joined = {key: order for key, order in self._joined.items() if key in by_key}
            table = [(key, address_group(other.address[0], prefix), account_of(key) in anchors)
                     for key, other in sorted(by_key.items(), key=lambda item: (self._joined.get(item[0], 0), item[0]))]
            decision = decide_admission(key_bin, address_group(peer.address[0], prefix),
                                        account_of(key_bin) in anchors, table, max_peers=self.max_peers,
                                        defences=defences)
            if not decision.admitted:
                self.record_drop("introduction", peer.address, DroppedMessage("peer table full", decision.reason))
                return False
            if decision.evict is not None:
                self.network.remove_peer(by_key[decision.evict])
                self._joined.pop(decision.evict, None)
                self.drops["peer evicted"] += 1
        if key_bin not in self._joined:
            self._joins += 1
            self._joined[key_bin] = self._joins
            if len(self._joined) > 2 * max(self.max_peers, len(peers), 16):
                # Peers that left (IPv8's churn, another overlay) are forgotten, so the order stays bounded.
                current = {other.public_key.key_to_bin() for other in peers} | {key_bin}
                self._joined = {key: order for key, order in self._joined.items() if key in current}
        return True

    def _refuses(self, peer: Peer) -> bool:
        if self.peer_policy.keeps(peer.public_key.key_to_bin()):
            return False
        self.record_drop("introduction", peer.address, DroppedMessage("refused peer", "the peer policy refuses it"))
        return True

    def sorted_peers(self) -> list[Peer]:
        """This community's peers in a stable order (by public key), so runs with one seed repeat exactly."""
        return sorted(self.get_peers(), key=lambda peer: peer.public_key.key_to_bin())

    # Receiving --------------------------------------------------------------------------------------------------

    def on_packet(self, packet: tuple[Address, bytes], warn_unknown: bool = True) -> None:
        """Drop packets too short to carry a message id or with an id nobody handles, then dispatch as usual."""
        source_address, data = packet
        if data[:PREFIX_LENGTH] == self.get_prefix():
            defences = self.peer_defences
            if defences.max_packet_size and len(data) > self.peer_limits.max_packet_size:
                self.record_drop("packet", source_address, DroppedMessage(
                    "oversized", f"{len(data)} bytes, the limit is {self.peer_limits.max_packet_size}"))
                return
            if defences.rate_limit and len(data) > PREFIX_LENGTH and not self.rate_buckets.admit(
                    (source_address, data[PREFIX_LENGTH]), asyncio.get_running_loop().time()):
                self.record_drop(f"message {data[PREFIX_LENGTH]}", source_address,
                                 DroppedMessage("rate limited", "this address sent too many of this message"))
                return
            if len(data) <= PREFIX_LENGTH:
                self.record_drop("packet", source_address,
                                 DroppedMessage("malformed", f"{len(data)} bytes, no message id"))
                return
            if self.decode_map[data[PREFIX_LENGTH]] is None:
                self.record_drop(f"message {data[PREFIX_LENGTH]}", source_address,
                                 DroppedMessage("unknown message", "no handler for this message id"))
                return
            self.work["packets handled"] += 1
        super().on_packet(packet, warn_unknown)

    def _builtin_handler(self, msg_id: int,
                         handler: Callable[[Address, bytes], Any]) -> Callable[[Address, bytes], Any]:
        """Wrap one of IPv8's own handlers so that junk is a counted drop, not a traceback (or an uncounted line)."""
        if getattr(handler, "__func__", None) is Community.on_deprecated_message:
            name = self.deprecated_message_names.get(msg_id, str(msg_id))

            def deprecated(source_address: Address, data: bytes) -> None:
                self.record_drop(f"IPv8 message {msg_id}", source_address,
                                 DroppedMessage("deprecated message", f"{name} is no longer used"))
            return deprecated

        @wraps(handler)
        def guarded(source_address: Address, data: bytes) -> Any:
            try:
                return handler(source_address, data)
            except BUILTIN_DECODE_ERRORS as error:
                self.record_drop(f"IPv8 message {msg_id}", source_address,
                                 DroppedMessage("malformed", f"{type(error).__name__}: {error}"[:200]))
                return None
        return guarded

    def unpack_signed(self, payload_class: type[PayloadT], data: bytes,
                      before_verify: Callable[[bytes], object] | None = None) -> tuple[bytes, PayloadT]:
        """Check and decode a signed packet: returns the sender's IPv8 public key and the payload.

        ``before_verify(sender key)`` runs before the signature is verified and may raise ``DroppedMessage``."""
        return decode_signed(data, payload_class, before_verify)

    def unpack_from_peer(self, payload_class: type[PayloadT], data: bytes,
                         source_address: Address) -> tuple[Peer, PayloadT]:
        """Check and decode a signed packet from a known peer (``known_peer``): the peer and the payload.

        With ``peers.cheap_checks_first`` the sender is looked up before its signature is verified, so packets from
        keys that are not peers cost no verification."""
        cheap_first = self.peer_defences.cheap_checks_first

        def before_verify(key_bin: bytes) -> None:
            if cheap_first:
                self.known_peer(key_bin, source_address)
            self.work["signatures verified"] += 1

        key_bin, payload = self.unpack_signed(payload_class, data, before_verify)
        return self.known_peer(key_bin, source_address), payload

    def known_peer(self, key_bin: bytes, source_address: Address) -> Peer:
        """The verified peer that signed a message; unknown, banned and refused (``peer_policy``) peers are dropped."""
        if key_bin in self.banned:
            raise DroppedMessage("banned peer", self.banned[key_bin])
        if not self.peer_policy.keeps(key_bin):
            raise DroppedMessage("refused peer", "the peer policy refuses it")
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

    def record_drop(self, message_name: str, source_address: Address | None, drop: DroppedMessage) -> None:
        """Count one dropped message, and log it unless its cause has used up its log lines (``drop_log``).

        `source_address` is None for a message refused later than on arrival (one the node had buffered)."""
        self.drops[drop.cause] += 1
        now = asyncio.get_running_loop().time()
        self.log_drop_summaries(now)
        if not self.drop_log.admit(drop.cause, now):
            return
        if source_address is None:
            self.logger.warning("dropped %s: %s", message_name, drop)
        else:
            self.logger.warning("dropped %s from %s:%s: %s", message_name, source_address[0], source_address[1], drop)

    def log_drop_summaries(self, now: float | None = None) -> None:
        """Log one line per cause whose drops were not all logged in a window that has ended (runs periodically)."""
        if now is None:
            now = asyncio.get_running_loop().time()
        for cause, count in self.drop_log.summaries(now):
            self.logger.warning("%d more dropped messages (%s) in the last %g s were not logged", count, cause,
                                self.drop_log.interval)


def encode_signed(prefix: bytes, key: KeyPair, payload: Payload) -> bytes:
    """The signed packet a node with ``key`` sends for ``payload`` in the community with ``prefix``."""
    packet = prefix + bytes([payload.msg_id]) + default_serializer.pack_serializable_list(
        [BinMemberAuthenticationPayload(key.ipv8_key().pub().key_to_bin()), payload])
    return packet + key.sign(packet)


def decode_signed(data: bytes, payload_class: type[PayloadT],
                  before_verify: Callable[[bytes], object] | None = None) -> tuple[bytes, PayloadT]:
    """
    Check and decode a signed packet of ``payload_class``: the sender's IPv8 public key and the payload.

    ``before_verify``, if given, is called with the sender's IPv8 public key just before the signature is verified
    (after the cheap layout checks); what it raises propagates.

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
    if before_verify is not None:
        before_verify(key_bin)
    if not verify_signature(account, body, signature):
        raise DroppedMessage("bad signature", f"{payload_class.__name__} does not verify")
    try:
        payload, end = default_serializer.unpack_serializable(payload_class, body, offset=offset)
    except (PackError, ValueError, IndexError, UnicodeDecodeError) as error:
        raise DroppedMessage("malformed", f"{payload_class.__name__}: {error}") from error
    if end != len(body):
        raise DroppedMessage("malformed", f"{payload_class.__name__}: {len(body) - end} trailing bytes")
    return key_bin, payload


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
                peer, payload = self.unpack_from_peer(payload_class, data, source_address)
                self.work["handler calls"] += 1
                handler(self, peer, payload)  # type: ignore[call-arg]
            except DroppedMessage as drop:
                self.record_drop(payload_class.__name__, source_address, drop)
        return wrapper
    return decorator
