"""Closing channels and disputes: cooperative closes, closes on chain, and what the node does on chain while a
channel closes (challenge an outdated state, settle, claim and refund HTLCs)."""

from __future__ import annotations

import attrs

from a27_channels.actions import Action, InputRefused, Send, Submit
from a27_channels.book import ChannelBook, ChannelEntry
from a27_channels.channel import signed_by_both
from a27_channels.errors import ChannelBusy, InvalidChannelSignature, StaleState, WrongChannelStatus
from a27_channels.messages import ChannelReject, CloseAccept, CloseProposal
from a27_channels.onchain import (
    Challenge,
    ChannelRecord,
    ChannelStatus,
    CooperativeClose,
    HtlcClaim,
    HtlcOutcome,
    HtlcRefund,
    Settle,
    UnilateralClose,
    htlc_outcome,
    preimage_height,
)
from a27_channels.state import CLOSE_DOMAIN
from a27_channels.store import LocalStatus
from a27_channels.updates import UpdateQueue
from a27_ledger import LedgerError, verify_signature


class Closing:
    """The closing of a node's channels, on its `book`; updates in flight are stopped through `updates`."""

    def __init__(self, book: ChannelBook, updates: UpdateQueue) -> None:
        """Closes of the channels in `book`."""
        self.book = book
        self.updates = updates

    # Cooperative closes -----------------------------------------------------------------------------------------

    def close_channel(self, channel_id: bytes) -> list[Action]:
        """Propose a cooperative close on the latest balances (no HTLCs and no update may be pending)."""
        book = self.book
        entry = book.open_entry(channel_id)
        channel = entry.channel
        assert channel is not None
        if channel.busy or entry.queue or channel.state.htlcs:
            raise ChannelBusy("settle every HTLC and update before closing cooperatively")
        entry.status = LocalStatus.CLOSING
        entry.close_state = channel.state
        entry.close_signatures = {entry.party: channel.state.sign_close(book.key)}
        entry.sent_at, entry.retransmits = book.now, 0
        book.persist(entry)
        return [Send(entry.peer, CloseProposal(channel_id, channel.state, entry.close_signatures[entry.party]))]

    def unanswered_proposal(self, entry: ChannelEntry) -> CloseProposal | None:
        """This node's close proposal if the peer has not accepted it yet (to send again)."""
        if entry.status is LocalStatus.CLOSING and entry.close_state is not None \
                and 1 - entry.party not in entry.close_signatures:
            return CloseProposal(entry.terms.channel_id, entry.close_state, entry.close_signatures[entry.party])
        return None

    def on_close_proposal(self, sender: bytes, message: CloseProposal) -> list[Action]:
        """The peer proposes a cooperative close: sign it and submit it, or refuse it with a ChannelReject."""
        book = self.book
        entry = book.peer_entry(sender, message.channel_id)
        channel = entry.channel
        if channel is None:
            raise WrongChannelStatus("the channel is not open")
        if entry.close_state is not None and entry.close_state == message.state:
            # A repeat, or both parties proposed the same close at once: both signatures are there.
            if not verify_signature(sender, CLOSE_DOMAIN + message.state.encode(), message.signature):
                raise InvalidChannelSignature("the close signature does not verify")
            answer: list[Action] = [Send(sender, CloseAccept(message.channel_id, message.state.sequence,
                                                             entry.close_signatures[entry.party]))]
            if 1 - entry.party not in entry.close_signatures:
                entry.close_signatures[1 - entry.party] = message.signature
                answer.append(self._submit_cooperative_close(entry))
            return answer
        try:
            if entry.status is not LocalStatus.OPEN or channel.busy or entry.queue:
                raise ChannelBusy("the channel has updates pending")
            if message.state != channel.state or message.state.htlcs:
                raise StaleState("the final state must be the latest complete one, without HTLCs")
            if not verify_signature(sender, CLOSE_DOMAIN + message.state.encode(), message.signature):
                raise InvalidChannelSignature("the close signature does not verify")
        except LedgerError as error:
            refusal = ChannelReject(message.channel_id, 0, error.code, str(error))
            raise InputRefused(error, [Send(sender, refusal)]) from error
        entry.status = LocalStatus.CLOSING
        entry.close_state = message.state
        entry.close_signatures = {1 - entry.party: message.signature, entry.party: message.state.sign_close(book.key)}
        book.persist(entry)
        return [Send(sender, CloseAccept(message.channel_id, message.state.sequence,
                                         entry.close_signatures[entry.party])),
                self._submit_cooperative_close(entry)]

    def on_close_accept(self, sender: bytes, message: CloseAccept) -> list[Action]:
        """The peer signed this node's close proposal: submit the close."""
        entry = self.book.peer_entry(sender, message.channel_id)
        state = entry.close_state
        if state is None or message.sequence != state.sequence:
            raise StaleState("no close proposal awaits this acceptance")
        if 1 - entry.party in entry.close_signatures:
            return []
        if not verify_signature(sender, CLOSE_DOMAIN + state.encode(), message.signature):
            raise InvalidChannelSignature("the close signature does not verify")
        entry.close_signatures[1 - entry.party] = message.signature
        return [self._submit_cooperative_close(entry)]

    def close_refused(self, entry: ChannelEntry) -> list[Action]:
        """The peer refused this node's close proposal: the channel is open again."""
        entry.status, entry.close_state, entry.close_signatures = LocalStatus.OPEN, None, {}
        self.book.persist(entry)
        return self.updates.pump(entry)

    def _submit_cooperative_close(self, entry: ChannelEntry) -> Submit:
        assert entry.close_state is not None
        entry.onchain.add(("cooperative close",))
        signed = signed_by_both(entry.close_state, entry.party, entry.close_signatures[entry.party],
                                entry.close_signatures[1 - entry.party])
        return Submit(CooperativeClose(attrs.evolve(signed, domain=CLOSE_DOMAIN)))

    # On chain ---------------------------------------------------------------------------------------------------

    def force_close(self, channel_id: bytes) -> list[Action]:
        """Publish the latest complete state on chain; the challenge period starts."""
        entry = self.book.entries.get(channel_id)
        if entry is None or entry.channel is None or entry.status not in (LocalStatus.OPEN, LocalStatus.CLOSING):
            raise WrongChannelStatus("only an open or closing channel can be closed on chain")
        return self._force_close(entry)

    def _force_close(self, entry: ChannelEntry) -> list[Action]:
        assert entry.channel is not None
        actions = self.updates.stop_updates(entry)
        if ("close",) in entry.onchain:
            return actions
        entry.onchain.add(("close",))
        self.book.stats["forced closes"] += 1
        return [*actions, Submit(UnilateralClose(self.book.params.behaviour.state_to_publish(entry.channel)))]

    def enforce(self, entry: ChannelEntry) -> list[Action]:
        """Close on chain when an HTLC can no longer wait for the peer."""
        book = self.book
        channel = entry.channel
        if channel is None or entry.status not in (LocalStatus.OPEN, LocalStatus.CLOSING):
            return []
        for htlc in channel.state.htlcs:
            if htlc.offerer == entry.party and book.height >= htlc.expiry:
                return self._force_close(entry)
            if htlc.receiver == entry.party and book.preimage(htlc.payment_hash) is not None \
                    and book.height >= htlc.expiry - book.params.claim_margin:
                return self._force_close(entry)
        return []

    def react_to_close(self, entry: ChannelEntry, record: ChannelRecord) -> list[Action]:
        """The channel is closing on chain: challenge an outdated state, settle after the deadline, claim and refund
        HTLCs."""
        book = self.book
        channel = entry.channel
        published = record.published
        if channel is None or published is None:
            return []
        actions: list[Action] = []
        next_height = book.height + 1
        if record.status is ChannelStatus.CLOSING:
            latest = channel.latest
            if record.publisher != entry.party and latest.state.sequence > published.sequence \
                    and book.params.defences.penalty and ("challenge", latest.state.sequence) not in entry.onchain:
                entry.onchain.add(("challenge", latest.state.sequence))
                book.stats["challenges"] += 1
                actions.append(Submit(Challenge(latest)))
            elif next_height > record.deadline and ("settle",) not in entry.onchain:
                entry.onchain.add(("settle",))
                actions.append(Submit(Settle(record.channel_id)))
        pending = published.htlcs if record.status is ChannelStatus.CLOSING else \
            [published.htlc(htlc_id) for htlc_id in record.pending_htlcs]
        for htlc in pending:
            registered = preimage_height(book.reader, htlc.payment_hash)
            key = (record.status, htlc.htlc_id)
            preimage = book.preimage(htlc.payment_hash)
            if htlc.receiver == entry.party and preimage is not None:
                claimable = (next_height < htlc.expiry and registered is None) or \
                    (record.status is ChannelStatus.SETTLING and registered is not None and registered < htlc.expiry)
                if claimable and ("claim", *key) not in entry.onchain:
                    entry.onchain.add(("claim", *key))
                    actions.append(Submit(HtlcClaim(record.channel_id, htlc.htlc_id, preimage)))
            elif htlc.offerer == entry.party and record.status is ChannelStatus.SETTLING \
                    and htlc_outcome(htlc, next_height, registered) is HtlcOutcome.OFFERER \
                    and ("refund", *key) not in entry.onchain:
                entry.onchain.add(("refund", *key))
                actions.append(Submit(HtlcRefund(record.channel_id, htlc.htlc_id)))
        return actions
