"""
The tracker under a flood: ``a27 tracker run`` as its own process, sent introduction requests signed by N fresh keys
(in one community, or each in a community of its own), while an honest newcomer asks it for an introduction every
20 ms. Prints the tracker's resident memory before and after, and the newcomer's answer times.

    python sim-harness/benchmarks/tracker_flood.py [--keys 10000] [--communities one|each] [--no-quotas]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ipv8.keyvault.crypto import default_eccrypto
from ipv8.messaging.interfaces.endpoint import EndpointListener
from ipv8.messaging.interfaces.udp.endpoint import UDPEndpoint
from ipv8.messaging.payload import IntroductionResponsePayload
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload, GlobalTimeDistributionPayload
from ipv8.messaging.serialization import default_serializer

from a27_attacks.tracker_sybil import introduction_request

COMMUNITY = hashlib.sha1(b"a27 tracker flood").digest()


def _rss_kib(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(encoding="utf-8"))
    assert found is not None
    return int(found[1])


class _Timer(EndpointListener):
    """Answer times of the newcomer's requests, matched by the identifier the response repeats."""

    def __init__(self, endpoint: UDPEndpoint) -> None:
        super().__init__(endpoint)
        self.sent: dict[int, float] = {}
        self.times: list[float] = []

    def on_packet(self, packet: tuple[tuple[str, int], bytes]) -> None:
        data = packet[1]
        if len(data) <= 23 or data[22] != 245:  # not an introduction response
            return
        auth, offset = default_serializer.unpack_serializable(BinMemberAuthenticationPayload, data, offset=23)
        signature = default_eccrypto.get_signature_length(default_eccrypto.key_from_public_bin(auth.public_key_bin))
        _dist, response = default_serializer.unpack_serializable_list(
            [GlobalTimeDistributionPayload, IntroductionResponsePayload], data[:-signature], offset=offset)
        sent = self.sent.pop(response.identifier, None)
        if sent is not None:
            self.times.append(time.perf_counter() - sent)


async def _flood(port: int, keys: int, each: bool) -> tuple[list[float], int]:
    tracker = ("127.0.0.1", port)
    crowd = UDPEndpoint(port=0, ip="127.0.0.1")
    probe = UDPEndpoint(port=0, ip="127.0.0.2")  # another host: the flooder's rate quota is not the newcomer's
    await crowd.open()
    await probe.open()
    timer = _Timer(probe)
    probe.add_listener(timer)
    newcomer = default_eccrypto.generate_key("curve25519")
    packets = []
    for number in range(keys):
        community = hashlib.sha1(number.to_bytes(4, "big")).digest() if each else COMMUNITY
        packets.append(introduction_request(default_eccrypto.generate_key("curve25519"), community, tracker,
                                            crowd.get_address(), number))
    started = time.perf_counter()
    next_probe = 0.0
    for index, packet in enumerate(packets):
        crowd.send(tracker, packet)
        if index % 20 == 19:
            await asyncio.sleep(0.001)
        if time.perf_counter() - started >= next_probe:
            timer.sent[index % 65_536] = time.perf_counter()
            probe.send(tracker, introduction_request(newcomer, COMMUNITY, tracker, probe.get_address(), index))
            next_probe += 0.02
    await asyncio.sleep(1.0)
    crowd.close()
    probe.close()
    return timer.times, len(timer.sent)  # answered, and never answered


def main() -> None:
    """Run the flood and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--communities", choices=("one", "each"), default="one")
    parser.add_argument("--no-quotas", action="store_true")
    arguments = parser.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "a27_harness.entry", "tracker", "run", "--listen", "127.0.0.1", "--port",
               str(port), *(["--no-quotas"] if arguments.no_quotas else [])]
    tracker = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        before = _rss_kib(tracker.pid)
        started = time.perf_counter()
        times, lost = asyncio.run(_flood(port, arguments.keys, arguments.communities == "each"))
        seconds = time.perf_counter() - started
        after = _rss_kib(tracker.pid)
    finally:
        tracker.send_signal(signal.SIGTERM)
        _out, err = tracker.communicate(timeout=30)
    stopped = re.search(r"stopping; (\d+) overlays, (\d+) peers", err)
    print(f"{arguments.keys:,} keys, communities {arguments.communities}, quotas "
          f"{'off' if arguments.no_quotas else 'on'}: sent in {seconds:.1f} s; host load {os.getloadavg()[0]:.1f}")
    print(f"tracker RSS {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after; table at the end: "
          f"{stopped[1] if stopped else '?'} overlays, {stopped[2] if stopped else '?'} peers")
    if times:
        ordered = sorted(times)
        print(f"newcomer answers: {len(times)} (unanswered {lost}), median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
