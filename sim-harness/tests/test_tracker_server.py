"""The tracker on a real UDP socket (``a27_harness.tracker.server``) and its command (``a27 tracker run``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Callable

import pytest
from ipv8.community import Community, CommunitySettings
from ipv8.keyvault.crypto import default_eccrypto
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_attacks.tracker_sybil import introduction_request
from a27_harness.entry import main
from a27_harness.tracker import TrackerQuotas
from a27_harness.tracker.server import start_tracker, stop_tracker


class Probe(Community):
    """A community that does nothing but IPv8's peer discovery."""

    community_id = hashlib.sha1(b"a27 tracker test probe").digest()


async def _probe() -> Probe:
    endpoint = UDPEndpoint(port=0, ip="127.0.0.1")
    assert await endpoint.open()
    probe = Probe(CommunitySettings(my_peer=Peer(default_eccrypto.generate_key("curve25519")), endpoint=endpoint,
                                    network=Network()))
    probe.my_estimated_lan = endpoint.get_address()
    return probe


async def _until(condition: Callable[[], object], seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.05)


@pytest.mark.timeout(30)
def test_two_ipv8_communities_that_know_only_the_tracker_become_each_others_peers() -> None:
    async def run() -> None:
        server = await start_tracker("127.0.0.1", 0, rng=random.Random(3))
        tracker = server.endpoint.get_address()
        first, second = await _probe(), await _probe()
        try:
            first.walk_to(tracker)
            await _until(first.get_peers, 5)
            second.walk_to(tracker)
            await _until(second.get_walkable_addresses, 5)
            assert first.endpoint.get_address() in second.get_walkable_addresses()
            for address in second.get_walkable_addresses():
                second.walk_to(address)
            await _until(lambda: first.my_peer.mid in {peer.mid for peer in second.get_peers()}
                         and second.my_peer.mid in {peer.mid for peer in first.get_peers()}, 5)
            keys = {peer.mid for peer in second.get_peers()}
            assert first.my_peer.mid in keys
            assert second.my_peer.mid in {peer.mid for peer in first.get_peers()}
            assert len(server.table) == 2
            assert server.table.counters["registered"] == 2
        finally:
            for probe in (first, second):
                await probe.unload()
                probe.endpoint.close()
            await stop_tracker(server)

    asyncio.run(run())


@pytest.mark.timeout(30)
def test_garbage_other_messages_and_bad_signatures_change_nothing_and_crash_nothing() -> None:
    async def run() -> None:
        server = await start_tracker("127.0.0.1", 0, TrackerQuotas(rate=0))  # every packet decoded: none refused early
        tracker = server.endpoint.get_address()
        sender = UDPEndpoint(port=0, ip="127.0.0.1")
        assert await sender.open()
        try:
            key = default_eccrypto.generate_key("curve25519")
            good = introduction_request(key, b"c" * 20, tracker, sender.get_address(), 1)
            rng = random.Random(5)
            badly_signed = good[:-1] + bytes([good[-1] ^ 1])
            packets = [b"\x00", b"\x00" * 22, good[:23], badly_signed, good[:22] + b"\xf5" + good[23:]]
            packets += [good[:23] + rng.randbytes(rng.randrange(300)) for _ in range(300)]
            for packet in packets:
                sender.send(tracker, packet)
                await asyncio.sleep(0)
            sender.send(tracker, good)
            await _until(lambda: server.table.counters["registered"], 5)
            assert len(server.table) == 1
            counters = server.table.counters
            assert counters["registered"] == 1
            assert counters["ignored (not an introduction request)"] + counters[
                "dropped (malformed or badly signed)"] == len(packets)
        finally:
            sender.close()
            await stop_tracker(server)

    asyncio.run(run())


def test_the_options_choose_the_quotas(capsys: pytest.CaptureFixture[str]) -> None:
    from a27_harness.node.command import OneLineErrorParser  # noqa: PLC0415
    from a27_harness.tracker.command import add_tracker_parser, quotas_from  # noqa: PLC0415

    parser = OneLineErrorParser(prog="a27")
    add_tracker_parser(parser.add_subparsers(dest="command", required=True))

    def quotas(*options: str) -> TrackerQuotas:
        return quotas_from(parser.parse_args(["tracker", "run", *options]))

    assert quotas() == TrackerQuotas()
    assert quotas("--no-quotas") == TrackerQuotas.none()
    assert quotas("--no-quotas", "--per-endpoint", "1") == TrackerQuotas(per_endpoint=1, per_ip=0, per_subnet=0,
                                                                          key_refresh=False, max_age=0,
                                                                          max_overlays=0, rate=0)
    assert quotas("--per-ip", "0", "--max-age", "30", "--no-key-refresh") == TrackerQuotas(per_ip=0, max_age=30.0,
                                                                                            key_refresh=False)
    for bad in (["--per-ip", "-1"], ["--max-age", "nan"], ["--port", "70000"], ["--listen", "host"]):
        with pytest.raises(SystemExit) as exited:
            main(["tracker", "run", *bad])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"a27 tracker run: argument {bad[0]}: ") and err.count("\n") == 1, err


def test_the_tracker_command_loads_no_node_layers_reports_labs_or_simulator() -> None:
    code = ("import sys, json\nfrom a27_harness.entry import main\n"
            "try:\n    main(['tracker', 'run', '--port', 'x'])\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(name for name in ('matplotlib', 'scipy', 'a27_harness.reports', "
            "'a27_harness.labs', 'a27_harness.cli', 'a27_netsim', 'a27_harness.attacks') if name in sys.modules)))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(finished.stdout) == []
