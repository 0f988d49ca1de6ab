"""What the defence ``ledger.conflicting_nonces`` costs a Lab 1 node under no attack: log entries followed per second.

A follower replica (a light node) follows the logs of two validators that logged honest random transfers between
50 accounts (even positions from one, odd from the other), with the defence on and off. Signatures are verified as
in a node; the signature cache is cleared before each run. Rounds are interleaved (off then on, on then off, ...)
and medians reported, because shared machines are noisy.

Run: python benchmarks/conflicting_nonces.py [--transactions 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Sequence

from a27_ledger import LedgerDefences, LedgerReplica, LedgerState, Transaction, decoded_objects, signature_cache
from a27_ledger.testing import make_genesis, make_keys, random_transfers


def follow(transactions: Sequence[Transaction], validators: Sequence[bytes], own_key: bytes,
           defences: LedgerDefences, state: LedgerState) -> float:
    """Entries per second of one follower following ``transactions`` logged alternately by two validators."""
    replica = LedgerReplica(state, validators, own_key, defences=defences)
    signature_cache.clear()
    decoded_objects.clear()
    gc.collect()
    started = time.perf_counter()
    for index, transaction in enumerate(transactions):
        replica.receive_entry(validators[index % 2], index // 2 + 1, transaction, index * 0.001)
    elapsed = time.perf_counter() - started
    if replica.state.applied_count != len(transactions):
        raise RuntimeError("the follower did not apply every transfer")
    return len(transactions) / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the interleaved rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=5000, help="transfers per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    keys = make_keys(52, seed=5)
    validators, follower, accounts = keys[:2], keys[2], keys[2:]
    genesis = make_genesis(keys, validators=validators)
    transactions = list(random_transfers(accounts, LedgerState.from_genesis(genesis), random.Random(1),
                                         args.transactions))
    # Each sender submits to one validator (by its key's first byte), so each log keeps its senders' nonce order;
    # credits from the other log may arrive later and wait, as on a real node.
    logs = [tx for tx in transactions if tx.sender[0] % 2 == 0], [tx for tx in transactions if tx.sender[0] % 2]
    interleaved = [tx for pair in zip(*logs, strict=False) for tx in pair]
    results: dict[str, list[float]] = {"off": [], "on": []}
    runs = [("off", LedgerDefences.none()), ("on", LedgerDefences())]
    for round_number in range(args.rounds):
        # Alternate which goes first, so that neither always pays for a cold start.
        for name, defences in runs if round_number % 2 == 0 else runs[::-1]:
            rate = follow(interleaved, [key.public_key for key in validators], follower.public_key, defences,
                          LedgerState.from_genesis(genesis))
            results[name].append(rate)
    off = statistics.median(results["off"])
    print(f"{len(interleaved)} entries, {args.rounds} rounds, median entries/s")
    print("| ledger.conflicting_nonces | entries/s | of off |")
    print("|---|---:|---:|")
    for name in ("off", "on"):
        rate = statistics.median(results[name])
        print(f"| {name} | {rate:.0f} | {rate / off:.0%} |")


if __name__ == "__main__":
    main()
