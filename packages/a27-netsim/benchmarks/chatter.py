"""
Chatter: the reference workload of a27-netsim.

N IPv8 communities on simulated endpoints, all introduced to each other (complete graph), curve25519 keys. Every
node sends one signed 8-byte message to a seeded-random peer every 1/8 simulated second, over a constant 1 ms link;
the receiver verifies the signature. Messages use IPv8's standard signed wire format, produced by ``ez_send`` and
accepted by ``lazy_wrapper``; only the Ed25519 arithmetic is done by libnacl instead of the IPv8 key API.

For each N the run happens in a fresh subprocess (so that peak memory is per N) and prints wall seconds per simulated
hour, wall microseconds per message, peak memory (``resource.getrusage`` max RSS), events processed, and the crypto
floor (one libnacl sign plus one verify) with the ratio of the cost per message to it.

    python benchmarks/chatter.py                       # N = 20, 100, 300, 1000
    python benchmarks/chatter.py --nodes 100 --seconds 30
    python benchmarks/chatter.py --nodes 300 --profile # cProfile of one run, top functions on stderr
    python benchmarks/chatter.py --huge-pages          # workers allocate through glibc on transparent huge pages
    python benchmarks/chatter.py --repeat 3            # per N, the fastest of three runs

At 1000 nodes the IPv8 peer state of a complete graph takes gigabytes, and each message touches it at random places,
so address translation misses weigh on every message. ``--huge-pages`` runs the workers with
``PYTHONMALLOC=malloc GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (Linux, glibc 2.35 or later, transparent huge pages in
``madvise`` or ``always`` mode), the same setting any large simulation can use.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import libnacl
from ipv8.community import Community, CommunitySettings
from ipv8.lazy_community import lazy_wrapper
from ipv8.messaging.lazy_payload import VariablePayload, vp_compile
from ipv8.messaging.payload_headers import BinMemberAuthenticationPayload
from ipv8.messaging.serialization import Payload
from ipv8.peer import Peer
from ipv8.peerdiscovery.network import Network

from a27_netsim import ConstantLatency, Simulation, introduce

DEFAULT_NODES = (20, 100, 300, 1000)
INTERVAL = 0.125
LATENCY = 0.001
SIGNATURE_LENGTH = 64
# IPv8 curve25519 key material: 10-byte prefix, 32-byte curve25519 part, then the 32-byte Ed25519 part.
PRIVATE_PREFIX = b"LibNaCLSK:"
PUBLIC_PREFIX = b"LibNaCLPK:"
ED25519_OFFSET = 42
CURVE25519_KEY_LENGTH = 74
HUGE_PAGES_ENVIRONMENT = {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def default_seconds(nodes: int) -> float:
    """Simulated seconds per run: 60, or 20 from 1000 nodes up (keeping that run near a minute of wall time)."""
    return 60.0 if nodes < 1000 else 20.0


@vp_compile
class ChatPayload(VariablePayload):
    """An 8-byte chat message: a sequence number."""

    msg_id = 1
    format_list = ["Q"]
    names = ["number"]


class ChatterSettings(CommunitySettings):
    """Community settings plus the node's random stream and its sending interval."""

    rng: random.Random
    interval: float = INTERVAL


class ChatterCommunity(Community):
    """Sends a chat message to a random peer every interval and counts what it receives."""

    community_id = hashlib.sha1(b"a27-netsim chatter benchmark").digest()
    settings_class = ChatterSettings

    def __init__(self, settings: ChatterSettings) -> None:
        """Create the community; it starts chatting when :meth:`start_chatting` is called."""
        super().__init__(settings)
        self.rng = settings.rng
        self.interval = settings.interval
        self.sent = 0
        self.received = 0
        self.chat_peers: list[Peer] = []
        private = self.my_peer.key.key_to_bin()
        self._signing_key: bytes | None = None
        if private.startswith(PRIVATE_PREFIX):
            _, self._signing_key = libnacl.crypto_sign_seed_keypair(private[ED25519_OFFSET:])
        self.add_message_handler(ChatPayload, self.on_chat)

    def start_chatting(self, delay: float) -> None:
        """Start sending after ``delay`` seconds, to the peers known now (in address order, for determinism)."""
        self.chat_peers = sorted(self.get_peers(), key=lambda peer: peer.address)
        self.register_task("chat", self.send_chat, interval=self.interval, delay=delay)

    def stop_chatting(self) -> None:
        """Stop sending."""
        self.cancel_pending_task("chat")

    def send_chat(self) -> None:
        """Send one chat message to a random peer."""
        self.sent += 1
        self.ez_send(self.rng.choice(self.chat_peers), ChatPayload(self.sent))

    @lazy_wrapper(ChatPayload)
    def on_chat(self, peer: Peer, payload: ChatPayload) -> None:
        """Count a chat message whose signature checked out."""
        self.received += 1

    def _ez_pack(self, prefix: bytes, msg_num: int, payloads: Sequence[Payload], sig: bool = True) -> bytes:
        if not sig or self._signing_key is None:
            return super()._ez_pack(prefix, msg_num, payloads, sig)
        packet = prefix + bytes([msg_num]) + self.serializer.pack_serializable_list(payloads)
        return packet + libnacl.crypto_sign_detached(packet, self._signing_key)

    def _verify_signature(self, auth: BinMemberAuthenticationPayload, data: bytes) -> tuple[bool, bytes]:
        key = auth.public_key_bin
        if len(key) != CURVE25519_KEY_LENGTH or not key.startswith(PUBLIC_PREFIX):
            return super()._verify_signature(auth, data)
        # Same slicing as IPv8: the remainder is unpacked from offset 23, which skips the auth payload's bytes.
        remainder = data[2 + len(key) : -SIGNATURE_LENGTH]
        signature, signed = data[-SIGNATURE_LENGTH:], data[:-SIGNATURE_LENGTH]
        try:
            libnacl.crypto_sign_verify_detached(signature, signed, key[ED25519_OFFSET:])
        except ValueError:
            return False, remainder
        return True, remainder


def crypto_floor_us(message_size: int, rounds: int = 300) -> float:
    """The cost in microseconds of one libnacl sign plus one verify of ``message_size`` bytes, hot in cache."""
    public, secret = libnacl.crypto_sign_seed_keypair(bytes(32))
    message = bytes(message_size)
    start = time.perf_counter()
    for _ in range(rounds):
        libnacl.crypto_sign_verify_detached(libnacl.crypto_sign_detached(message, secret), message, public)
    return (time.perf_counter() - start) / rounds * 1e6


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def build(simulation: Simulation, nodes: int) -> list[ChatterCommunity]:
    """Create ``nodes`` chatter communities on the simulation's network, all introduced to each other."""
    communities = []
    for index in range(nodes):
        name = f"node-{index}"
        endpoint = simulation.network.create_endpoint(name)
        peer = Peer(simulation.streams.private_key(name), endpoint.wan_address)
        settings = ChatterSettings(
            my_peer=peer, endpoint=endpoint, network=Network(), rng=simulation.streams.stream(name)
        )
        communities.append(ChatterCommunity(settings))
    introduce(communities)
    return communities


def run_chatter(nodes: int, seconds: float, seed: int = 1, progress: bool = False) -> dict[str, Any]:
    """
    Run the workload once and return its figures.

    Wall time covers the ``seconds`` of chatter, not the set-up nor the final simulated second in which the last
    messages land before sent and delivered counts are compared. The crypto floor is sampled between the ten steps
    of the run, so that it sees the same machine as the run; its median is reported. ``other_load_cpus`` is how many
    CPUs other processes kept busy meanwhile (None off Linux): other work on the machine slows the run down.
    """
    with Simulation(seed, latency=ConstantLatency(LATENCY)) as simulation:
        loop = simulation.loop
        setup_start = time.perf_counter()
        communities = simulation.run(_start(simulation, nodes))
        setup_seconds = time.perf_counter() - setup_start
        sample = communities[0].ezr_pack(ChatPayload.msg_id, ChatPayload(0))
        events_before = loop.events_processed
        start = loop.time()
        wall = 0.0
        floors = []
        busy_before, own_before = _busy_cpu_seconds(), _own_cpu_seconds()
        steps = 10
        for step in range(1, steps + 1):
            step_start = time.perf_counter()
            loop.run_until(start + seconds * step / steps)
            wall += time.perf_counter() - step_start
            floors.append(crypto_floor_us(len(sample) - SIGNATURE_LENGTH))
            if progress:
                print(
                    f"  N={nodes}: {seconds * step / steps:.0f}/{seconds:.0f} simulated s, {wall:.1f} s wall",
                    file=sys.stderr,
                    flush=True,
                )
        busy_after, own_after = _busy_cpu_seconds(), _own_cpu_seconds()
        messages = simulation.network.stats.totals()["sent"]["messages"]
        events = loop.events_processed - events_before
        for community in communities:
            community.stop_chatting()
        loop.run_for(1.0)
        totals = simulation.network.stats.totals()
        sent = sum(community.sent for community in communities)
        received = sum(community.received for community in communities)
        if not sent == received == totals["sent"]["messages"] == totals["delivered"]["messages"]:
            raise RuntimeError(f"lost messages: sent {sent}, received {received}, network {totals}")
        simulation.run(_unload(communities))
    floor = statistics.median(floors)
    per_message = wall / messages * 1e6
    other_load = None
    if busy_before is not None and busy_after is not None:
        elapsed = wall + steps * floor * 300 / 1e6
        other_load = max(0.0, (busy_after - busy_before) - (own_after - own_before)) / elapsed
    return {
        "nodes": nodes,
        "simulated_seconds": seconds,
        "messages": messages,
        "packet_bytes": len(sample),
        "setup_seconds": setup_seconds,
        "wall_seconds": wall,
        "wall_seconds_per_simulated_hour": wall / seconds * 3600,
        "us_per_message": per_message,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "events_processed": events,
        "crypto_floor_us": floor,
        "ratio_to_floor": per_message / floor,
        "other_load_cpus": other_load,
        "huge_pages": all(os.environ.get(name) == value for name, value in HUGE_PAGES_ENVIRONMENT.items()),
    }


async def _start(simulation: Simulation, nodes: int) -> list[ChatterCommunity]:
    communities = build(simulation, nodes)
    for community in communities:
        community.start_chatting(community.rng.random() * INTERVAL)
    return communities


async def _unload(communities: list[ChatterCommunity]) -> None:
    for community in communities:
        await community.unload()


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| N | simulated s | messages | set-up s | wall s / simulated h | us / message | peak RSS MiB | events | "
        "crypto floor us | ratio | other load (CPUs) | huge pages |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['nodes']} | {r['simulated_seconds']:.0f} | {r['messages']:,} | {r['setup_seconds']:.1f} | "
            f"{r['wall_seconds_per_simulated_hour']:,.0f} | {r['us_per_message']:.0f} | {r['peak_rss_mib']:,.0f} | "
            f"{r['events_processed']:,} | {r['crypto_floor_us']:.0f} | {r['ratio_to_floor']:.2f} | "
            f"{'n/a' if r['other_load_cpus'] is None else format(r['other_load_cpus'], '.2f')} | "
            f"{'yes' if r['huge_pages'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for each N in a subprocess and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, nargs="+", default=list(DEFAULT_NODES), help="node counts to run")
    parser.add_argument(
        "--seconds", type=float, default=None, help="simulated seconds per run (default: 60, or 20 from 1000 nodes up)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile one in-process run and print hot spots")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each N this many times and report the fastest run (filters out interference)",
    )
    parser.add_argument(
        "--huge-pages", action="store_true", help="run the workers with glibc malloc on transparent huge pages (Linux)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker or args.profile:
        nodes = args.nodes[0]
        seconds = args.seconds or default_seconds(nodes)
        if args.profile:
            profiler = cProfile.Profile()
            result = profiler.runcall(run_chatter, nodes, seconds, args.seed, True)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
            print(_table([result]))
        else:
            print(json.dumps(run_chatter(nodes, seconds, args.seed, progress=True)))
        return 0

    environment = dict(os.environ)
    if args.huge_pages:
        environment.update(HUGE_PAGES_ENVIRONMENT)
    results = []
    for nodes in args.nodes:
        seconds = args.seconds or default_seconds(nodes)
        runs = []
        for attempt in range(1, args.repeat + 1):
            print(
                f"running N={nodes} for {seconds:.0f} simulated s ({attempt}/{args.repeat})",
                file=sys.stderr,
                flush=True,
            )
            command = [
                sys.executable,
                __file__,
                "--worker",
                "--nodes",
                str(nodes),
                "--seconds",
                str(seconds),
                "--seed",
                str(args.seed),
            ]
            completed = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=environment)
            runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        results.append(min(runs, key=lambda run: run["us_per_message"]))
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
