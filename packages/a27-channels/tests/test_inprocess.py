"""The in-memory runtime (inprocess.ChannelNetwork): deterministic for a seed, per-node behaviours."""

from __future__ import annotations

from test_behaviour import HoldsHtlcs

from a27_channels import HONEST, ChannelNetwork, NodeParams


def test_networks_repeat_exactly_for_a_seed() -> None:
    def run() -> list[str]:
        network = ChannelNetwork(4, seed=21)
        network.open_edges([(0, 1), (1, 2), (2, 3), (0, 3)], 20_000)
        for payer, payee in ((0, 2), (3, 1), (1, 3)):
            network.pay(payer, payee, 3_000)
        return [repr(event) for _, event in network.events]

    first = run()
    assert first == run()
    assert len(first) > 8


def test_behaviours_apply_to_their_positions_and_survive_a_restart() -> None:
    holder = HoldsHtlcs()
    network = ChannelNetwork(3, seed=2, behaviours={1: holder})
    assert [node.params.behaviour for node in network.nodes] == [HONEST, holder, HONEST]
    assert network.nodes[0].params == NodeParams(accept_deposit_up_to=1_000_000)
    assert network.restart(1, network.nodes[1].store).params.behaviour is holder


def test_open_edges_takes_one_deposit_per_edge() -> None:
    network = ChannelNetwork(3, seed=5)
    first, second = network.open_edges([(0, 1), (1, 2)], [7_000, 30_000])
    assert (network.nodes[0].channel(first).state.balance_a, network.nodes[0].channel(first).state.balance_b) == \
        (7_000, 7_000)
    assert (network.nodes[1].channel(second).state.balance_a, network.nodes[1].channel(second).state.balance_b) == \
        (30_000, 30_000)
    (only,) = network.open_edges([(0, 2)], 4_000, peer_deposit=1_000)
    assert (network.nodes[0].channel(only).state.balance_a, network.nodes[0].channel(only).state.balance_b) == \
        (4_000, 1_000)
