"""Lab 2 in one file: four validators, one staking ten times as much as each other; who proposes the blocks?

Runs the same network under both proposer strategies on the in-memory bus (two simulated minutes each, 5% message
loss), sends one transfer, and prints each validator's stake share, share of finalized blocks, and balance.

Run: python examples/stake_weights.py
"""

from __future__ import annotations

from collections import Counter

from a27_ledger import sign_transfer
from a27_pos import MessageBus, PosParams, make_engines
from a27_pos.testing import make_validators

STAKES = [100_000, 10_000, 10_000, 10_000]


def main() -> None:
    """Run both strategies and print what happened."""
    for strategy in ("weighted-round-robin", "lottery"):
        keys, genesis = make_validators(4, STAKES, seed=2027, params=PosParams(proposer_strategy=strategy))
        bus = MessageBus(make_engines(keys, genesis), seed=2027, loss=0.05)
        transfer = sign_transfer(keys[1], keys[2].public_key, 500, 0, fee=2)
        bus.submit(transfer)
        bus.run(120.0)
        chain = bus.engines[0].chain
        blocks = [chain.block(height) for height in range(1, chain.height + 1)]
        proposed = Counter(block.proposer for block in blocks if block is not None)
        print(f"{strategy}: {chain.height} blocks, transfer final after {bus.committed_at[0][transfer.tx_id]:.2f} s")
        validators = chain.validator_set(chain.height + 1)
        for index, key in enumerate(keys):
            if validators.has_quorum(validators.power(key.public_key)):
                print(f"  n{index} alone holds more than 2/3 of the stake: its votes finalize blocks by themselves")
        print(f"  {'validator':9} {'stake':>8} {'blocks':>7} {'balance':>10}")
        for index, key in enumerate(keys):
            stake, share = STAKES[index] / sum(STAKES), proposed[key.public_key] / chain.height
            print(f"  n{index:<8} {stake:8.1%} {share:7.1%} {chain.state.balance(key.public_key):10}")
        for engine in bus.engines:
            engine.chain.check_invariants()
        assert bus.finalized_conflicts() == []


if __name__ == "__main__":
    main()
