"""The fixtures: genesis builders, certificates, chains and the loop clock."""

from __future__ import annotations

import asyncio

from a27_pos import Chain
from a27_pos.testing import LoopClock, certify, extend, make_validators


def test_make_validators_is_deterministic_and_stakes_everyone() -> None:
    keys, genesis = make_validators(3, [1_000, 2_000, 3_000], seed=4)
    again, same = make_validators(3, [1_000, 2_000, 3_000], seed=4)
    assert keys == again and genesis == same
    assert dict(genesis.stakes) == {keys[0].public_key: 1_000, keys[1].public_key: 2_000, keys[2].public_key: 3_000}
    assert genesis.ledger.names[keys[2].public_key] == "n2"


def test_certify_and_extend_build_a_valid_chain() -> None:
    keys, genesis = make_validators(4, seed=4)
    chain = Chain.start(genesis)
    block = extend(chain, keys)
    certificate = chain.certificate(1)
    assert certificate == certify(block, keys)
    assert certificate is not None
    certificate.verify(chain.validator_set(1), genesis.chain_id)


def test_a_loop_clock_reads_its_start_then_follows_the_running_loop() -> None:
    async def readings() -> tuple[float, float, float]:
        clock = LoopClock(1e9)
        first = clock()
        loop_before = asyncio.get_running_loop().time()
        await asyncio.sleep(0.05)
        return first, clock() - first, asyncio.get_running_loop().time() - loop_before

    first, elapsed, loop_elapsed = asyncio.run(readings())
    assert first == 1e9
    assert loop_elapsed - 0.01 <= elapsed <= loop_elapsed + 0.01
