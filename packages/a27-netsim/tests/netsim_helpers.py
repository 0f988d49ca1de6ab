"""Test helpers: IPv8-shaped packets and a listener that records what it receives and when."""

from __future__ import annotations

from ipv8.messaging.interfaces.endpoint import Endpoint, EndpointListener
from ipv8.messaging.interfaces.udp.endpoint import Address

COMMUNITY_A = bytes(range(20))
COMMUNITY_B = bytes(range(100, 120))


def packet(msg_id: int = 1, community: bytes = COMMUNITY_A, body: bytes = b"payload") -> bytes:
    """An IPv8-shaped packet: prefix (zero byte, version, community id), message id, body."""
    return b"\x00\x02" + community + bytes([msg_id]) + body


class Recorder(EndpointListener):
    """Records (virtual time, source, packet) for every packet its endpoint delivers."""

    def __init__(self, endpoint: Endpoint, clock: object) -> None:
        super().__init__(endpoint)
        self.clock = clock
        self.received: list[tuple[float, Address, bytes]] = []
        endpoint.add_listener(self)

    def on_packet(self, packet: tuple[Address, bytes]) -> None:
        source, data = packet
        self.received.append((self.clock.time(), source, data))  # type: ignore[attr-defined]
