"""Watching the chain: every finalized block opens funded channels, forgets unfunded ones past their deadline, reacts
to closes, learns preimages revealed on chain, expires outgoing HTLCs and rechecks waiting announcements."""

from __future__ import annotations

from collections.abc import Iterable

from a27_channels.actions import Action, ChannelClosed, ChannelOpened, ChannelOpenFailed
from a27_channels.announcements import Announcements
from a27_channels.book import ChannelBook, ChannelEntry
from a27_channels.closing import Closing
from a27_channels.forwarding import Forwarding
from a27_channels.onchain import (
    ChannelRecord,
    ChannelStatus,
    CooperativeClose,
    HtlcClaim,
    UnilateralClose,
    channel_record,
)
from a27_channels.state import payment_hash_of
from a27_channels.store import LocalStatus
from a27_channels.updates import UpdateQueue
from a27_ledger import Transaction


class ChainWatch:
    """What the node with `book` does when a block is finalized."""

    def __init__(self, book: ChannelBook, updates: UpdateQueue, closing: Closing, forwarding: Forwarding,
                 announcements: Announcements) -> None:
        """Watch the chain for the node with `book`, acting through the other parts."""
        self.book = book
        self.updates = updates
        self.closing = closing
        self.forwarding = forwarding
        self.announcements = announcements

    def on_block(self, height: int, transactions: Iterable[Transaction] = ()) -> list[Action]:
        """A block at `height` was finalized (its effects are in the book's reader): react to what concerns the
        node."""
        book = self.book
        book.height = height
        actions: list[Action] = []
        awaited: set[bytes] | None = None
        for transaction in transactions:
            body = transaction.body
            if isinstance(body, HtlcClaim):
                if awaited is None:
                    awaited = self._awaited_hashes()
                # Every claim on chain is shown to every node: keep only the preimages this node can use.
                if body.channel_id in book.entries or payment_hash_of(body.preimage) in awaited:
                    actions += self.forwarding.learn_preimage(body.preimage)
            elif isinstance(body, (UnilateralClose, CooperativeClose)) and \
                    body.signed.state.channel_id not in book.entries:
                book.graph.remove_channel(body.signed.state.channel_id)
        for _, entry in sorted(book.entries.items()):
            actions += self._watch(entry)
        actions += self.forwarding.expire_outgoing()
        actions += self.announcements.recheck()
        return actions

    def _awaited_hashes(self) -> set[bytes]:
        """The payment hashes of the HTLCs in this node's channels that are not closed, and of its payments."""
        book = self.book
        hashes = set(book.payments)
        for entry in book.entries.values():
            channel = entry.channel
            if channel is None or entry.status is LocalStatus.CLOSED:
                continue
            states = [channel.state, *(pending.state for pending in (channel.outgoing, channel.incoming)
                                       if pending is not None)]
            hashes.update(htlc.payment_hash for state in states for htlc in state.htlcs)
        return hashes

    def _watch(self, entry: ChannelEntry) -> list[Action]:
        book = self.book
        status = entry.status
        if status in (LocalStatus.CLOSED, LocalStatus.FAILED):
            return []
        channel_id = entry.terms.channel_id
        record = channel_record(book.reader, channel_id)
        if status in (LocalStatus.PROPOSED, LocalStatus.FUNDING) and record is None:
            if book.height >= entry.terms.funding_deadline:
                # The chain takes no ChannelOpen above the deadline: the channel can never open.
                book.forget(entry)
                book.stats["channels never funded"] += 1
                return [ChannelOpenFailed(channel_id, "the funding deadline passed")]
            return []
        if record is None:
            return []
        actions: list[Action] = []
        if status is LocalStatus.FUNDING:
            entry.status = LocalStatus.OPEN
            book.remove_unfunded(entry)
            book.persist(entry)
            actions += self._opened(entry, record)
        if record.status is not ChannelStatus.OPEN:
            actions += self.updates.stop_updates(entry)
            book.graph.remove_channel(channel_id)
        if record.status is ChannelStatus.OPEN:
            actions += self.closing.enforce(entry)
        elif record.status in (ChannelStatus.CLOSING, ChannelStatus.SETTLING):
            actions += self.closing.react_to_close(entry, record)
        else:
            entry.status = LocalStatus.CLOSED
            book.persist(entry)
            book.stats[f"channels closed: {record.outcome.name.lower()}"] += 1
            actions.append(ChannelClosed(channel_id, record.outcome))
        return actions

    def _opened(self, entry: ChannelEntry, record: ChannelRecord) -> list[Action]:
        book = self.book
        book.add_own_channel(entry)
        book.stats["channels opened"] += 1
        announcing = self.announcements.channel_opened(entry, record) if book.params.gossip else []
        return [ChannelOpened(entry.terms.channel_id), *announcing, *self.updates.pump(entry)]
