"""Channel stores, in memory and in SQLite: what a node needs after a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from a27_channels import (
    ChannelBusy,
    ChannelNetwork,
    ChannelStore,
    ChannelStoreError,
    Invoice,
    LocalStatus,
    MemoryChannelStore,
    Pay,
    SQLiteChannelStore,
    StaleState,
    StoredChannel,
    UpdateProposal,
    payment_hash_of,
)
from a27_channels.testing import channel_pair
from a27_ledger import KeyPair

ALICE = KeyPair.from_seed(bytes([0x31]) * 32)
BOB = KeyPair.from_seed(bytes([0x32]) * 32)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChannelStore]:
    opened: ChannelStore = MemoryChannelStore() if request.param == "memory" else SQLiteChannelStore(
        tmp_path / "channels.db")
    yield opened
    opened.close()


def test_everything_written_is_loaded(store: ChannelStore) -> None:
    alice, bob = channel_pair(ALICE, BOB, 5_000, 5_000)
    signature, _ = bob.receive_proposal(alice.pay(300), 0)
    assert signature.signature == bob.incoming.signature  # type: ignore[union-attr]
    pending = StoredChannel(bob.terms, LocalStatus.OPEN, bob.latest, bob.highest_signed, bob.incoming)
    store.put_channel(pending)
    proposed = StoredChannel(alice.terms, LocalStatus.PROPOSED)
    invoice = Invoice(BOB.public_key, payment_hash_of(bytes(32)), bytes(32), 700)
    store.put_invoice(invoice)
    store.put_preimage(bytes([1]) * 32)
    store.put_forward(bytes([2]) * 32, 7, bytes([3]) * 32, 2**64 - 1)
    store.put_forward(bytes([2]) * 32, 8, bytes([3]) * 32, 9)
    store.remove_forward(bytes([2]) * 32, 8)
    contents = store.load()
    assert contents.channels == (pending,)
    assert contents.invoices == (invoice,)
    assert contents.preimages == (bytes([1]) * 32,)
    assert contents.forwards == ((bytes([2]) * 32, 7, bytes([3]) * 32, 2**64 - 1),)
    store.put_channel(proposed)
    assert store.load().channels == (proposed,)
    store.remove_channel(proposed.terms.channel_id)
    store.remove_channel(proposed.terms.channel_id)
    assert store.load().channels == ()


def test_sqlite_reopens_and_refuses_foreign_databases(tmp_path: Path) -> None:
    path = tmp_path / "channels.db"
    first = SQLiteChannelStore(path)
    first.put_preimage(bytes([9]) * 32)
    first.close()
    second = SQLiteChannelStore(path)
    assert second.load().preimages == (bytes([9]) * 32,)
    second.close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 7")
    with pytest.raises(ChannelStoreError):
        SQLiteChannelStore(path)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE things (x)")
    with pytest.raises(ChannelStoreError):
        SQLiteChannelStore(other)
    closed = SQLiteChannelStore(tmp_path / "closed.db")
    closed.close()
    with pytest.raises(ChannelStoreError):
        closed.put_preimage(bytes(32))


def test_a_node_restarted_mid_update_keeps_its_signature_and_completes(tmp_path: Path) -> None:
    path = tmp_path / "bob.db"
    network = ChannelNetwork(2, seed=11, stores=[MemoryChannelStore(), SQLiteChannelStore(path)])
    channel_id = network.open(0, 1, 50_000, 50_000)
    network.perform(0, network.nodes[0].pay(channel_id, 1_000))
    network.deliver()
    network.perform(0, network.nodes[0].pay(channel_id, 2_000))
    assert network.step()
    signed = network.nodes[1].channel(channel_id).incoming
    assert signed is not None
    network.nodes[1].store.close()
    restarted = network.restart(1, SQLiteChannelStore(path))
    channel = restarted.channel(channel_id)
    assert (channel.incoming, channel.state.sequence, restarted.status(channel_id)) == (signed, 1, LocalStatus.OPEN)
    with pytest.raises(ChannelBusy):
        channel.receive_proposal(UpdateProposal(channel_id, signed.proposal.sequence + 1, Pay(5)), 0)
    network.deliver()
    assert restarted.channel(channel_id).balance == 53_000
    assert restarted.graph.edge(channel_id, restarted.account) is not None
    network.perform(1, restarted.pay(channel_id, 500))
    network.deliver()
    assert network.nodes[0].channel(channel_id).balance == 47_500
    restarted.channel(channel_id).incoming = None
    with pytest.raises(StaleState):
        restarted.channel(channel_id).receive_proposal(UpdateProposal(channel_id, 2, Pay(5)), 0)
