"""Per-packet cost of the peer defences under no attack: ``PeerDefences()`` against ``PeerDefences.none()``.

A light node receives a validator's signed LogHead packets on the production path (``A27Community.on_packet``,
signature verified every time: the signature cache is off), once with every peer defence on and once with all off.
The limits are raised so that no packet is dropped: what is measured is the price of the checks themselves (packet
size, token bucket, the peer lookup before verification), not of refusing anything. Rounds are interleaved (off, on,
repeat) and medians reported, because shared machines are noisy.

Run: python benchmarks/peer_defences.py [--packets 5000] [--rounds 5] [--signature-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Sequence

from ipv8.peer import Peer
from ipv8.test.mocking.endpoint import AutoMockEndpoint
from ipv8.test.mocking.ipv8 import MockIPv8

from a27_ledger import (
    Genesis,
    LedgerCommunity,
    LedgerSettings,
    LogHead,
    PeerDefences,
    PeerLimits,
    encode_signed,
    signature_cache,
)
from a27_ledger.testing import make_keys

UNLIMITED = PeerLimits(rate=1e12, burst=1e12)


async def per_packet_seconds(defences: PeerDefences, packets: int) -> float:
    """Seconds per LogHead packet handled by a light node running ``defences``."""
    validator_key, light_key = make_keys(2, seed=8)
    genesis = Genesis.build("a27-bench", {validator_key.public_key: 1_000, light_key.public_key: 1_000},
                            [validator_key.public_key])
    node = MockIPv8(Peer(light_key.ipv8_key()), LedgerCommunity,
                    LedgerSettings(genesis=genesis, peer_defences=defences, peer_limits=UNLIMITED))
    sender = AutoMockEndpoint()
    known = Peer(validator_key.ipv8_key().pub(), sender.wan_address)
    node.network.add_verified_peer(known)
    node.network.discover_services(known, [node.overlay.community_id])
    packet = encode_signed(node.overlay.get_prefix(), validator_key, LogHead(0))
    source = sender.wan_address
    on_packet = node.overlay.on_packet
    try:
        gc.collect()
        started = time.perf_counter()
        for _ in range(packets):
            on_packet((source, packet))
        elapsed = time.perf_counter() - started
        assert node.overlay.work["handler calls"] == packets, node.overlay.drops
    finally:
        await node.stop()
    return elapsed / packets


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the interleaved rounds and print both columns side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5_000, help="packets per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--signature-cache", action="store_true",
                        help="keep the signature cache on (a simulation's case: one packet, many receivers)")
    arguments = parser.parse_args(argv)
    if not arguments.signature_cache:
        signature_cache.resize(0, 0)
    off: list[float] = []
    on: list[float] = []
    for _ in range(arguments.rounds):
        off.append(asyncio.run(per_packet_seconds(PeerDefences.none(), arguments.packets)))
        on.append(asyncio.run(per_packet_seconds(PeerDefences(), arguments.packets)))
    median_off, median_on = statistics.median(off), statistics.median(on)
    print(f"{'':28} {'us/packet':>10}")
    print(f"{'PeerDefences.none()':28} {median_off * 1e6:10.1f}")
    print(f"{'PeerDefences() (all on)':28} {median_on * 1e6:10.1f}")
    print(f"overhead {100 * (median_on / median_off - 1):+.1f}% "
          f"({arguments.packets} signed LogHead packets per run, {arguments.rounds} rounds, signature cache "
          f"{'on' if arguments.signature_cache else 'off'})")


if __name__ == "__main__":
    main()
