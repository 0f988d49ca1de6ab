"""
The tracker Sybil: many fresh identities registered at a bootstrap server, so that newcomers meet only them.

A bootstrap server (py-ipv8's tracker, or ``a27 tracker run``) keeps the newest peers of each overlay (100 in
py-ipv8's) and introduces every newcomer to one of them. ``SybilCrowd`` holds fresh IPv8 keys behind one UDP socket
(or a few) and registers each key by sending the server an IPv8 introduction request (message 246) signed with that
key, the documented discovery message and nothing else. ``ask_for_introductions`` is an honest newcomer's view: the
peers the server introduces a fresh key to.

This is not an ``Attack`` of the registry: an ``Arena`` is a simulated network without a bootstrap server, and
success is measured in the server's answers, not in tokens. ``sim-harness/tests/test_tracker_sybil.py`` runs it on
real loopback sockets against ``a27 tracker``'s server with its quotas off (every honest peer is pushed out) and on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ipv8.keyvault.crypto import default_eccrypto
from ipv8.keyvault.keys import PrivateKey
from ipv8.messaging.interfaces.endpoint import Endpoint, EndpointListener
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint
from ipv8.messaging.payload import IntroductionRequestPayload, IntroductionResponsePayload
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload, GlobalTimeDistributionPayload
from ipv8.messaging.serialization import PackError, default_serializer

Address = tuple[str, int]
IPV8_VERSION = b"\x00\x02"
"""The first two bytes of every IPv8 packet (a zero byte and the protocol version)."""
INTRODUCTION_REQUEST = 246
INTRODUCTION_RESPONSE = 245
BATCH = 50
"""Requests sent before yielding to the event loop, so a loopback socket buffer is not overrun."""


class TrackerSybilError(ValueError):
    """Parameters the tracker Sybil cannot run with."""


def introduction_request(key: PrivateKey, community_id: bytes, destination: Address, source: Address,
                         identifier: int) -> bytes:
    """An IPv8 introduction request (message 246) for ``community_id`` to ``destination``, signed with ``key``."""
    if len(community_id) != 20:
        msg = f"a community id is 20 bytes, got {len(community_id)}"
        raise TrackerSybilError(msg)
    payload = IntroductionRequestPayload(destination, source, source, True, "unknown", identifier % 65_536, b"")
    header = IPV8_VERSION + community_id + bytes([INTRODUCTION_REQUEST])
    body = default_serializer.pack_serializable_list([BinMemberAuthenticationPayload(key.pub().key_to_bin()),
                                                      GlobalTimeDistributionPayload(identifier % 65_536), payload])
    return header + body + default_eccrypto.create_signature(key, header + body)


async def _open(host: str) -> UDPEndpoint:
    endpoint = UDPEndpoint(port=0, ip=host)
    if not await endpoint.open():
        msg = f"could not bind a UDP socket on {host}"
        raise OSError(msg)
    return endpoint


async def _close(endpoint: Endpoint) -> None:
    closing = endpoint.close()
    if closing is not None:
        await closing


class SybilCrowd:
    """``count`` fresh IPv8 identities behind ``sockets`` UDP sockets on ``host`` (keys spread round-robin)."""

    def __init__(self, keys: Sequence[PrivateKey], endpoints: Sequence[Endpoint]) -> None:
        """Use ``keys`` on ``endpoints`` (open); ``SybilCrowd.open`` makes both."""
        if not keys or not endpoints:
            msg = "a Sybil crowd needs at least one key and one socket"
            raise TrackerSybilError(msg)
        self.keys = tuple(keys)
        self.endpoints = tuple(endpoints)

    @classmethod
    async def open(cls, count: int, *, host: str = "127.0.0.1", sockets: int = 1) -> SybilCrowd:
        """Generate ``count`` curve25519 keys and open ``sockets`` UDP sockets on ``host``."""
        if count < 1 or not 1 <= sockets <= count:
            msg = f"expected count >= 1 and 1 <= sockets <= count, got count={count}, sockets={sockets}"
            raise TrackerSybilError(msg)
        endpoints = [await _open(host) for _ in range(sockets)]
        return cls([default_eccrypto.generate_key("curve25519") for _ in range(count)], endpoints)

    @property
    def addresses(self) -> set[Address]:
        """The UDP addresses the Sybils send from."""
        return {(endpoint.get_address()[0], endpoint.get_address()[1]) for endpoint in self.endpoints}

    async def register(self, tracker: Address, community_id: bytes) -> int:
        """Send one signed introduction request per identity to ``tracker`` for ``community_id``; the number sent."""
        for index, key in enumerate(self.keys):
            endpoint = self.endpoints[index % len(self.endpoints)]
            endpoint.send(tracker, introduction_request(key, community_id, tracker, endpoint.get_address(), index))
            if index % BATCH == BATCH - 1:
                await asyncio.sleep(0.005)
        return len(self.keys)

    async def close(self) -> None:
        """Close the crowd's sockets."""
        for endpoint in self.endpoints:
            await _close(endpoint)


class _Introductions(EndpointListener):
    """Collects the introduced addresses of the introduction responses an endpoint receives."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.introduced: list[Address] = []
        self.answers = 0

    def on_packet(self, packet: tuple[Address, bytes]) -> None:
        _source, data = packet
        if len(data) < 23 or data[22] != INTRODUCTION_RESPONSE:
            return
        try:
            auth, offset = default_serializer.unpack_serializable(BinMemberAuthenticationPayload, data, offset=23)
            signature = default_eccrypto.get_signature_length(default_eccrypto.key_from_public_bin(auth.public_key_bin))
            _dist, response = default_serializer.unpack_serializable_list(
                [GlobalTimeDistributionPayload, IntroductionResponsePayload], data[:-signature], offset=offset)
        except (PackError, ValueError, IndexError, TypeError):
            return  # not a response this listener can read
        self.answers += 1
        for introduced in (response.lan_introduction_address, response.wan_introduction_address):
            if tuple(introduced) != ("0.0.0.0", 0):
                self.introduced.append((introduced[0], introduced[1]))
                break


async def ask_for_introductions(tracker: Address, community_id: bytes, asks: int, *, host: str = "127.0.0.1",
                                interval: float = 0.02, timeout: float = 2.0) -> list[Address]:
    """
    An honest newcomer's view: a fresh key asks ``tracker`` for ``asks`` introductions in ``community_id``.

    Returns the address of each peer it was introduced to (its LAN address, else its WAN address), in order;
    answers without an introduction are left out.
    """
    key = default_eccrypto.generate_key("curve25519")
    endpoint = await _open(host)
    listener = _Introductions(endpoint)
    endpoint.add_listener(listener)
    try:
        for identifier in range(asks):
            endpoint.send(tracker, introduction_request(key, community_id, tracker, endpoint.get_address(),
                                                        identifier))
            await asyncio.sleep(interval)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while listener.answers < asks and loop.time() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await _close(endpoint)
    return listener.introduced
