"""Finalized blocks validated and applied per second, against the raw libnacl verify rate of the same signatures.

What a syncing node does per block: decode the block and its certificate, verify the certificate (one signature
per signer), check the header and the Merkle roots, dry-run the transactions (verifying every signature), then
store the block and apply it. The baseline verifies the same signatures (transactions, certificate, proposer) with
bare libnacl calls. The process-wide caches (`a27_ledger.cache`) are cleared before each run, so every block is new
to them, except in the "seen before" run, which follows blocks the previous run already decoded and verified (what
every simulated follower but the first does). Rounds are interleaved and medians reported; ratios are per round.

Run: python benchmarks/block_validation.py [--blocks 20] [--transactions 200] [--validators 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import libnacl

from a27_ledger import SIGNING_DOMAIN, SQLiteStore, decoded_objects, signature_cache
from a27_ledger.testing import make_keys, random_transfers
from a27_pos import BLOCK_DOMAIN, PRECOMMIT, Block, Chain, CommitCertificate, PosParams, SQLiteChainStore
from a27_pos.testing import extend, make_pos_genesis
from a27_pos.votes import vote_signing_bytes


def main(argv: Sequence[str] | None = None) -> None:
    """Build a chain, then time followers applying it from bytes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--transactions", type=int, default=200, help="transfers per block")
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)

    keys = make_keys(arguments.validators + arguments.accounts, seed=arguments.seed)
    validators = keys[: arguments.validators]
    params = PosParams(max_block_transactions=max(arguments.transactions, 1), max_block_bytes=2**31)
    genesis = make_pos_genesis(keys, [10_000] * arguments.validators, params=params)
    source = Chain.start(genesis)
    rng = random.Random(arguments.seed)
    for _ in range(arguments.blocks):
        transfers = list(random_transfers(keys, source.state, rng, arguments.transactions, max_fee=3))
        extend(source, validators, transfers)
    encoded = []
    for height in range(1, arguments.blocks + 1):
        block, certificate = source.block(height), source.certificate(height)
        assert block is not None and certificate is not None
        encoded.append((block.encode(), certificate.encode()))
    signatures = _signatures(source, arguments.blocks)
    transactions = arguments.blocks * arguments.transactions

    workspace = tempfile.TemporaryDirectory(prefix="a27-pos-bench-")
    directory = Path(workspace.name)
    databases = iter(range(10**9))

    def baseline() -> None:
        verify = libnacl.crypto_sign_verify_detached
        for signature, message, public_key in signatures:
            verify(signature, message, public_key)

    def follow(make_chain: Callable[[], Chain]) -> Callable[[], None]:
        def run() -> None:
            chain = make_chain()
            registry = chain.state.registry
            for block_bytes, certificate_bytes in encoded:
                chain.apply_synced(Block.decode(block_bytes, registry), CommitCertificate.decode(certificate_bytes))
            if chain.state.snapshot().digest() != source.state.snapshot().digest():
                raise SystemExit("the follower's state differs from the source's")
            chain.check_invariants()
            chain.state.close()
            chain.store.close()

        return run

    def sqlite_chain() -> Chain:
        number = next(databases)
        return Chain.start(genesis, SQLiteStore(directory / f"ledger-{number}.db"),
                           SQLiteChainStore(directory / f"chain-{number}.db", source.state.registry))

    runs = {
        "raw libnacl verify": baseline,
        "memory stores": follow(lambda: Chain.start(genesis)),
        "memory, seen before": follow(lambda: Chain.start(genesis)),
        "SQLite stores": follow(sqlite_chain),
    }
    timings: dict[str, list[float]] = {name: [] for name in runs}
    with workspace:
        for _ in range(arguments.rounds):
            for name, run in runs.items():
                if name != "memory, seen before":
                    signature_cache.clear()
                    decoded_objects.clear()
                gc.collect()
                started = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - started)

    baselines = timings["raw libnacl verify"]
    print(f"{arguments.blocks} blocks of {arguments.transactions} transfers, {arguments.validators} validators "
          f"({len(signatures)} signatures), median of {arguments.rounds} interleaved rounds")
    print(f"{'':22} {'blocks/s':>9} {'tx/s':>8} {'of raw verify':>14}")
    for name, seconds in timings.items():
        ratio = statistics.median(base / spent for spent, base in zip(seconds, baselines, strict=True))
        median = statistics.median(seconds)
        print(f"{name:22} {arguments.blocks / median:9.1f} {transactions / median:8.0f} {ratio:14.0%}")


def _signatures(chain: Chain, blocks: int) -> list[tuple[bytes, bytes, bytes]]:
    """Every signature a follower checks: transactions, certificates, proposers."""
    signatures = []
    for height in range(1, blocks + 1):
        block, certificate = chain.block(height), chain.certificate(height)
        assert block is not None and certificate is not None
        signatures += [(tx.signature, SIGNING_DOMAIN + tx.signing_bytes(), tx.sender) for tx in block.transactions]
        message = vote_signing_bytes(chain.chain_id, PRECOMMIT, certificate.height, certificate.round,
                                     certificate.block_id)
        signatures += [(item.signature, message, item.validator) for item in certificate.signatures]
        signatures.append((block.signature, BLOCK_DOMAIN + block.header.encode(), block.proposer))
    return signatures


if __name__ == "__main__":
    main()
