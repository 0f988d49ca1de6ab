"""
What a flood of channel-open proposals that are never funded costs the node that receives them.

Node 0 has three open channels (to nodes 1, 2 and 3). Then `--proposals` valid open proposals arrive from `--keys`
other accounts, none of which will ever fund them. The script counts how many were accepted, and times the node's
per-tick work (`on_tick`, which runs every `tick_interval`) and per-block work (`on_block`, every finalized block),
before the flood, after it, and once the proposals' funding deadline (20 blocks) has passed: medians over
`--repeat` calls.

    python benchmarks/unfunded_opens.py [--proposals 5000] [--keys 100] [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from a27_channels import ChannelNetwork, ChannelNode, ChannelTerms, InputRefused, OpenProposal
from a27_ledger.testing import make_keys


def work(node: ChannelNode, height: int, repeat: int) -> tuple[float, float]:
    """Median milliseconds of one `on_tick` and of one `on_block` (an empty block at `height`)."""
    ticks, blocks = [], []
    for round_number in range(repeat):
        started = time.perf_counter()
        node.on_tick(1_000.0 + round_number)
        ticks.append(time.perf_counter() - started)
        started = time.perf_counter()
        node.on_block(height, ())
        blocks.append(time.perf_counter() - started)
    return statistics.median(ticks) * 1_000, statistics.median(blocks) * 1_000


def main() -> None:
    """Flood node 0 and print the channel count and the work per tick and per block before and after."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=5_000)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=50)
    arguments = parser.parse_args()
    network = ChannelNetwork(4, seed=11)
    network.open_edges([(0, 1), (0, 2), (0, 3)], 10_000)
    node = network.nodes[0]
    height = network.chain.height
    tick_before, block_before = work(node, height, arguments.repeat)
    channels_before = len(node.book.entries)
    attackers = make_keys(arguments.keys, seed=12)
    accepted = 0
    for number in range(arguments.proposals):
        attacker = attackers[number % len(attackers)]
        terms = ChannelTerms(attacker.public_key, node.account, 1_000, 0, 20, height + 20, number)
        try:
            node.on_message(attacker.public_key, OpenProposal(terms, terms.initial_state().sign(attacker)))
            accepted += 1
        except InputRefused:
            pass
    tick_after, block_after = work(node, height, arguments.repeat)
    channels_after = len(node.book.entries)
    network.mine(20)
    tick_deadline, block_deadline = work(node, network.chain.height, arguments.repeat)
    print(f"{arguments.proposals} unfunded proposals from {arguments.keys} keys: {accepted} accepted, "
          f"{arguments.proposals - accepted} refused")
    print(f"{'':10} {'channels':>9} {'ms/tick':>9} {'ms/block':>9}")
    print(f"{'before':10} {channels_before:>9} {tick_before:>9.3f} {block_before:>9.3f}")
    print(f"{'after':10} {channels_after:>9} {tick_after:>9.3f} {block_after:>9.3f}")
    print(f"{'deadline':10} {len(node.book.entries):>9} {tick_deadline:>9.3f} {block_deadline:>9.3f}")


if __name__ == "__main__":
    main()
