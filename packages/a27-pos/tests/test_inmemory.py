"""The in-memory network: seeded runs, partitions, behaviours through the seam, block sync in height order."""

from __future__ import annotations

from byzantine import Silent

from a27_ledger import sign_transfer
from a27_pos import PREVOTE, HonestBehaviour, MessageBus, PosParams, Vote, make_engines
from a27_pos.inmemory import Partition
from a27_pos.testing import make_validators


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
    bus = MessageBus(make_engines(keys, genesis, observers=1, behaviours={3: Silent()}), seed=7)
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




def test_served_blocks_that_arrive_out_of_order_are_applied_in_height_order() -> None:
    keys, genesis = make_validators(4, seed=9)
    bus = MessageBus(make_engines(keys, genesis), seed=9)
    bus.partition(0.0, 100.0, [[0, 1, 2], [3]])
    bus.run(30.0)
    source, lagging = bus.engines[0].chain, bus.engines[3]
    assert source.height >= 3 and lagging.chain.height == 0
    for height, delay in ((3, 0.01), (2, 0.02), (1, 0.03)):
        block, certificate = source.block(height), source.certificate(height)
        assert block is not None and certificate is not None
        bus.deliver_block(3, block, certificate, delay)
    bus.run(bus.now + 0.04)
    assert lagging.chain.height >= 3
    assert [block.height for block in bus.commits[3][:3]] == [1, 2, 3]
    assert bus.syncs[3].buffered == 0


def test_an_explicit_honest_behaviour_runs_exactly_as_the_default() -> None:
    keys, genesis = make_validators(4, seed=10)
    runs = []
    for behaviours in (None, {index: HonestBehaviour() for index in range(4)}):
        bus = MessageBus(make_engines(keys, genesis, behaviours=behaviours), seed=10, loss=0.1)
        bus.submit(sign_transfer(keys[0], keys[1].public_key, 1, 0))
        bus.run(10.0)
        runs.append(([[block.block_id for block in blocks] for blocks in bus.commits], bus.messages_sent))
        assert bus.honest == [0, 1, 2, 3]
    assert runs[0] == runs[1]
