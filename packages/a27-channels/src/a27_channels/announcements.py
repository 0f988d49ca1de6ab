"""Channel announcements and policies: announcing this node's channels once funded, learning and relaying others'
after checking them against the chain (waiting a bounded time for a funding block this node has not seen yet)."""

from __future__ import annotations

import attrs

from a27_channels.actions import Action, Gossip, Send
from a27_channels.book import ChannelBook, ChannelEntry
from a27_channels.errors import InvalidAnnouncement, UnknownChannel
from a27_channels.gossip import ChannelAnnouncement, ChannelUpdate
from a27_channels.messages import AnnouncementSignature
from a27_channels.onchain import ChannelRecord, ChannelStatus, channel_record
from a27_ledger import verify_signature


class Announcements:
    """Gossip of the channel graph for the node whose state is `book`."""

    def __init__(self, book: ChannelBook) -> None:
        """Announcements of and for the node with `book`."""
        self.book = book

    def channel_opened(self, entry: ChannelEntry, record: ChannelRecord) -> list[Action]:
        """One of this node's channels is funded: send the peer this node's half of its announcement."""
        book = self.book
        signature = ChannelAnnouncement.of_record(record).sign(book.key)
        entry.announcement[entry.party] = signature
        return [Send(entry.peer, AnnouncementSignature(entry.terms.channel_id, signature)),
                *self._announce(entry, record)]

    def on_announcement_signature(self, sender: bytes, message: AnnouncementSignature) -> list[Action]:
        """The peer's half of a shared channel's announcement: announce the channel once both halves are here."""
        book = self.book
        entry = book.peer_entry(sender, message.channel_id)
        record = channel_record(book.reader, message.channel_id)
        if record is None:
            # This node's chain is behind the peer's: keep the signature until the funding block arrives.
            entry.announcement[1 - entry.party] = message.signature
            return []
        if not verify_signature(sender, ChannelAnnouncement.of_record(record).signing_bytes(), message.signature):
            raise InvalidAnnouncement("the peer's announcement signature does not verify")
        entry.announcement[1 - entry.party] = message.signature
        return self._announce(entry, record)

    def _announce(self, entry: ChannelEntry, record: ChannelRecord) -> list[Action]:
        book = self.book
        if entry.announced or len(entry.announcement) < 2 or record.status is not ChannelStatus.OPEN:
            return []
        unsigned = ChannelAnnouncement.of_record(record)
        announcement = attrs.evolve(unsigned, signature_a=entry.announcement[0], signature_b=entry.announcement[1])
        try:
            announcement.verify()
        except InvalidAnnouncement:
            entry.announcement.pop(1 - entry.party)
            return []
        entry.announced = True
        book.policy_serial = max(book.policy_serial + 1, book.height)
        update = ChannelUpdate.create(book.key, record.channel_id, book.policy_serial, book.params.policy)
        book.graph.apply_update(update)
        return [Gossip(announcement), Gossip(update)]

    def on_announcement(self, sender: bytes, announcement: ChannelAnnouncement) -> list[Action]:
        """Another channel's announcement: learn it and pass it on if the chain backs it (or wait for its block)."""
        book = self.book
        if announcement.channel_id in book.graph or announcement.channel_id in book.pending_announcements:
            book.stats["announcements already known"] += 1
            return []
        announcement.verify()
        record = channel_record(book.reader, announcement.channel_id)
        if record is None:
            if len(book.pending_announcements) >= book.params.max_pending_announcements:
                raise InvalidAnnouncement("too many announcements wait for their funding block")
            book.pending_announcements[announcement.channel_id] = (announcement, sender, book.height)
            return []
        announcement.check_against(record)
        book.graph.add_announcement(announcement)
        book.stats["announcements learnt"] += 1
        return [Gossip(announcement, exclude=sender)] if book.params.gossip else []

    def recheck(self) -> list[Action]:
        """After a block: learn the waiting announcements whose funding block arrived; drop those waiting too long."""
        book = self.book
        actions: list[Action] = []
        for channel_id, (announcement, sender, arrived) in list(book.pending_announcements.items()):
            record = channel_record(book.reader, channel_id)
            if record is None:
                if book.height - arrived >= book.params.announcement_wait:
                    del book.pending_announcements[channel_id]
                    book.stats["announcements expired"] += 1
                continue
            del book.pending_announcements[channel_id]
            try:
                announcement.check_against(record)
            except InvalidAnnouncement:
                book.stats["announcements refused"] += 1
                continue
            book.graph.add_announcement(announcement)
            book.stats["announcements learnt"] += 1
            if book.params.gossip:
                actions.append(Gossip(announcement, exclude=sender))
        return actions

    def on_channel_update(self, sender: bytes, update: ChannelUpdate) -> list[Action]:
        """A channel's new policy from one of its nodes: apply it and pass it on if it is newer."""
        book = self.book
        edge = book.graph.edge(update.channel_id, update.node)
        if edge is None:
            raise UnknownChannel("a policy of a channel this node does not know")
        if update.serial <= edge.serial:
            book.stats["policies already known"] += 1
            return []
        update.verify()
        book.graph.apply_update(update)
        return [Gossip(update, exclude=sender)] if book.params.gossip else []
