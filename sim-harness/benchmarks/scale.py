"""
Scale: the default PoS stack (Lab 2) at growing network sizes, and what each node sends per block.

For each size N, 20 validators and N - 20 light nodes run ``a27 sim``'s Lab 2 (ledger and pos layers, the scenario
defaults otherwise, but a Barabasi-Albert light-node topology unless ``--topology`` says otherwise; each light node
is introduced to ``validators_per_light_node`` validators) for ``--seconds`` simulated seconds, with about 10
transfers per simulated second in total (each light node's mean pause is (N - 20) / 10 s). Each size runs in its own
subprocess, so that peak memory (``VmHWM``, the worker's own peak resident set) is per size. Beside each size,
a27-netsim's chatter benchmark (one signed 8-byte message per node every 1/8 s over a complete graph,
``packages/a27-netsim/benchmarks/chatter.py``) runs at the same N in its own subprocess: its cost per message is
what the simulator and IPv8 alone cost at that size, so that the PoS run's cost per packet can be read against it.

The table gives wall seconds per simulated second (the workload, settling included; not the set-up), blocks,
packets per block, and messages per node per block by message type (a27-netsim's per-type counters). Progress goes
to stderr.

    python sim-harness/benchmarks/scale.py                       # N = 100, 300, 1000
    python sim-harness/benchmarks/scale.py --nodes 100 300 --seconds 10
    python sim-harness/benchmarks/scale.py --with-3000           # adds N = 3000
    python sim-harness/benchmarks/scale.py --nodes 1000 --profile scale.prof   # cProfile of one in-process run
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import pkgutil
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ipv8.messaging.lazy_payload import VariablePayload

import a27_ledger
import a27_pos
from a27_harness.labs.lab2 import run_lab2
from a27_harness.scenario import TOPOLOGIES, SimScenario
from a27_ledger import LedgerCommunity
from a27_pos import PosCommunity

VALIDATORS = 20
DEFAULT_NODES = (100, 300, 1000)
LARGE_NODES = 3000
TRANSFERS_PER_SECOND = 10.0
DEFAULT_TOPOLOGY = "ba"
"""Light nodes know a few light peers each (Barabasi-Albert): a complete graph of light nodes is O(N^2) peers by
construction, whatever the protocol sends."""
DEFAULT_SECONDS = 10.0
"""Simulated seconds of transfers per size: the whole benchmark (100, 300, 1000) takes about 3.5 wall minutes."""
CHATTER_SECONDS = 2.0
"""Simulated seconds of the chatter reference run at each size."""
CHATTER = Path(__file__).resolve().parents[2] / "packages" / "a27-netsim" / "benchmarks" / "chatter.py"


def scenario_for(nodes: int, seconds: float, seed: int, topology: str) -> SimScenario:
    """The default PoS scenario with 20 validators, ``nodes - 20`` light nodes and ~10 transfers per second."""
    light_nodes = nodes - VALIDATORS
    return SimScenario(validators=VALIDATORS, light_nodes=light_nodes, duration=seconds, seed=seed,
                       transfer_interval=light_nodes / TRANSFERS_PER_SECOND, topology=topology)


def message_names() -> dict[tuple[str, int], str]:
    """(community id in hex, message id) -> payload class name, for the ledger and pos communities."""
    names = {}
    for package, community in ((a27_ledger, LedgerCommunity), (a27_pos, PosCommunity)):
        for module_info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(module_info.name)
            for value in vars(module).values():
                message_id = getattr(value, "msg_id", None)
                if (isinstance(value, type) and issubclass(value, VariablePayload)
                        and value.__module__ == module.__name__ and isinstance(message_id, int)):
                    names[(community.community_id.hex(), message_id)] = value.__name__
    return names


def peak_rss_mib() -> float:
    """This process's peak resident set in MiB (``VmHWM`` on Linux, ``ru_maxrss`` elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(nodes: int, seconds: float, seed: int, topology: str) -> dict[str, Any]:
    """One Lab 2 run at ``nodes`` nodes; its figures as plain data."""
    marks: dict[str, float] = {}

    def progress(done: float, planned: float, phase: str) -> None:
        now = time.perf_counter()
        marks.setdefault("start", now)
        marks["last"] = now
        print(f"  N={nodes}: {phase} {done:.0f}/{planned:.0f} simulated s, "
              f"{now - marks['start']:.1f} s wall", file=sys.stderr, flush=True)

    started = time.perf_counter()
    result = run_lab2(scenario_for(nodes, seconds, seed, topology), progress)
    total_wall = time.perf_counter() - started
    run_wall = marks["last"] - marks["start"]
    names = message_names()
    blocks = len(result.blocks)
    per_type: Counter[str] = Counter()
    network: dict[str, Any] = result.network
    for kind in network["message_types"]:
        key = (kind["community_id"], kind["message_id"])
        name = names.get(key, f"{(kind['community_id'] or '?')[:8]}/{kind['message_id']}")
        per_type[name] += kind["sent"]["messages"]
    packets = network["totals"]["sent"]["messages"]
    return {
        "nodes": nodes, "topology": topology, "seconds": seconds, "simulated": result.end_time, "grace": result.grace,
        "setup_wall": total_wall - run_wall, "run_wall": run_wall, "wall_per_simulated": run_wall / result.end_time,
        "blocks": blocks, "packets": packets, "us_per_packet": run_wall / packets * 1e6 if packets else 0.0,
        "per_node_per_block": {name: count / nodes / blocks for name, count in sorted(per_type.items())} if blocks
        else {}, "transfers_final": sum(record.outcome == "final" for record in result.transfers),
        "agreed": result.agreed, "peak_rss_mib": peak_rss_mib(),
    }


def _worker(nodes: int, seconds: float, seed: int, topology: str) -> dict[str, Any]:
    print(f"running N={nodes} ({nodes - VALIDATORS} light nodes, {topology}) for {seconds:g} simulated s",
          file=sys.stderr, flush=True)
    completed = subprocess.run([sys.executable, __file__, "--worker", "--nodes", str(nodes), "--seconds", str(seconds),
                                "--seed", str(seed), "--topology", topology],
                               check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"running chatter at N={nodes} for {CHATTER_SECONDS:g} simulated s", file=sys.stderr, flush=True)
    chatter = subprocess.run([sys.executable, str(CHATTER), "--worker", "--nodes", str(nodes), "--seconds",
                              str(CHATTER_SECONDS), "--seed", str(seed)], check=True, stdout=subprocess.PIPE, text=True)
    figures["chatter_us_per_message"] = json.loads(chatter.stdout.strip().splitlines()[-1])["us_per_message"]
    return figures


def table(results: list[dict[str, Any]]) -> str:
    """The results as Markdown: one row per size, then messages per node per block by type."""
    lines = ["| N | simulated s (grace) | wall s / simulated s | set-up wall s | blocks | transfers final | "
             "packets / block | us / packet | chatter us / message | peak RSS MiB | agreed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in results:
        per_block = r["packets"] / r["blocks"] if r["blocks"] else float("nan")
        lines.append(f"| {r['nodes']:,} | {r['simulated']:.1f} ({r['grace']:.1f}) | {r['wall_per_simulated']:.1f} | "
                     f"{r['setup_wall']:.1f} | {r['blocks']} | {r['transfers_final']} | {per_block:,.0f} | "
                     f"{r['us_per_packet']:.0f} | {r['chatter_us_per_message']:.0f} | {r['peak_rss_mib']:,.0f} | "
                     f"{'yes' if r['agreed'] else 'NO'} |")
    kinds = sorted({kind for r in results for kind in r["per_node_per_block"]})
    lines += ["", "Messages sent per node per block, by type:", "",
              "| message | " + " | ".join(f"N={r['nodes']:,}" for r in results) + " |",
              "|:---|" + "---:|" * len(results)]
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(f"{r['per_node_per_block'].get(kind, 0.0):.2f}" for r in results)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run each size (and its chatter reference) in subprocesses and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=list(DEFAULT_NODES),
                        help=f"network sizes, validators included (default {' '.join(map(str, DEFAULT_NODES))})")
    parser.add_argument("--with-3000", action="store_true", help=f"also run N = {LARGE_NODES}")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"simulated seconds of transfers per size (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--topology", default=DEFAULT_TOPOLOGY, choices=TOPOLOGIES,
                        help=f"who knows whom among light nodes (default {DEFAULT_TOPOLOGY}; the scenario default, "
                             "complete, gives every light node N - 21 light peers)")
    parser.add_argument("--profile", metavar="FILE", help="profile one in-process run (the first size) into FILE")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [*args.nodes, *([LARGE_NODES] if args.with_3000 else [])]
    if any(size <= VALIDATORS for size in sizes):
        parser.error(f"every size must exceed the {VALIDATORS} validators")
    if args.worker:
        print(json.dumps(run_size(sizes[0], args.seconds, args.seed, args.topology)))
        return 0
    if args.profile:
        cProfile.runctx("run_size(nodes, seconds, seed, topology)", globals(),
                        {"nodes": sizes[0], "seconds": args.seconds, "seed": args.seed, "topology": args.topology},
                        args.profile)
        print(f"profile written to {args.profile}", file=sys.stderr)
        return 0
    print(table([_worker(size, args.seconds, args.seed, args.topology) for size in sizes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
