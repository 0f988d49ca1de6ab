"""The fixtures: genesis builders, certificates, and the deterministic message bus."""

from __future__ import annotations

import asyncio

from a27_ledger import sign_transfer
from a27_pos import PREVOTE, Chain, PosParams, Vote
from a27_pos.testing import Behaviour, LoopClock, MessageBus, Partition, certify, extend, make_engines, make_validators


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


def run(seed: int) -> MessageBus:
    keys, genesis = make_validators(4, seed=seed)
    bus = MessageBus(make_engines(keys, genesis), seed=seed, loss=0.2, max_delay=0.5)
    bus.submit(sign_transfer(keys[0], keys[1].public_key, 1, 0))
    bus.run(15.0)
    return bus


def test_one_seed_fixes_the_whole_run() -> None:
    first, second = run(3), run(3)
    assert [[block.block_id for block in blocks] for blocks in first.commits] == [
        [block.block_id for block in blocks] for blocks in second.commits]
    assert first.messages_sent == second.messages_sent
    assert [block.block_id for block in run(4).commits[0]] != [block.block_id for block in first.commits[0]]


def test_partitions_separate_groups_only_while_they_last() -> None:
    partition = Partition(1.0, 2.0, (frozenset({0, 1}), frozenset({2})))
    assert partition.separates(1.5, 0, 2)
    assert not partition.separates(1.5, 0, 1)
    assert partition.separates(1.5, 0, 3)
    assert not partition.separates(2.0, 0, 2)


def test_a_fully_partitioned_network_makes_no_progress_and_recovers() -> None:
    keys, genesis = make_validators(4, seed=6)
    bus = MessageBus(make_engines(keys, genesis), seed=6)
    bus.partition(0.0, 10.0, [[0], [1], [2], [3]])
    bus.run(10.0)
    assert bus.min_height() == 0
    bus.run(20.0)
    assert bus.min_height() > 0


def test_silent_nodes_send_nothing_and_observers_follow() -> None:
    keys, genesis = make_validators(4, seed=7, params=PosParams())
    bus = MessageBus(make_engines(keys, genesis, observers=1), seed=7, behaviours={3: Behaviour.SILENT})
    bus.run(10.0)
    assert bus.honest == [0, 1, 2, 4]
    assert bus.engines[4].key is None
    assert bus.commits[4] and bus.commits[4] == bus.commits[0][: len(bus.commits[4])]


def test_crafted_messages_reach_one_node() -> None:
    keys, genesis = make_validators(4, seed=8)
    bus = MessageBus(make_engines(keys, genesis), seed=8)
    signed = Vote(PREVOTE, 1, 0, bytes(32), keys[1].public_key).signed(keys[1], genesis.chain_id)
    forged = Vote(PREVOTE, 1, 0, bytes(32), keys[0].public_key, signed.signature)
    bus.deliver(2, forged)
    bus.run(0.05)
    assert bus.rejections[(2, "InvalidSignature")] == 1
    assert sum(count for (index, name), count in bus.rejections.items()
               if index != 2 and name == "InvalidSignature") == 0


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
