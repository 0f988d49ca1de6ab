"""Channel nodes over a shared chain (testing.ChannelNetwork): opening, paying, routing, failing, closing, cheating."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import attrs
import networkx as nx
import pytest
from test_behaviour import PublishesSuperseded

from a27_channels import (
    CHANNEL,
    ChannelAnnouncement,
    ChannelClosed,
    ChannelDefences,
    ChannelGraph,
    ChannelNetwork,
    ChannelNode,
    ChannelOpened,
    ChannelOpenFailed,
    ChannelPolicy,
    ChannelRefused,
    ChannelReject,
    ChannelStatus,
    ChannelTerms,
    CloseOutcome,
    DirectPaymentDone,
    DirectPaymentFailed,
    FailureCause,
    HtlcClaim,
    InputRefused,
    InvalidAnnouncement,
    InvalidChannelState,
    LocalStatus,
    NodeParams,
    OpenProposal,
    Pay,
    PaymentFailed,
    PaymentReceived,
    PaymentSucceeded,
    Send,
    StaleState,
    UpdateProposal,
    channel_record,
    preimage_height,
)
from a27_ledger import KeyPair, Transaction
from a27_ledger.testing import make_keys

DEPOSIT = 100_000


def line(count: int, *, seed: int = 1, **kwargs: object) -> tuple[ChannelNetwork, list[bytes]]:
    network = ChannelNetwork(count, seed=seed, **kwargs)  # type: ignore[arg-type]
    return network, network.open_edges([(index, index + 1) for index in range(count - 1)], DEPOSIT)


def events(network: ChannelNetwork, index: int, kind: type) -> list[Any]:
    return [event for at, event in network.events if at == index and isinstance(event, kind)]


def check_conservation(network: ChannelNetwork, channel_ids: list[bytes]) -> None:
    """Every channel holds its capacity in balances and HTLCs, on both sides and on chain."""
    for channel_id in channel_ids:
        record = channel_record(network.chain.state, channel_id)
        assert record is not None
        for node in network.nodes:
            if channel_id in node.book.entries and node.book.entries[channel_id].channel is not None:
                assert node.channel(channel_id).state.total() == record.terms.capacity
        if record.status is ChannelStatus.OPEN:
            assert network.chain.state.escrow(CHANNEL, channel_id) == record.terms.capacity
    network.chain.check_invariants()


def test_open_pay_and_close_cooperatively() -> None:
    network = ChannelNetwork(2, seed=3)
    channel_id = network.open(0, 1, 50_000, 20_000)
    assert [type(event) for _, event in network.events] == [ChannelOpened, ChannelOpened]
    assert network.nodes[0].status(channel_id) is LocalStatus.OPEN
    for amount in (1_000, 2_000):
        network.perform(0, network.nodes[0].pay(channel_id, amount))
        network.deliver()
    assert [event.amount for event in events(network, 0, DirectPaymentDone)] == [1_000, 2_000]
    assert [event.amount for event in events(network, 1, PaymentReceived)] == [1_000, 2_000]
    network.perform(0, network.nodes[0].close_channel(channel_id))
    network.deliver()
    network.mine()
    record = channel_record(network.chain.state, channel_id)
    assert record is not None
    assert (record.status, record.outcome) == (ChannelStatus.CLOSED, CloseOutcome.COOPERATIVE)
    assert [event.outcome for event in events(network, 0, ChannelClosed)] == [CloseOutcome.COOPERATIVE]
    state = network.chain.state
    assert state.balance(network.keys[0].public_key) == 1_000_000 - 50_000 - 1 + 47_000
    assert state.balance(network.keys[1].public_key) == 1_000_000 - 20_000 + 23_000 - 1
    network.chain.check_invariants()


def test_a_routed_three_hop_payment_settles_and_pays_every_fee() -> None:
    network, channel_ids = line(4)
    payment_hash = network.pay(0, 3, 5_000)
    outcome = network.outcome(payment_hash)
    assert isinstance(outcome, PaymentSucceeded)
    assert outcome.route is not None
    assert (outcome.attempts, len(outcome.route.hops), outcome.route.fees) == (1, 3, 12)
    assert [event.amount for event in events(network, 3, PaymentReceived)] == [5_000]
    balances = [network.nodes[index].channel(channel_ids[index]).balance for index in range(3)]
    assert balances == [DEPOSIT - 5_012, DEPOSIT - 5_006, DEPOSIT - 5_000]
    assert network.nodes[1].channel(channel_ids[0]).balance == DEPOSIT + 5_012
    assert network.nodes[3].channel(channel_ids[2]).balance == DEPOSIT + 5_000
    assert all(not network.nodes[index].channel(channel_id).state.htlcs
               for index, channel_id in enumerate(channel_ids))
    check_conservation(network, channel_ids)


@pytest.mark.parametrize("hop", [0, 1, 2])
def test_a_hop_without_balance_fails_the_payment_back(hop: int) -> None:
    network = ChannelNetwork(4, seed=hop)
    channel_ids = [network.open(index + 1, index, DEPOSIT) if index == hop else network.open(index, index + 1, DEPOSIT)
                   for index in range(3)]
    payment_hash = network.pay(0, 3, 5_000)
    outcome = network.outcome(payment_hash)
    assert isinstance(outcome, PaymentFailed)
    if hop == 0:
        # The payer knows its own balance: no route is tried.
        assert (outcome.failure.cause, outcome.attempts) == (FailureCause.NO_PATH, 0)
    else:
        assert outcome.failure.cause is FailureCause.INSUFFICIENT_BALANCE
        assert outcome.failure.node == network.keys[hop].public_key
        assert outcome.failure.channel_id == channel_ids[hop]
    for index, channel_id in enumerate(channel_ids):
        channel = network.nodes[index].channel(channel_id)
        assert not channel.state.htlcs
        assert channel.balance == (0 if index == hop else DEPOSIT)
    check_conservation(network, channel_ids)


def test_a_payment_without_a_route_fails_with_no_path() -> None:
    network, _ = line(3)
    payment_hash = network.pay(0, 2, 10 * DEPOSIT)
    outcome = network.outcome(payment_hash)
    assert isinstance(outcome, PaymentFailed)
    assert (outcome.failure.cause, outcome.attempts) == (FailureCause.NO_PATH, 0)


def test_the_payee_refuses_an_unknown_hash_or_a_short_amount() -> None:
    network, channel_ids = line(3)
    invoice = network.nodes[2].create_invoice(5_000)
    for payment_hash, amount in ((invoice.payment_hash, 4_000), (bytes(32), 5_000)):
        network.perform(0, network.nodes[0].send_payment(invoice.payee, amount, payment_hash))
        network.deliver()
        outcome = network.outcome(payment_hash)
        assert isinstance(outcome, PaymentFailed)
        assert (outcome.failure.cause, outcome.failure.node) == (FailureCause.UNKNOWN_PAYMENT, invoice.payee)
    check_conservation(network, channel_ids)


def test_a_payee_that_wants_more_blocks_fails_with_expiry_too_soon() -> None:
    network, _ = line(3)
    network.nodes[2].book.params = attrs.evolve(network.nodes[2].params, min_final_expiry=30)
    outcome = network.outcome(network.pay(0, 2, 5_000))
    assert isinstance(outcome, PaymentFailed)
    assert outcome.failure.cause is FailureCause.EXPIRY_TOO_SOON


def test_a_hop_charging_more_than_it_announced_fails_with_fee_insufficient() -> None:
    network, channel_ids = line(3)
    network.nodes[1].book.params = attrs.evolve(network.nodes[1].params, policy=ChannelPolicy(fee_base=500))
    outcome = network.outcome(network.pay(0, 2, 5_000))
    assert isinstance(outcome, PaymentFailed)
    assert (outcome.failure.cause, outcome.failure.channel_id) == (FailureCause.FEE_INSUFFICIENT, channel_ids[1])


def test_a_failed_attempt_is_retried_on_another_route() -> None:
    network = ChannelNetwork(4, seed=5)
    network.nodes[2].book.params = attrs.evolve(network.nodes[2].params, policy=ChannelPolicy(fee_base=50))
    via_one = [network.open(0, 1, DEPOSIT), network.open(3, 1, DEPOSIT)]
    via_two = [network.open(0, 2, DEPOSIT), network.open(2, 3, DEPOSIT)]
    outcome = network.outcome(network.pay(0, 3, 5_000))
    assert isinstance(outcome, PaymentSucceeded)
    assert outcome.attempts == 2
    assert outcome.route is not None and outcome.route.hops[0].channel_id == via_two[0]
    assert network.nodes[0].stats["payment attempts"] == 2
    check_conservation(network, via_one + via_two)


def test_a_hop_that_never_answers_fails_the_payment_as_offline() -> None:
    network, channel_ids = line(4)
    network.offline.add(2)
    payment_hash = network.pay(0, 3, 5_000)
    for _ in range(network.nodes[1].params.max_retransmits + 1):
        assert network.outcome(payment_hash) is None
        network.tick()
    outcome = network.outcome(payment_hash)
    assert isinstance(outcome, PaymentFailed)
    assert (outcome.failure.cause, outcome.failure.node) == (FailureCause.HOP_OFFLINE, network.keys[2].public_key)
    assert network.nodes[0].channel(channel_ids[0]).balance == DEPOSIT
    assert not network.nodes[1].channel(channel_ids[1]).busy


def deliver_until(network: ChannelNetwork, condition: object) -> None:
    while not condition():  # type: ignore[operator]
        assert network.step(), "ran out of messages"


def test_a_payee_silent_after_the_htlc_is_refunded_on_chain_and_the_payment_times_out() -> None:
    network, channel_ids = line(4, params=None)
    last = channel_ids[2]
    invoice = network.nodes[3].create_invoice(5_000)
    network.perform(0, network.nodes[0].send_payment(invoice.payee, 5_000, invoice.payment_hash))
    deliver_until(network, lambda: bool(network.nodes[3].channel(last).state.htlcs))
    network.offline.add(3)
    network.deliver()
    expiry = network.nodes[2].channel(last).state.htlcs[0].expiry
    while network.chain.height < expiry:
        assert network.outcome(invoice.payment_hash) is None
        network.mine()
    outcome = network.outcome(invoice.payment_hash)
    assert isinstance(outcome, PaymentFailed)
    assert (outcome.failure.cause, outcome.failure.channel_id) == (FailureCause.TIMEOUT, last)
    record = channel_record(network.chain.state, last)
    assert record is not None
    while record.status is not ChannelStatus.CLOSED:
        network.mine()
        record = channel_record(network.chain.state, last)
        assert record is not None
    two = network.keys[2].public_key
    assert network.chain.state.balance(two) == 1_000_000 - DEPOSIT - 3
    assert network.nodes[1].channel(channel_ids[1]).balance == DEPOSIT
    check_conservation(network, channel_ids)


def test_an_upstream_silent_after_the_preimage_is_claimed_on_chain() -> None:
    network, channel_ids = line(3)
    first, second = channel_ids
    invoice = network.nodes[2].create_invoice(5_000)
    network.perform(0, network.nodes[0].send_payment(invoice.payee, 5_000, invoice.payment_hash))
    deliver_until(network, lambda: bool(network.nodes[2].channel(second).state.htlcs))
    network.offline.add(1)
    htlc = network.nodes[2].channel(second).state.htlcs[0]
    for _ in range(3):
        network.tick()
    while network.chain.height < htlc.expiry - network.nodes[2].params.claim_margin:
        network.mine()
    network.mine(3)
    assert preimage_height(network.chain.state, invoice.payment_hash) is not None
    outcome = network.outcome(invoice.payment_hash)
    assert isinstance(outcome, PaymentSucceeded)
    record = channel_record(network.chain.state, second)
    assert record is not None
    while record.status is not ChannelStatus.CLOSED:
        network.mine()
        record = channel_record(network.chain.state, second)
        assert record is not None
    assert network.chain.state.escrow(CHANNEL, second) == 0
    payee = network.keys[2].public_key
    assert network.chain.state.balance(payee) == 1_000_000 + 5_000 - 3
    check_conservation(network, [first])


def test_publishing_the_state_before_the_peers_last_proposal_is_only_replaced() -> None:
    publisher = PublishesSuperseded()
    network = ChannelNetwork(2, seed=8, behaviours={1: publisher})
    channel_id = network.open(0, 1, 50_000, 50_000)
    network.perform(1, network.nodes[1].pay(channel_id, 30_000))
    network.deliver()
    publisher.superseded[channel_id] = network.nodes[1].channel(channel_id).latest
    network.perform(0, network.nodes[0].pay(channel_id, 10_000))
    network.deliver()
    network.perform(1, network.nodes[1].force_close(channel_id))
    network.mine(2)
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.published is not None
    assert (record.status, record.published.sequence, record.publisher) == (ChannelStatus.CLOSING, 2, 0)
    while record.status is not ChannelStatus.CLOSED:
        network.mine()
        record = channel_record(network.chain.state, channel_id)
        assert record is not None
    assert record.outcome is CloseOutcome.UNILATERAL
    assert record.published is not None
    assert (record.published.balance_a, record.published.balance_b) == (70_000, 30_000)
    network.chain.check_invariants()


def test_random_payments_then_closing_everything_conserve_every_token() -> None:
    network = ChannelNetwork(7, seed=13)
    edges = list(nx.barabasi_albert_graph(7, 2, seed=random.Random(13)).edges())
    channel_ids = network.open_edges(edges, 40_000)
    rng = random.Random(13)
    for _ in range(30):
        payer, payee = rng.sample(range(7), 2)
        network.pay(payer, payee, rng.randint(100, 15_000))
    succeeded = [event for _, event in network.events if isinstance(event, PaymentSucceeded)]
    assert succeeded and any(isinstance(event, PaymentFailed) for _, event in network.events)
    check_conservation(network, channel_ids)
    net = [0] * 7
    for index, node in enumerate(network.nodes):
        for channel in node.open_channels():
            terms = channel.terms
            net[index] += channel.balance - (terms.deposit_a if channel.party == 0 else terms.deposit_b)
    assert sum(net) == 0
    sent = sum(event.route.amount for event in succeeded if event.route is not None)
    received = sum(event.amount for _, event in network.events if isinstance(event, PaymentReceived))
    fees = sum(event.route.fees for event in succeeded if event.route is not None)
    assert sent == received + fees
    for index, node in enumerate(network.nodes):
        for channel_id in sorted(node.book.entries):
            if node.status(channel_id) is LocalStatus.OPEN and node.book.entries[channel_id].party == 0:
                network.perform(index, node.close_channel(channel_id))
    network.deliver()
    network.mine()
    for channel_id in channel_ids:
        record = channel_record(network.chain.state, channel_id)
        assert record is not None and record.status is ChannelStatus.CLOSED
        assert record.published is not None and record.published.total() == record.terms.capacity
        assert network.chain.state.escrow(CHANNEL, channel_id) == 0
    network.chain.check_invariants()


@pytest.mark.parametrize("seed", [17, 18, 19])
def test_payments_both_ways_under_message_loss_keep_both_sides_in_agreement(seed: int) -> None:
    network = ChannelNetwork(2, seed=seed)
    channel_id = network.open(0, 1, 50_000, 50_000)
    network.loss = 0.25
    rng = random.Random(seed)
    for _ in range(40):
        payer = rng.randrange(2)
        network.perform(payer, network.nodes[payer].pay(channel_id, rng.randint(1, 500)))
        network.deliver()
    for _ in range(30):
        network.tick()
    network.loss = 0.0
    for _ in range(10):
        network.tick()
    alice, bob = (network.nodes[index].channel(channel_id) for index in range(2))
    assert not alice.busy and not bob.busy
    assert alice.latest == bob.latest
    done = [(index, event.amount) for index, event in network.events if isinstance(event, DirectPaymentDone)]
    failed = [event for _, event in network.events if isinstance(event, DirectPaymentFailed)]
    # A payment whose proposal went unanswered five times is given up (hop offline), never done twice.
    assert len(done) + len(failed) == 40 and len(done) >= 36
    moved = sum(amount if index == 0 else -amount for index, amount in done)
    assert (alice.balance, bob.balance) == (50_000 - moved, 50_000 + moved)
    assert network.nodes[0].stats["retransmissions"] + network.nodes[1].stats["retransmissions"] > 0


def test_both_parties_proposing_the_same_cooperative_close() -> None:
    network = ChannelNetwork(2, seed=19)
    channel_id = network.open(0, 1, 10_000, 10_000)
    network.perform(0, network.nodes[0].close_channel(channel_id))
    network.perform(1, network.nodes[1].close_channel(channel_id))
    network.deliver()
    network.mine()
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.outcome is CloseOutcome.COOPERATIVE
    assert [type(event) for index, event in network.events if index == 1][-1] is ChannelClosed


@pytest.mark.parametrize("seed", [23, 24])
def test_routed_payments_under_message_loss_end_once_and_conserve(seed: int) -> None:
    network, channel_ids = line(4, seed=seed)
    network.loss = 0.2
    rng = random.Random(seed)
    hashes = []
    for _ in range(12):
        payer, payee = sorted(rng.sample(range(4), 2), reverse=rng.random() < 0.5)
        hashes.append(network.pay(payer, payee, rng.randint(100, 3_000)))
        network.tick()
    for _ in range(40):
        network.tick()
    network.loss = 0.0
    for _ in range(10):
        network.tick()
    outcomes = [network.outcome(payment_hash) for payment_hash in hashes]
    assert all(outcome is not None for outcome in outcomes)
    for index, channel_id in enumerate(channel_ids):
        left, right = network.nodes[index].channel(channel_id), network.nodes[index + 1].channel(channel_id)
        assert left.latest == right.latest and not left.state.htlcs
    succeeded = [outcome for outcome in outcomes if isinstance(outcome, PaymentSucceeded)]
    received = [event for _, event in network.events if isinstance(event, PaymentReceived)]
    assert len(received) == len(succeeded) >= 8
    fees = sum(outcome.route.fees for outcome in succeeded if outcome.route is not None)
    assert sum(outcome.route.amount for outcome in succeeded if outcome.route is not None) == \
        sum(event.amount for event in received) + fees
    check_conservation(network, channel_ids)


def test_without_gossip_nodes_sharing_one_graph_still_route() -> None:
    shared = ChannelGraph()
    quiet, channel_ids = line(4, params=NodeParams(accept_deposit_up_to=DEPOSIT, gossip=False), graph=shared)
    assert len(shared) == 3 and all(node.graph is shared for node in quiet.nodes)
    outcome = quiet.outcome(quiet.pay(0, 3, 5_000))
    assert isinstance(outcome, PaymentSucceeded) and outcome.route is not None and outcome.route.fees == 12
    talkative, _ = line(4)
    talkative.pay(0, 3, 5_000)
    assert quiet.messages < talkative.messages / 2
    check_conservation(quiet, channel_ids)


def unfunded_proposal(opener: KeyPair, node: ChannelNode, salt: int) -> OpenProposal:
    """A valid channel-open proposal from `opener` to `node` that nobody will ever fund."""
    terms = ChannelTerms(opener.public_key, node.account, 1_000, 0, 20, node.height + 20, salt)
    return OpenProposal(terms, terms.initial_state().sign(opener))


def test_unfunded_open_proposals_are_bounded_per_peer_and_in_total_and_dropped_at_their_deadline() -> None:
    # Keys with no balance: the proposer_funds defence (tested in test_defences.py) is off to reach the bounds.
    network = ChannelNetwork(1, seed=5, params=NodeParams(max_unfunded_per_peer=3, max_unfunded=5,
                                                          defences=ChannelDefences(proposer_funds=False)))
    node = network.nodes[0]
    attackers = make_keys(4, seed=99)
    accepted = refused = 0
    for attacker in attackers:
        for salt in range(10):
            try:
                node.on_message(attacker.public_key, unfunded_proposal(attacker, node, salt))
                accepted += 1
            except InputRefused as refusal:
                assert isinstance(refusal.error, ChannelRefused)
                assert isinstance(refusal.actions[0], Send) and isinstance(refusal.actions[0].message, ChannelReject)
                refused += 1
    assert accepted == 5 and refused == 35 and len(node.book.entries) == 5
    assert node.stats["open proposals refused: too many unfunded from the peer"] > 0
    assert node.stats["open proposals refused: too many unfunded"] > 0
    per_peer = Counter(entry.peer for entry in node.book.entries.values())
    assert max(per_peer.values()) == 3
    network.mine(19)
    assert len(node.book.entries) == 5
    network.mine(1)
    assert node.book.entries == {} and node.store.load().channels == ()
    assert node.stats["channels never funded"] == 5
    node.on_message(attackers[0].public_key, unfunded_proposal(attackers[0], node, 100))
    assert len(node.book.entries) == 1


def test_a_refused_open_is_forgotten_by_its_opener() -> None:
    network = ChannelNetwork(2, seed=6, params=NodeParams(accept_deposit_up_to=0))
    channel_id, actions = network.nodes[0].open_channel(network.keys[1].public_key, 1_000, 5_000)
    network.perform(0, actions)
    network.deliver()
    assert events(network, 0, ChannelOpenFailed)[0].channel_id == channel_id
    assert channel_id not in network.nodes[0].book.entries and network.nodes[0].store.load().channels == ()


def test_a_proposal_at_the_largest_sequence_is_refused_and_both_sides_keep_paying() -> None:
    network = ChannelNetwork(2, seed=8)
    channel_id = network.open(0, 1, 50_000, 20_000)
    network.perform(0, network.nodes[0].pay(channel_id, 1_000))
    network.deliver()
    for attacker, victim in ((1, 0), (0, 1)):
        before = network.nodes[victim].channel(channel_id).latest
        with pytest.raises(InputRefused) as refusal:
            network.nodes[victim].on_message(network.keys[attacker].public_key,
                                             UpdateProposal(channel_id, 2**64 - 1, Pay(1)))
        assert isinstance(refusal.value.error, InvalidChannelState)
        assert network.nodes[victim].channel(channel_id).latest == before
        assert not network.nodes[victim].channel(channel_id).busy
    for payer in (0, 1, 0, 1):
        network.perform(payer, network.nodes[payer].pay(channel_id, 10))
        network.deliver()
    assert len(events(network, 0, DirectPaymentDone)) == 3 and len(events(network, 1, DirectPaymentDone)) == 2
    assert network.nodes[0].channel(channel_id).latest == network.nodes[1].channel(channel_id).latest
    assert network.nodes[0].channel(channel_id).state.sequence == 5


def test_after_a_lost_signature_and_a_give_up_the_next_payment_takes_the_next_sequence() -> None:
    network = ChannelNetwork(2, seed=9)
    channel_id = network.open(0, 1, 50_000, 20_000)
    network.perform(0, network.nodes[0].pay(channel_id, 1_000))
    assert network.step()            # node 1 signs state 1; its signature and the cancel are lost
    network.offline.add(1)
    for _ in range(8):
        network.tick()
    assert events(network, 0, DirectPaymentFailed)
    network.offline.clear()
    network.perform(0, network.nodes[0].pay(channel_id, 2_000))
    network.deliver()
    for _ in range(40):
        network.tick()
        if events(network, 0, DirectPaymentDone):
            break
    [done] = events(network, 0, DirectPaymentDone)
    assert (done.amount, done.sequence) == (2_000, 2)
    assert network.nodes[0].channel(channel_id).latest == network.nodes[1].channel(channel_id).latest


def test_a_proposal_refused_as_stale_is_proposed_again_at_the_next_sequence_a_bounded_number_of_times() -> None:
    network = ChannelNetwork(2, seed=10)
    channel_id = network.open(0, 1, 50_000, 20_000)
    node, peer = network.nodes[0], network.keys[1].public_key
    [proposal] = node.pay(channel_id, 1_000)
    sequences = []
    for _ in range(3):
        assert isinstance(proposal, Send) and isinstance(proposal.message, UpdateProposal)
        sequences.append(proposal.message.sequence)
        answer = node.on_message(peer, ChannelReject(channel_id, proposal.message.sequence, StaleState.code, "stale"))
        proposal = answer[0]  # type: ignore[assignment]
    assert sequences == [1, 2, 3]
    assert isinstance(answer[0], DirectPaymentFailed) and not node.channel(channel_id).busy


def test_announcements_of_channels_that_never_open_wait_a_bounded_time() -> None:
    network = ChannelNetwork(1, seed=12, params=NodeParams(max_pending_announcements=3))
    node = network.nodes[0]
    a, b = make_keys(2, seed=13)

    def announcement(number: int) -> ChannelAnnouncement:
        unsigned = ChannelAnnouncement(bytes([number]) * 32, a.public_key, b.public_key, 1_000, bytes(32))
        return attrs.evolve(unsigned, signature_a=unsigned.sign(a), signature_b=unsigned.sign(b))

    for number in range(3):
        assert node.on_message(a.public_key, announcement(number)) == []
    with pytest.raises(InvalidAnnouncement):
        node.on_message(a.public_key, announcement(3))
    network.mine(9)   # the default wait is 10 blocks
    with pytest.raises(InvalidAnnouncement):
        node.on_message(a.public_key, announcement(3))
    network.mine(1)
    assert node.stats["announcements expired"] == 3
    assert node.on_message(a.public_key, announcement(3)) == []


def test_preimages_claimed_on_other_channels_for_other_payments_are_not_kept() -> None:
    network, channel_ids = line(3)
    node = network.nodes[0]
    stranger = make_keys(1, seed=14)[0]
    claims = [Transaction(stranger.public_key, nonce, 0, HtlcClaim(bytes([nonce + 1]) * 32, 1, bytes([nonce]) * 32))
              .signed(stranger) for nonce in range(50)]
    node.on_block(network.chain.height + 1, claims)
    assert node.book.preimages == {} and node.store.load().preimages == ()
    own = Transaction(stranger.public_key, 50, 0, HtlcClaim(channel_ids[0], 1, bytes([99]) * 32)).signed(stranger)
    node.on_block(network.chain.height + 2, [own])
    assert list(node.book.preimages.values()) == [bytes([99]) * 32]
