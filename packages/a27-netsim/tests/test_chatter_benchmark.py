"""The chatter benchmark: libnacl signing keeps IPv8's wire format byte for byte, and a tiny run checks out."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from ipv8.community import Community
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import Simulation

CHATTER = Path(__file__).parent.parent / "benchmarks" / "chatter.py"


@pytest.fixture(scope="module")
def chatter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("netsim_chatter_benchmark", CHATTER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_libnacl_signing_produces_and_accepts_ipv8_bytes(chatter: ModuleType) -> None:
    with Simulation(1) as simulation:

        async def make() -> Community:
            endpoint = simulation.network.create_endpoint()
            peer = Peer(simulation.streams.private_key("signer"), endpoint.wan_address)
            settings = chatter.ChatterSettings(
                my_peer=peer, endpoint=endpoint, network=Network(), rng=simulation.streams.stream("signer")
            )
            return chatter.ChatterCommunity(settings)

        community = simulation.run(make())
        payload = chatter.ChatPayload(12345)
        ours = community.ezr_pack(payload.msg_id, payload)
        auth = BinMemberAuthenticationPayload(community.my_peer.public_key.key_to_bin())
        ipv8s = Community._ez_pack(community, community.get_prefix(), payload.msg_id, [auth, payload])
        assert ours == ipv8s
        assert community._verify_signature(auth, ours) == Community._verify_signature(community, auth, ours)
        assert community._verify_signature(auth, ours)[0] is True
        tampered = ours[:-1] + bytes([ours[-1] ^ 1])
        assert community._verify_signature(auth, tampered)[0] is False
        assert Community._verify_signature(community, auth, tampered)[0] is False
        simulation.run(community.unload())


def test_a_tiny_chatter_run(chatter: ModuleType) -> None:
    result = chatter.run_chatter(nodes=4, seconds=2.0, seed=3)
    assert result["messages"] == 4 * 2 * 8
    assert result["us_per_message"] > 0
    assert result["ratio_to_floor"] == pytest.approx(result["us_per_message"] / result["crypto_floor_us"])
    assert result["events_processed"] > result["messages"]
