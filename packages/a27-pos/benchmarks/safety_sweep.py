"""Safety and liveness over many seeds on the in-memory bus, beyond what the unit tests run.

Each seed draws 4 to 7 validators with random stakes, Byzantine validators (silent or equivocating) holding less
than a third of the stake, message loss, delays, and one partition that heals. A run fails if two honest nodes
finalize different blocks at one height (safety) or if no honest node finalizes anything after the partition heals
(liveness). Exits with status 1 if any run fails.

Run: python benchmarks/safety_sweep.py [--seeds 60] [--first 0] [--seconds 180]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from a27_ledger import sign_transfer
from a27_pos import MessageBus, PosParams, make_engines
from a27_pos.testing import make_validators

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from byzantine import Equivocate, Silent


def run(seed: int, seconds: float) -> tuple[str, bool, bool, int]:
    """One seeded run: (description, safe, live, blocks after healing)."""
    rng = random.Random(f"a27-pos/sweep/{seed}")
    count = rng.randint(4, 7)
    stakes = [rng.randint(1_000, 5_000) for _ in range(count)]
    strategy = rng.choice(["weighted-round-robin", "lottery"])
    keys, genesis = make_validators(count, stakes, seed=seed, params=PosParams(proposer_strategy=strategy))
    total = sum(stakes)
    behaviours: dict[int, Silent | Equivocate] = {}
    byzantine = 0
    for index in rng.sample(range(count), count):
        if 3 * (byzantine + stakes[index]) < total and rng.random() < 0.6:
            behaviours[index] = rng.choice([Silent, Equivocate])()
            byzantine += stakes[index]
    loss = rng.choice([0.0, 0.1, 0.2, 0.3])
    max_delay = rng.choice([0.05, 0.3, 1.0])
    bus = MessageBus(make_engines(keys, genesis, behaviours=behaviours), seed=seed, max_delay=max_delay, loss=loss)
    side = set(rng.sample(range(count), count // 2))
    start, end = rng.uniform(0, 10), rng.uniform(10, 30)
    bus.partition(start, end, [side, set(range(count)) - side])
    for index in range(60):
        sender = keys[index % count]
        bus.at(index * 0.5, partial(bus.submit, sign_transfer(sender, keys[(index + 1) % count].public_key, 1,
                                                              index // count)))
    bus.run(end)
    healed_at = max(bus.engines[index].chain.height for index in bus.honest)
    bus.run(seconds)
    after = max(bus.engines[index].chain.height for index in bus.honest) - healed_at
    described = (f"seed {seed}: {count} validators, {strategy}, byzantine {byzantine}/{total} "
                 f"{sorted((index, behaviour.name) for index, behaviour in behaviours.items())}, loss {loss:.0%}, "
                 f"delay <= {max_delay} s, partition {start:.1f}..{end:.1f} s")
    return described, not bus.finalized_conflicts(), after > 0, after


def main(argv: Sequence[str] | None = None) -> None:
    """Run the seeds; print failures and a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=180.0, help="simulated seconds per run")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    failures = 0
    progress = []
    for seed in range(arguments.first, arguments.first + arguments.seeds):
        described, safe, live, after = run(seed, arguments.seconds)
        progress.append(after)
        if not (safe and live):
            failures += 1
            print(f"FAILED ({'unsafe' if not safe else 'no progress'}): {described}")
    print(f"{arguments.seeds} runs, {failures} failed; blocks finalized after healing: min {min(progress)}, "
          f"mean {sum(progress) / len(progress):.1f}; {time.perf_counter() - started:.0f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
