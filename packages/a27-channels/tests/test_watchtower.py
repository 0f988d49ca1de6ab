"""The watchtower: what it accepts, when it submits, and that what it holds can only ever pay its client."""

from __future__ import annotations

import attrs
import pytest

from a27_channels import (
    Challenge,
    ChannelDefences,
    ChannelNetwork,
    ChannelRefused,
    ChannelStatus,
    InvalidChannelSignature,
    LocalStatus,
    MalformedChannelData,
    NodeParams,
    NotAChannelParty,
    Settle,
    StaleState,
    Submit,
    UnilateralClose,
    Watchtower,
    WrongChannelStatus,
    channel_record,
)
from a27_channels.testing import sign_state
from a27_ledger import Transaction

DEPOSIT = 100_000


def paid_channel(*, seed: int = 3, payments: int = 2) -> tuple[ChannelNetwork, bytes]:
    """Node 0 opened a channel to node 1 and paid it `payments` times (node 0 proposed every later state)."""
    network = ChannelNetwork(3, seed=seed, params=NodeParams(accept_deposit_up_to=DEPOSIT))
    channel_id = network.open(0, 1, DEPOSIT)
    for _ in range(payments):
        network.perform(0, network.nodes[0].pay(channel_id, 1_000))
        network.deliver()
    return network, channel_id


def appointment(network: ChannelNetwork, index: int) -> Transaction:
    node = network.nodes[index]
    (only,) = node.watchtower_appointments(network.chain.state.next_nonce(node.account), network.fee)
    return only


def test_appointments_are_challenges_of_the_latest_state_signed_by_the_client_one_per_channel_and_nonce() -> None:
    network, channel_id = paid_channel()
    node = network.nodes[1]
    next_nonce = network.chain.state.next_nonce(node.account)
    (only,) = node.watchtower_appointments(next_nonce, 1)
    assert isinstance(only.body, Challenge) and only.body.signed == node.channel(channel_id).latest
    assert only.sender == node.account and only.nonce == next_nonce and only.verify_signature()
    assert [tx.nonce for tx in node.watchtower_appointments(next_nonce, 1, nonces=3)] == [next_nonce + offset
                                                                                          for offset in range(3)]
    off = ChannelNetwork(2, seed=3, params=NodeParams(accept_deposit_up_to=DEPOSIT,
                                                      defences=ChannelDefences(watchtower=False)))
    off.open(0, 1, DEPOSIT)
    assert off.nodes[1].watchtower_appointments(0, 1) == []


def test_the_tower_refuses_what_it_cannot_use_and_keeps_nothing_of_it() -> None:
    network, channel_id = paid_channel()
    tower = Watchtower(network.chain.state, max_appointments=1, max_nonces=2)
    good = appointment(network, 1)
    outsider = network.nodes[2]
    settle = Transaction(good.sender, good.nonce, 1, Settle(channel_id)).signed(network.nodes[1].key)
    with pytest.raises(MalformedChannelData):
        tower.watch(settle)
    not_a_party = Transaction(outsider.account, 0, 1, good.body).signed(outsider.key)
    with pytest.raises(WrongChannelStatus):
        tower.watch(not_a_party)
    with pytest.raises(InvalidChannelSignature):
        tower.watch(attrs.evolve(good, fee=2))
    assert isinstance(good.body, Challenge)
    forged_state = attrs.evolve(good.body.signed, signature_a=good.body.signed.signature_b)
    with pytest.raises(InvalidChannelSignature):
        tower.watch(Transaction(good.sender, good.nonce, 1, Challenge(forged_state)).signed(network.nodes[1].key))
    assert tower.appointments == {}
    tower.watch(good)
    network.perform(0, network.nodes[0].pay(channel_id, 1_000))
    network.deliver()
    newer = appointment(network, 1)
    tower.watch(newer)
    assert list(tower.appointments[(channel_id, newer.sender)].values()) == [newer]
    with pytest.raises(StaleState):
        tower.watch(good)
    second, third = network.nodes[1].watchtower_appointments(newer.nonce + 1, 1, nonces=2)
    tower.watch(second)
    with pytest.raises(ChannelRefused):
        tower.watch(third)
    other_channel = network.open(2, 1, DEPOSIT)
    with pytest.raises(ChannelRefused):
        tower.watch(Transaction(outsider.account, 0, 1, Challenge(outsider.channel(other_channel).latest))
                    .signed(outsider.key))
    assert len(tower.appointments) == 1 and len(tower.appointments[(channel_id, newer.sender)]) <= 2


def test_the_tower_submits_once_when_the_other_party_publishes_an_older_state_and_the_client_gets_the_channel() -> None:
    network, channel_id = paid_channel()
    victim = network.nodes[1]
    network.go_offline(1)
    assert len(network.tower.appointments) == 1
    victim_before = network.chain.state.balance(victim.account)
    record = channel_record(network.chain.state, channel_id)
    assert record is not None
    # The cheat publishes state 0 (it held the whole deposit then).
    network.perform(0, [Submit(_unilateral_close_of_state_0(network, channel_id))])
    network.mine()
    assert network.tower.stats["challenges submitted"] == 1
    network.mine(3)
    assert network.tower.stats["challenges submitted"] == 1
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.status is ChannelStatus.CLOSED and record.outcome.name == "PENALTY"
    # The whole channel (the cheat's remaining 98 000 and the victim's 2 000) goes to the victim, who paid the fee.
    assert network.chain.state.balance(victim.account) == victim_before + DEPOSIT - network.fee
    assert network.tower.appointments == {}
    network.come_online(1)
    assert victim.status(channel_id) is LocalStatus.CLOSED


def test_the_tower_stays_quiet_when_its_client_published_or_the_latest_state_is_published() -> None:
    network, channel_id = paid_channel()
    network.go_offline(1)
    network.perform(0, network.nodes[0].force_close(channel_id))
    network.mine(25)
    assert network.tower.stats["challenges submitted"] == 0
    record = channel_record(network.chain.state, channel_id)
    assert record is not None and record.status is ChannelStatus.CLOSED and record.outcome.name == "UNILATERAL"
    assert network.tower.appointments == {}


def test_a_challenge_sent_from_an_account_that_is_not_a_party_is_refused_by_the_chain() -> None:
    network, channel_id = paid_channel()
    network.perform(0, [Submit(_unilateral_close_of_state_0(network, channel_id))])
    network.mine()
    outsider = network.nodes[2]
    latest = network.nodes[1].channel(channel_id).latest
    stolen = Transaction(outsider.account, network.chain.state.next_nonce(outsider.account), 1,
                         Challenge(latest)).signed(outsider.key)
    with pytest.raises(NotAChannelParty):
        network.chain.state.apply_block([stolen], dry_run=True)


def _unilateral_close_of_state_0(network: ChannelNetwork, channel_id: bytes) -> UnilateralClose:
    terms = network.nodes[0].channel(channel_id).terms
    return UnilateralClose(sign_state(terms.initial_state(), network.keys[0], network.keys[1]))
