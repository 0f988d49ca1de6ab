"""ChannelDefences: the switches, and what each defence does inside the node (the attacks themselves are in
a27-attacks' tests)."""

from __future__ import annotations

import attrs
import pytest

import a27_channels
from a27_channels import (
    ChannelDefences,
    ChannelNetwork,
    ChannelRefused,
    ChannelTerms,
    FailureCause,
    ForwardDecision,
    HonestChannelBehaviour,
    HopInstruction,
    Htlc,
    InputRefused,
    NodeParams,
    OpenProposal,
    PaymentFailed,
    PaymentSucceeded,
)

DEPOSIT = 100_000


class Holds(HonestChannelBehaviour):
    """Holds every HTLC it should forward and never releases a preimage."""

    def forward_htlc(self, channel_id: bytes, htlc: Htlc, hop: HopInstruction) -> ForwardDecision:
        """Hold."""
        return ForwardDecision.HOLD

    def release_preimage(self, channel_id: bytes, htlc: Htlc, preimage: bytes) -> bool:
        """Never."""
        return False


def test_every_defence_is_on_by_default_and_none_switches_all_off() -> None:
    names = [field.name for field in attrs.fields(ChannelDefences)]
    assert names == ["penalty", "watchtower", "avoid_failed_hops", "slot_quota", "proposer_funds"]
    assert all(getattr(ChannelDefences(), name) for name in names)
    assert not any(getattr(ChannelDefences.none(), name) for name in names)
    assert NodeParams().defences == ChannelDefences() and "ChannelDefences" in a27_channels.__all__


def proposal(network: ChannelNetwork, opener: int, target: int, deposit: int, salt: int) -> OpenProposal:
    node = network.nodes[target]
    terms = ChannelTerms(network.keys[opener].public_key, node.account, deposit, 0, 20, node.height + 20, salt)
    return OpenProposal(terms, terms.initial_state().sign(network.keys[opener]))


@pytest.mark.parametrize("proposer_funds", [True, False])
def test_a_proposal_is_refused_when_the_proposer_cannot_fund_it_and_its_other_unfunded_ones(
        proposer_funds: bool) -> None:
    params = NodeParams(accept_deposit_up_to=DEPOSIT, defences=ChannelDefences(proposer_funds=proposer_funds))
    network = ChannelNetwork(2, seed=8, balance=1_000_000, params=params)
    target = network.nodes[0]
    target.on_message(network.keys[1].public_key, proposal(network, 1, 0, 600_000, 0))
    second = proposal(network, 1, 0, 600_000, 1)
    if proposer_funds:
        with pytest.raises(InputRefused) as refused:
            target.on_message(network.keys[1].public_key, second)
        assert isinstance(refused.value.error, ChannelRefused)
        assert target.stats["open proposals refused: proposer cannot fund"] == 1
        assert len(target.book.entries) == 1
        target.on_message(network.keys[1].public_key, proposal(network, 1, 0, 400_000, 2))
    else:
        target.on_message(network.keys[1].public_key, second)
    assert len(target.book.entries) == 2


@pytest.mark.parametrize("slot_quota", [True, False])
def test_htlcs_forwarded_for_one_upstream_peer_take_at_most_its_quota_of_an_outgoing_channels_slots(
        slot_quota: bool) -> None:
    params = NodeParams(accept_deposit_up_to=DEPOSIT, max_forwarded_htlcs_per_peer=2,
                        defences=ChannelDefences(slot_quota=slot_quota))
    network = ChannelNetwork(4, seed=9, params=params, behaviours={2: Holds()})
    _, onward, _ = network.open_edges([(0, 1), (1, 2), (3, 1)], DEPOSIT)
    first = [network.pay(0, 2, 10) for _ in range(4)]
    forwarder = network.nodes[1]
    offered = sum(1 for htlc in forwarder.channel(onward).state.htlcs if htlc.offerer == 0)
    assert offered == (2 if slot_quota else 4)
    refused = [network.outcome(payment_hash) for payment_hash in first if network.outcome(payment_hash) is not None]
    assert len(refused) == (2 if slot_quota else 0)
    assert all(isinstance(outcome, PaymentFailed) and outcome.failure.cause is FailureCause.CHANNEL_FAILURE
               for outcome in refused)
    assert forwarder.stats["htlcs refused: slot quota"] == (2 if slot_quota else 0)
    # Another upstream peer has its own quota on the same channel.
    network.pay(3, 2, 10)
    assert sum(1 for htlc in forwarder.channel(onward).state.htlcs if htlc.offerer == 0) == offered + 1


@pytest.mark.parametrize("avoid_failed_hops", [True, False])
def test_a_timed_out_payment_is_retried_around_the_node_that_held_it(avoid_failed_hops: bool) -> None:
    params = NodeParams(accept_deposit_up_to=DEPOSIT, defences=ChannelDefences(avoid_failed_hops=avoid_failed_hops))
    network = ChannelNetwork(6, seed=10, params=params, behaviours={1: Holds()})
    # Cheapest first: 0-1-2; then 0-3-1-2 (through the holder again) and 0-4-5-2.
    network.open_edges([(0, 1), (1, 2), (0, 3), (3, 1), (0, 4), (4, 5), (5, 2)], DEPOSIT)
    payment_hash = network.pay(0, 2, 1_000)
    for _ in range(40):
        if network.outcome(payment_hash) is not None:
            break
        network.mine()
    outcome = network.outcome(payment_hash)
    holder = network.nodes[1].account
    if avoid_failed_hops:
        assert isinstance(outcome, PaymentSucceeded) and outcome.attempts == 2 and outcome.route is not None
        assert all(hop.node != holder for hop in outcome.route.hops)
    else:
        assert isinstance(outcome, PaymentFailed) and outcome.failure.cause is FailureCause.TIMEOUT
        assert outcome.failure.node == holder and outcome.attempts == 1
