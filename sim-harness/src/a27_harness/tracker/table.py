"""
The tracker's peer table: who registered in which overlay, which peer to introduce, and the quotas that keep Sybils
from taking every slot. Sans-IO: every call takes an explicit ``now`` (seconds, any monotonic origin) and plain
addresses and keys; ``server.py`` feeds it the introduction requests it receives.

Without quotas (``TrackerQuotas.none()``) it behaves as py-ipv8's tracker (``scripts/tracker_service.py``): any
community id is tracked, a registered key keeps its slot (re-registering only updates its address), each overlay keeps
its ``peers_per_overlay`` (100) newest peers, and a newcomer is introduced to a random other peer of its overlay. Then
a Sybil registering 100 fresh keys empties every overlay of honest peers.
"""

from __future__ import annotations

import math
import random
from collections import Counter, OrderedDict
from typing import Any

import attrs

from a27_ledger import TokenBuckets, address_group

Address = tuple[str, int]
PEERS_PER_OVERLAY = 100
"""The peers each overlay keeps, as py-ipv8's tracker does: the newest ones."""
RATE_TRACKED = 4_096
"""IP addresses whose request rate the tracker remembers (least recently seen forgotten first)."""


def _non_negative_int(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0 (0 switches it off), got {value!r}")


def _age(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value) or value < 0:
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0 (0 switches it off), got {value!r}")


@attrs.frozen
class TrackerQuotas:
    """
    The tracker's defences, on by default; 0 (or False) switches one off, ``none()`` switches all off (stock).

    Per-address quotas count the address a request came from (not the address it claims), per overlay. A newcomer
    whose address, IP or subnet is at its quota takes the slot of the oldest peer of that same group, so a Sybil
    only ever competes with itself (and with whoever shares its IP or subnet).
    """

    per_endpoint: int = attrs.field(default=1, validator=_non_negative_int)
    """Keys per UDP address (IP and port) per overlay: one IPv8 endpoint is one peer of an overlay."""
    per_ip: int = attrs.field(default=20, validator=_non_negative_int)
    """Keys per IP address per overlay (several nodes may share a host, or a NAT)."""
    per_subnet: int = attrs.field(default=40, validator=_non_negative_int)
    """Keys per IPv4 /24 (IPv6 /48) per overlay: fewer than ``peers_per_overlay``, so one subnet never fills it."""
    key_refresh: bool = True
    """One slot per public key, and re-registering refreshes it (it becomes the newest); off, as in py-ipv8's
    tracker, a key keeps the age of its first registration and is pushed out by 100 newer keys however often it
    comes back."""
    max_age: float = attrs.field(default=60.0, validator=_age)
    """Seconds after its last registration that a peer is forgotten (never introduced again)."""
    max_overlays: int = attrs.field(default=1_000, validator=_non_negative_int)
    """Overlays tracked at once; a request for a further overlay is answered without an introduction and not
    stored. Together with ``peers_per_overlay`` this bounds the table, whatever 10,000 community ids arrive."""
    rate: int = attrs.field(default=100, validator=_non_negative_int)
    """Requests per second one IP address may send (a token bucket of ``2 * rate``, the ``RATE_TRACKED`` most
    recent addresses remembered), checked before the signature: a flood from one host costs one dictionary look-up
    per packet beyond it, and other hosts are still answered."""

    @classmethod
    def none(cls) -> TrackerQuotas:
        """Every quota off: py-ipv8's stock tracker."""
        return cls(per_endpoint=0, per_ip=0, per_subnet=0, key_refresh=False, max_age=0, max_overlays=0, rate=0)


@attrs.frozen
class TrackedPeer:
    """One registration: a key in an overlay, where its request came from, the LAN address it claims, since when."""

    key: bytes
    address: Address
    """The UDP address the request came from (what the quotas count)."""
    lan_address: Address
    """The LAN address the peer claims in its request (introduced alongside, as py-ipv8 does)."""
    subnet: str
    """The IPv4 /24 (IPv6 /48) of ``address``."""
    registered: float
    """When the slot was taken (or last refreshed, with ``key_refresh``): the age order of the overlay."""
    seen: float
    """The last registration."""


@attrs.frozen
class Registration:
    """What a request did to the table: stored (or refreshed) or not, and the keys that lost their slot."""

    stored: bool
    evicted: tuple[bytes, ...] = ()
    reason: str = ""
    """Why it was not stored ("too many overlays"), or empty."""


class TrackerTable:
    """
    Overlay id -> the peers registered in it, oldest first, under ``TrackerQuotas``.

    Work per call is bounded by ``peers_per_overlay``; memory by ``max_overlays`` times ``peers_per_overlay`` (with
    ``max_overlays`` off, by the number of overlays asked for, as in py-ipv8's tracker).
    """

    def __init__(self, quotas: TrackerQuotas | None = None, *, peers_per_overlay: int = PEERS_PER_OVERLAY,
                 rng: random.Random | None = None) -> None:
        """A table with ``quotas`` (default: all on); ``rng`` picks introductions (seed it for repeatable tests)."""
        if peers_per_overlay < 1:
            msg = f"peers_per_overlay must be at least 1, got {peers_per_overlay!r}"
            raise ValueError(msg)
        self.quotas = quotas if quotas is not None else TrackerQuotas()
        self.peers_per_overlay = peers_per_overlay
        self.rng = rng if rng is not None else random.Random()
        self.overlays: dict[bytes, OrderedDict[bytes, TrackedPeer]] = {}
        self.counters: Counter[str] = Counter()
        """What happened, by kind: ``registered``, ``refreshed``, ``evicted (newest 100)``, ``refused (...)``."""
        self.rates: TokenBuckets[str] | None = None
        if self.quotas.rate:
            self.rates = TokenBuckets(self.quotas.rate, 2 * self.quotas.rate, RATE_TRACKED)

    def admit(self, host: str, now: float) -> bool:
        """Whether a request from IP address ``host`` is within the ``rate`` quota (to be checked before anything
        costly); a refusal is counted."""
        if self.rates is None or self.rates.admit(host, now):
            return True
        self.counters["refused (rate)"] += 1
        return False

    def __len__(self) -> int:
        """The registrations held, over all overlays."""
        return sum(len(peers) for peers in self.overlays.values())

    def peers(self, overlay: bytes, now: float) -> list[TrackedPeer]:
        """The live peers of ``overlay``, oldest first."""
        return [peer for peer in self.overlays.get(overlay, {}).values() if self._alive(peer, now)]

    def _alive(self, peer: TrackedPeer, now: float) -> bool:
        return not self.quotas.max_age or now - peer.seen <= self.quotas.max_age

    def register(self, overlay: bytes, key: bytes, address: Address, lan_address: Address, now: float) -> Registration:
        """
        Record that ``key`` asked for an introduction in ``overlay`` from ``address``; evict whom the quotas say.

        A known key keeps its one slot (its address is updated; with ``key_refresh`` it becomes the newest). A new key
        takes a slot, first from the oldest peer of a group at its quota (its UDP address, its IP, its subnet), else
        from the oldest peer of a full overlay.
        """
        quotas = self.quotas
        peers = self.overlays.get(overlay)
        if peers is None:
            if quotas.max_overlays and len(self.overlays) >= quotas.max_overlays:
                self.counters["refused (too many overlays)"] += 1
                return Registration(stored=False, reason="too many overlays")
            peers = self.overlays[overlay] = OrderedDict()
        evicted = [old.key for old in list(peers.values()) if not self._alive(old, now)]
        for old_key in evicted:
            del peers[old_key]
        self.counters["expired"] += len(evicted)
        subnet = address_group(address[0])
        known = peers.get(key)
        if known is not None:
            registered = now if quotas.key_refresh else known.registered
            peers[key] = TrackedPeer(key, address, lan_address, subnet, registered, now)
            if quotas.key_refresh:
                peers.move_to_end(key)
            self.counters["refreshed"] += 1
            return Registration(stored=True, evicted=tuple(evicted))
        for limit, group, kind in ((quotas.per_endpoint, lambda peer: peer.address == address, "endpoint"),
                                   (quotas.per_ip, lambda peer: peer.address[0] == address[0], "ip"),
                                   (quotas.per_subnet, lambda peer: peer.subnet == subnet, "subnet")):
            if not limit:
                continue
            members = [peer.key for peer in peers.values() if group(peer)]
            for old_key in members[:max(0, len(members) - limit + 1)]:
                del peers[old_key]
                evicted.append(old_key)
                self.counters[f"evicted (per-{kind} quota)"] += 1
        while len(peers) >= self.peers_per_overlay:
            old_key, _ = peers.popitem(last=False)
            evicted.append(old_key)
            self.counters[f"evicted (newest {self.peers_per_overlay})"] += 1
        peers[key] = TrackedPeer(key, address, lan_address, subnet, now, now)
        self.counters["registered"] += 1
        return Registration(stored=True, evicted=tuple(evicted))

    def introduce(self, overlay: bytes, key: bytes, now: float) -> TrackedPeer | None:
        """A random live peer of ``overlay`` other than ``key`` to introduce ``key`` to, or None if there is none."""
        candidates = [peer for peer in self.overlays.get(overlay, {}).values()
                      if peer.key != key and self._alive(peer, now)]
        return self.rng.choice(candidates) if candidates else None

    def expire(self, now: float) -> int:
        """Forget the peers past ``max_age`` and the overlays left empty; the number of peers forgotten."""
        if not self.quotas.max_age:
            return 0
        forgotten = 0
        for overlay in list(self.overlays):
            peers = self.overlays[overlay]
            for old in [peer for peer in peers.values() if not self._alive(peer, now)]:
                del peers[old.key]
                forgotten += 1
            if not peers:
                del self.overlays[overlay]
        self.counters["expired"] += forgotten
        return forgotten
