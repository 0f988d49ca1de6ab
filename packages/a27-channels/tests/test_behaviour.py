"""The behaviour seam: behaviours defined here replace honest decisions; the honest nodes' defences still hold."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx

from a27_channels import (
    CHANNEL,
    HONEST,
    Channel,
    ChannelClosed,
    ChannelNetwork,
    ChannelOpened,
    ChannelOpenFailed,
    ChannelRefused,
    ChannelStatus,
    ChannelTerms,
    CloseOutcome,
    FailureCause,
    ForwardDecision,
    HonestChannelBehaviour,
    HopInstruction,
    Htlc,
    NodeParams,
    PaymentFailed,
    PaymentSucceeded,
    SignedState,
    channel_record,
)

DEPOSIT = 100_000


class PublishesSuperseded(HonestChannelBehaviour):
    """Closes a channel on chain with the state recorded in `superseded` for it, if any."""

    def __init__(self) -> None:
        self.superseded: dict[bytes, SignedState] = {}

    def state_to_publish(self, channel: Channel) -> SignedState:
        return self.superseded.get(channel.terms.channel_id, channel.latest)


class HoldsHtlcs(HonestChannelBehaviour):
    """Neither forwards nor fails the HTLCs it is asked to forward."""

    def forward_htlc(self, channel_id: bytes, htlc: Htlc, hop: HopInstruction) -> ForwardDecision:
        return ForwardDecision.HOLD


class WithholdsPreimages(HonestChannelBehaviour):
    """Never fulfils an HTLC off chain."""

    def release_preimage(self, channel_id: bytes, htlc: Htlc, preimage: bytes) -> bool:
        return False


class RefusesOpens(HonestChannelBehaviour):
    """Refuses every channel proposed to it."""

    def accept_open(self, sender: bytes, terms: ChannelTerms, refusal: ChannelRefused | None) -> ChannelRefused | None:
        return ChannelRefused("not with anyone")


class AcceptsEveryOpen(HonestChannelBehaviour):
    """Accepts channels its limits would refuse."""

    def accept_open(self, sender: bytes, terms: ChannelTerms, refusal: ChannelRefused | None) -> ChannelRefused | None:
        return None


def events(network: ChannelNetwork, index: int, kind: type) -> list[Any]:
    return [event for at, event in network.events if at == index and isinstance(event, kind)]


def mine_until_closed(network: ChannelNetwork, channel_id: bytes) -> None:
    record = channel_record(network.chain.state, channel_id)
    while record is None or record.status is not ChannelStatus.CLOSED:
        network.mine()
        record = channel_record(network.chain.state, channel_id)


def fees_paid(network: ChannelNetwork, index: int) -> int:
    return network.chain.state.next_nonce(network.keys[index].public_key) * network.fee


def test_publishing_a_superseded_state_gives_the_whole_channel_to_the_honest_side() -> None:
    cheater = PublishesSuperseded()
    network = ChannelNetwork(2, seed=7, behaviours={0: cheater})
    channel_id = network.open(0, 1, 50_000, 50_000)
    cheater.superseded[channel_id] = network.nodes[0].channel(channel_id).latest
    for _ in range(3):
        network.perform(0, network.nodes[0].pay(channel_id, 10_000))
        network.deliver()
    network.perform(0, network.nodes[0].force_close(channel_id))
    network.mine()
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.published is not None
    assert (record.status, record.published.sequence) == (ChannelStatus.CLOSING, 0)
    mine_until_closed(network, channel_id)
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.outcome is CloseOutcome.PENALTY
    assert network.nodes[1].stats["challenges"] == 1
    assert network.chain.state.escrow(CHANNEL, channel_id) == 0
    state = network.chain.state
    assert state.balance(network.keys[1].public_key) == 1_000_000 - 50_000 + 100_000 - fees_paid(network, 1)
    assert state.balance(network.keys[0].public_key) == 1_000_000 - 50_000 - fees_paid(network, 0)
    assert [event.outcome for event in events(network, 1, ChannelClosed)] == [CloseOutcome.PENALTY]
    network.chain.check_invariants()


def test_an_htlc_held_mid_route_times_the_payment_out_and_is_refunded_on_chain() -> None:
    network = ChannelNetwork(3, seed=1, behaviours={1: HoldsHtlcs()})
    first, second = network.open_edges([(0, 1), (1, 2)], DEPOSIT)
    invoice = network.nodes[2].create_invoice(5_000)
    network.perform(0, network.nodes[0].send_payment(invoice.payee, 5_000, invoice.payment_hash))
    network.deliver()
    (htlc,) = network.nodes[0].channel(first).state.htlcs
    assert network.nodes[1].stats["htlcs held"] == 1
    assert network.nodes[2].channel(second).state.htlcs == ()
    while network.chain.height < htlc.expiry:
        assert network.outcome(invoice.payment_hash) is None
        network.mine()
    outcome = network.outcome(invoice.payment_hash)
    assert isinstance(outcome, PaymentFailed)
    assert (outcome.failure.cause, outcome.failure.channel_id) == (FailureCause.TIMEOUT, first)
    mine_until_closed(network, first)
    record = channel_record(network.chain.state, first)
    assert record is not None and record.outcome is CloseOutcome.UNILATERAL
    assert network.chain.state.escrow(CHANNEL, first) == 0
    payer = network.keys[0].public_key
    assert network.chain.state.balance(payer) == 1_000_000 - fees_paid(network, 0)
    network.chain.check_invariants()


def test_a_payee_withholding_the_preimage_settles_only_on_chain_before_the_expiry() -> None:
    network = ChannelNetwork(2, seed=4, behaviours={1: WithholdsPreimages()})
    channel_id = network.open(0, 1, DEPOSIT)
    invoice = network.nodes[1].create_invoice(5_000)
    network.perform(0, network.nodes[0].send_payment(invoice.payee, 5_000, invoice.payment_hash))
    network.deliver()
    assert network.nodes[1].stats["preimages withheld"] == 1
    (htlc,) = network.nodes[0].channel(channel_id).state.htlcs
    while network.outcome(invoice.payment_hash) is None:
        assert network.chain.height < htlc.expiry
        network.mine()
    assert isinstance(network.outcome(invoice.payment_hash), PaymentSucceeded)
    mine_until_closed(network, channel_id)
    payee = network.keys[1].public_key
    assert network.chain.state.balance(payee) == 1_000_000 + 5_000 - fees_paid(network, 1)
    network.chain.check_invariants()


def test_accepting_opens_can_be_replaced_both_ways() -> None:
    network = ChannelNetwork(3, seed=2, params=NodeParams(accept_deposit_up_to=0),
                             behaviours={1: RefusesOpens(), 2: AcceptsEveryOpen()})
    network.open(0, 1, 10_000)
    (failed,) = events(network, 0, ChannelOpenFailed)
    assert failed.reason == "refused: not with anyone"
    channel_id = network.open(0, 2, 10_000, 5_000)
    assert [event.channel_id for event in events(network, 2, ChannelOpened)] == [channel_id]
    assert network.nodes[2].channel(channel_id).balance == 5_000


def run_workload(behaviours: dict[int, HonestChannelBehaviour] | None) -> tuple[object, ...]:
    shape = nx.barabasi_albert_graph(10, 2, seed=3)
    network = ChannelNetwork(10, seed=3, behaviours=behaviours)
    channel_ids = network.open_edges(shape.edges(), 20_000)
    rng = random.Random(3)
    for _ in range(30):
        payer, payee = rng.sample(range(10), 2)
        network.pay(payer, payee, rng.randint(100, 15_000))
    network.perform(0, network.nodes[0].force_close(channel_ids[0]))
    for _ in range(30):
        network.mine()
    return (network.events, [node.stats for node in network.nodes], network.chain.head,
            network.messages)


def test_the_honest_default_is_the_behaviour_of_every_node() -> None:
    assert NodeParams().behaviour is HONEST and isinstance(HONEST, HonestChannelBehaviour)
    default = run_workload(None)
    explicit = run_workload({index: HonestChannelBehaviour() for index in range(10)})
    assert explicit == default
