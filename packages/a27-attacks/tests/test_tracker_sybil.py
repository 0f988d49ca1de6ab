"""The tracker Sybil's messages (``a27_attacks.tracker_sybil``): IPv8 introduction requests an IPv8 node accepts."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from ipv8.community import Community, CommunitySettings
from ipv8.keyvault.crypto import default_eccrypto
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint
from ipv8.messaging.payload import IntroductionRequestPayload
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_attacks import SybilCrowd, TrackerSybilError, introduction_request


class Target(Community):
    """An IPv8 community that only discovers peers."""

    community_id = hashlib.sha1(b"a27 tracker sybil target").digest()


def test_a_request_is_signed_by_the_sybil_key_and_decodes_as_ipv8_reads_it() -> None:
    async def run() -> None:
        endpoint = UDPEndpoint(port=0, ip="127.0.0.1")
        assert await endpoint.open()
        target = Target(CommunitySettings(my_peer=Peer(default_eccrypto.generate_key("curve25519")),
                                          endpoint=endpoint, network=Network()))
        try:
            key = default_eccrypto.generate_key("curve25519")
            packet = introduction_request(key, Target.community_id, ("127.0.0.1", 9000), ("127.0.0.1", 7000), 70_000)
            assert packet[:22] == target.get_prefix()
            assert packet[22] == 246
            auth, dist, payload = target._ez_unpack_auth(IntroductionRequestPayload, packet)
            assert auth.public_key_bin == key.pub().key_to_bin()
            assert payload.destination_address == ("127.0.0.1", 9000)
            assert payload.source_lan_address == ("127.0.0.1", 7000)
            assert payload.identifier == dist.global_time == 70_000 % 65_536
        finally:
            await target.unload()
            endpoint.close()

    asyncio.run(run())


def test_bad_parameters_are_refused() -> None:
    key = default_eccrypto.generate_key("curve25519")
    with pytest.raises(TrackerSybilError, match="20 bytes"):
        introduction_request(key, b"short", ("127.0.0.1", 1), ("127.0.0.1", 2), 0)
    with pytest.raises(TrackerSybilError, match="sockets <= count"):
        asyncio.run(SybilCrowd.open(2, sockets=3))
    with pytest.raises(TrackerSybilError, match="at least one key"):
        SybilCrowd([], [])
