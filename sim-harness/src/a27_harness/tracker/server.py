"""
The tracker's IPv8 side: a UDP endpoint that answers introduction requests for any community id.

Modelled on py-ipv8's ``scripts/tracker_service.py`` (``EndpointServer``): it listens to every packet on its endpoint,
takes only introduction requests (message 246, signed by the requester's key, PROTOCOL.md's "Peer discovery"), records
the requester in ``TrackerTable`` and answers with an introduction response naming a random other peer of the same
community, to whom it also sends a puncture request. Every decision is the table's; this module only decodes and
sends. Any other packet is counted and dropped, and so is anything that fails to decode or verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import struct
from collections.abc import Callable

from ipv8.community import Community
from ipv8.keyvault.crypto import default_eccrypto
from ipv8.lazy_community import PacketDecodingError
from ipv8.messaging.interfaces.endpoint import Endpoint
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint, UDPv4Address, UDPv4LANAddress
from ipv8.messaging.payload import IntroductionRequestPayload
from ipv8.messaging.serialization import PackError
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from .table import TrackedPeer, TrackerQuotas, TrackerTable

INTRODUCTION_REQUEST = 246
"""IPv8's (IPv4) introduction request message id, the only message the tracker answers."""
PREFIX_LENGTH = 22
"""An IPv8 packet's prefix: a zero byte, the IPv8 version byte, the 20-byte community id."""
EXPIRE_INTERVAL = 10.0
"""Seconds between sweeps that forget peers past their age and empty overlays."""
STATUS_INTERVAL = 60.0
"""Seconds between the status lines the tracker logs."""

log = logging.getLogger("a27.tracker")


class TrackerServer(Community):
    """
    A bootstrap server for every overlay: answers IPv8 introduction requests whatever their community id.

    Its own community id is a fixed constant (nobody joins it); ``table`` holds the registrations.
    """

    community_id = hashlib.sha1(b"a27 tracker").digest()

    def __init__(self, endpoint: Endpoint, table: TrackerTable, clock: Callable[[], float] | None = None) -> None:
        """Serve on ``endpoint`` (open) with ``table``; ``clock`` (default: the event loop's) times registrations."""
        my_peer = Peer(default_eccrypto.generate_key("curve25519"))
        super().__init__(self.settings_class(my_peer=my_peer, endpoint=endpoint, network=Network()))
        self.table = table
        self.clock = clock if clock is not None else asyncio.get_running_loop().time
        self.endpoint.add_listener(self)  # every packet, not only those with this community's prefix
        self.register_task("expire", self._expire, interval=EXPIRE_INTERVAL)
        self.register_task("status", self._log_status, interval=STATUS_INTERVAL, delay=STATUS_INTERVAL)

    def on_packet(self, packet: tuple[UDPv4Address, bytes], warn_unknown: bool = False) -> None:
        """Answer an introduction request of any community; count and drop everything else."""
        source_address, data = packet
        if len(data) <= PREFIX_LENGTH or data[PREFIX_LENGTH] != INTRODUCTION_REQUEST:
            self.table.counters["ignored (not an introduction request)"] += 1
            return
        if not self.table.admit(source_address[0], self.clock()):
            return
        try:
            auth, _dist, payload = self._ez_unpack_auth(IntroductionRequestPayload, data)
        except (PacketDecodingError, PackError, struct.error, ValueError, IndexError, KeyError, TypeError) as error:
            self.table.counters["dropped (malformed or badly signed)"] += 1
            log.debug("dropped a packet from %s:%d: %s", source_address[0], source_address[1], error)
            return
        self.answer(UDPv4Address(*source_address), data[:PREFIX_LENGTH], auth.public_key_bin, payload)

    def answer(self, source_address: UDPv4Address, prefix: bytes, key: bytes,
               payload: IntroductionRequestPayload) -> None:
        """Register the verified request's sender in its overlay and send it an introduction (or none)."""
        overlay = prefix[2:]
        now = self.clock()
        lan_address = UDPv4LANAddress(*payload.source_lan_address)
        self.table.register(overlay, key, (source_address[0], source_address[1]),
                            (lan_address[0], lan_address[1]), now)
        chosen = self.table.introduce(overlay, key, now)
        packet = self.create_introduction_response(payload.destination_address, source_address, payload.identifier,
                                                   introduction=None if chosen is None else _peer(chosen),
                                                   prefix=prefix)
        self.endpoint.send(source_address, packet)

    def get_peer_for_introduction(self, exclude: Peer | None = None, new_style: bool = False) -> Peer | None:
        """None: the table chooses whom to introduce (py-ipv8's tracker does the same)."""
        return None

    def _expire(self) -> None:
        self.table.expire(self.clock())

    def _log_status(self) -> None:
        counters = ", ".join(f"{kind} {count}" for kind, count in sorted(self.table.counters.items()))
        log.info("tracker: %d overlays, %d peers; %s", len(self.table.overlays), len(self.table), counters or "idle")


def _peer(tracked: TrackedPeer) -> Peer:
    peer = Peer(tracked.key, UDPv4Address(*tracked.address))
    peer.add_address(UDPv4LANAddress(*tracked.lan_address))
    return peer


async def start_tracker(host: str, port: int, quotas: TrackerQuotas | None = None, *,
                        rng: random.Random | None = None) -> TrackerServer:
    """
    Open a UDP socket on ``host``:``port`` (0: any free port) and serve the tracker on it (``rng`` picks whom to
    introduce: seed it for a repeatable test).

    :raises OSError: when that port cannot be bound (IPv8's endpoint would quietly take a later one).
    """
    endpoint = UDPEndpoint(port=port, ip=host)
    if not await endpoint.open():
        msg = f"could not bind a UDP socket on {host}:{port}"
        raise OSError(msg)
    if port and endpoint.get_address()[1] != port:
        endpoint.close()
        msg = f"UDP port {host}:{port} is in use"
        raise OSError(msg)
    return TrackerServer(endpoint, TrackerTable(quotas, rng=rng))


async def stop_tracker(server: TrackerServer) -> None:
    """Stop serving and close the tracker's socket."""
    await server.unload()
    closing = server.endpoint.close()
    if closing is not None:
        await closing
