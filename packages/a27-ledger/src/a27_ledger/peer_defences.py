"""
Overlay-wide peer defences of every a27 community: rate limits, a packet size bound, and a peer table that Sybil
identities cannot take over. Sans-IO: decisions take an explicit ``now`` and addresses, keys and group labels; the
shared ``A27Community`` base (``overlay.py``) applies them to packets and introductions.

``PeerDefences`` switches each defence (default on; ``PeerDefences.none()`` turns all off to show what an attack
does without them); ``PeerLimits`` holds their numbers. Both are settings of the ledger, PoS and channel
communities (``peer_defences``, ``peer_limits``). A defence's full name is ``peers.<field>``.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

import attrs

KeyT = TypeVar("KeyT", bound=Hashable)


@attrs.frozen
class PeerDefences:
    """Which overlay-wide peer defences a node runs (names ``peers.<field>``); all on by default."""

    rate_limit: bool = True
    """A token bucket per source address and message id (``PeerLimits.rate``, ``burst``) drops a flood before any
    decoding or signature check; off, every packet a peer sends is decoded and its signature verified."""
    max_packet_size: bool = True
    """Packets longer than ``PeerLimits.max_packet_size`` are dropped unread; off, an oversized message is decoded
    (and, if signed, verified) like any other."""
    cheap_checks_first: bool = True
    """A signed message from a key that is not a verified, kept, unbanned peer is dropped before its signature is
    verified; off, the signature is verified first, so packets signed by 10,000 fresh keys cost 10,000 checks."""
    diversity: bool = True
    """When the peer table is full, a newcomer may take the slot of a peer from the largest address group (IPv4 /24,
    ``PeerLimits.group_prefix``) only if its own group is smaller; off, a full table admits nobody, so whoever
    filled it first (Sybils from one subnet) keeps every slot."""
    anchors: bool = True
    """The genesis validators are anchors: always admitted (evicting a non-anchor when the table is full) and never
    evicted; off, validators compete for slots like anyone, and an eclipsing attacker can keep them out."""
    validator_pinning: bool = True
    """A light node takes height claims (Status, finality notices) only from validators of its validator set and
    asks only them for blocks; off, a peer claiming a higher height is asked for blocks it can withhold."""

    @classmethod
    def none(cls) -> PeerDefences:
        """Every peer defence off."""
        return cls(**{field.name: False for field in attrs.fields(cls)})

    def enabled(self) -> list[str]:
        """Full names (``peers.<field>``) of the defences that are on."""
        return [f"peers.{field.name}" for field in attrs.fields(type(self)) if getattr(self, field.name)]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


@attrs.frozen
class PeerLimits:
    """The numbers behind ``PeerDefences``; the defaults leave honest traffic of every a27 simulation untouched."""

    rate: float = attrs.field(default=1_000.0, validator=_positive)
    """Packets per second one source address may send of one message id (tokens added per second)."""
    burst: float = attrs.field(default=2_000.0, validator=_positive)
    """Packets a source address may send of one message id at once (the bucket's size; a new address starts full)."""
    max_tracked: int = attrs.field(default=4_096, validator=_positive)
    """Source addresses whose buckets are remembered; the least recently seen is forgotten first."""
    max_packet_size: int = attrs.field(default=65_507, validator=_positive)
    """Bytes of the longest packet taken (the most an IPv4 UDP datagram carries)."""
    group_prefix: int = attrs.field(default=24, validator=_positive)
    """IPv4 prefix length of an address group for ``diversity`` (IPv6 addresses use /48; others their host)."""
    max_introduced: int = attrs.field(default=4_096, validator=_positive)
    """Addresses named in introduction responses that a community remembers (IPv8 keeps every one it is told of
    until it is walked to); beyond it the oldest not held by a verified peer is forgotten. Always applied: a flood
    of introductions from fresh keys would otherwise grow the node's address table without bound."""


class TokenBuckets(Generic[KeyT]):
    """
    Token buckets per key (a source address and message id), least recently used forgotten beyond ``max_tracked``.

    Sans-IO: ``admit`` takes ``now`` from any clock that does not go back. Memory is bounded by ``max_tracked``
    whatever the number of keys; a forgotten key starts again with a full bucket.
    """

    def __init__(self, rate: float, burst: float, max_tracked: int) -> None:
        """Add ``rate`` tokens per second to each bucket, up to ``burst``; remember ``max_tracked`` keys at most."""
        if not (rate > 0 and burst >= 1 and max_tracked >= 1):
            raise ValueError("token buckets need a positive rate, a burst of at least 1 and max_tracked of at least 1")
        self.rate = rate
        self.burst = burst
        self.max_tracked = max_tracked
        self._buckets: OrderedDict[KeyT, list[float]] = OrderedDict()
        """Per key: [tokens, time of the last update]."""

    def __len__(self) -> int:
        """Keys tracked."""
        return len(self._buckets)

    def admit(self, key: KeyT, now: float) -> bool:
        """Take one token from ``key``'s bucket at ``now``: False (and no change) when it is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [self.burst, now]
            if len(self._buckets) > self.max_tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now - bucket[1]
            if elapsed > 0:
                bucket[0] = min(self.burst, bucket[0] + elapsed * self.rate)
                bucket[1] = now
        if bucket[0] < 1:
            return False
        bucket[0] -= 1
        return True


def address_group(host: str, prefix: int = 24) -> str:
    """The group of an address for peer diversity: its IPv4 /``prefix`` network, an IPv6 /48, or the host itself."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    length = min(prefix, 32) if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{host}/{length}", strict=False))


@attrs.frozen
class PeerAdmission(Generic[KeyT]):
    """Whether a newcomer gets a peer slot, and which peer (if any) leaves to make room."""

    admitted: bool
    evict: KeyT | None = None
    reason: str = ""


def decide_admission(newcomer: KeyT, newcomer_group: str, newcomer_is_anchor: bool,
                     peers: Sequence[tuple[KeyT, str, bool]], *, max_peers: int,
                     defences: PeerDefences) -> PeerAdmission[KeyT]:
    """
    Decide whether ``newcomer`` joins a peer table that holds ``peers`` (key, group, is anchor; oldest first).

    Below ``max_peers`` (or for a peer already in the table) everyone is admitted. A full table admits nobody unless
    a defence says so: ``anchors`` admits an anchor in place of a non-anchor; ``diversity`` admits a newcomer whose
    group is smaller than the largest group in place of a peer of that group. The peer evicted is the newest of the
    largest group of non-anchors (long-lived peers are kept; among groups of equal size, the one holding the newest
    peer), so the decision depends only on its inputs.
    """
    if max_peers < 0 or len(peers) < max_peers or any(key == newcomer for key, _, _ in peers):
        return PeerAdmission(True)
    evictable: dict[str, list[KeyT]] = {}
    newest: dict[str, int] = {}
    for position, (key, group, is_anchor) in enumerate(peers):
        if not (defences.anchors and is_anchor):
            evictable.setdefault(group, []).append(key)
            newest[group] = position
    if not evictable:
        return PeerAdmission(False, reason="the peer table is full of anchors")
    largest = max(evictable, key=lambda group: (len(evictable[group]), newest[group]))
    if defences.anchors and newcomer_is_anchor:
        return PeerAdmission(True, evictable[largest][-1], "an anchor takes a slot")
    if defences.diversity and len(evictable.get(newcomer_group, ())) + 1 < len(evictable[largest]):
        return PeerAdmission(True, evictable[largest][-1], f"address group {largest} holds the most slots")
    return PeerAdmission(False, reason="the peer table is full")
