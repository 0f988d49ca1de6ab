"""Time: sending again what the peer has not answered, and giving up proposals it never answers (hop offline)."""

from __future__ import annotations

from a27_channels.actions import Action, Send
from a27_channels.book import ChannelBook, ChannelEntry
from a27_channels.closing import Closing
from a27_channels.messages import ChannelMessage, UpdateProposal, UpdateSignature
from a27_channels.opening import Opening
from a27_channels.store import LocalStatus
from a27_channels.updates import UpdateQueue


class Retransmission:
    """The timers of the node with `book`: what is unanswered goes out again, at intervals."""

    def __init__(self, book: ChannelBook, opening: Opening, updates: UpdateQueue, closing: Closing) -> None:
        """Retransmit the open proposals, updates and close proposals of the channels in `book`."""
        self.book = book
        self.opening = opening
        self.updates = updates
        self.closing = closing

    def on_tick(self, now: float) -> list[Action]:
        """Retransmit what is unanswered; give up proposals unanswered after `max_retransmits` (hop offline).

        A signature awaiting its completion is retransmitted for as long as it waits, at growing intervals: only the
        proposer can complete or withdraw the update, and until it does the channel is blocked.
        """
        book = self.book
        book.now = now
        params = book.params
        actions: list[Action] = []
        for _, entry in sorted(book.entries.items()):
            actions += self.updates.pump(entry)
            message = self._unanswered(entry)
            if message is None:
                continue
            waiting = isinstance(message, UpdateSignature)
            due = params.retransmit_interval * (2 ** min(entry.retransmits, 6) if waiting else 1)
            if now - entry.sent_at < due:
                continue
            if waiting or entry.retransmits < params.max_retransmits:
                entry.retransmits += 1
                entry.sent_at = now
                book.stats["retransmissions"] += 1
                actions.append(Send(entry.peer, message))
            elif isinstance(message, UpdateProposal):
                actions += self.updates.give_up(entry, message)
        return actions

    def _unanswered(self, entry: ChannelEntry) -> ChannelMessage | None:
        if entry.status is LocalStatus.PROPOSED:
            return self.opening.proposal(entry.terms)
        close = self.closing.unanswered_proposal(entry)
        if close is not None:
            return close
        if entry.channel is None or entry.status is not LocalStatus.OPEN:
            return None
        return entry.channel.pending_message()
