"""Opening channels: proposing terms, accepting or refusing a peer's proposal, and funding on chain.

The opener (party a) proposes terms and its signature of state 0; the peer (party b) checks the terms against its own
limits, signs state 0 and its funding consent; the opener submits `ChannelOpen`. A node bounds the channels proposed
to it whose funding is not on chain yet, per peer and in all.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from a27_channels.actions import Action, InputRefused, Send, Submit
from a27_channels.book import ChannelBook, ChannelEntry
from a27_channels.channel import Channel
from a27_channels.errors import ChannelRefused, InvalidChannelSignature, NotAChannelParty, UnknownChannel
from a27_channels.messages import ChannelReject, OpenAccept, OpenProposal
from a27_channels.onchain import ChannelOpen
from a27_channels.state import ChannelTerms, SignedState
from a27_channels.store import LocalStatus
from a27_ledger import LedgerError, verify_signature


@runtime_checkable
class BalanceReader(Protocol):
    """A chain state that tells balances (a27-ledger's `LedgerState`, which every node runtime gives its node)."""

    def balance(self, account: bytes) -> int:
        """Spendable balance of `account`."""
        ...


class Opening:
    """The opening of a node's channels, on its `book`."""

    def __init__(self, book: ChannelBook) -> None:
        """Open channels recorded in `book`."""
        self.book = book

    def open_channel(self, peer: bytes, deposit: int, peer_deposit: int = 0, *,
                     challenge_period: int | None = None) -> tuple[bytes, list[Action]]:
        """Propose a channel to `peer`; the channel id and the actions (see `ChannelNode.open_channel`)."""
        book = self.book
        terms = ChannelTerms(book.account, peer, deposit, peer_deposit,
                             book.params.challenge_period if challenge_period is None else challenge_period,
                             book.height + book.params.funding_window, book.salt)
        terms.check()
        book.salt += 1
        entry = ChannelEntry(terms, 0, LocalStatus.PROPOSED, None)
        entry.sent_at = book.now
        book.entries[terms.channel_id] = entry
        book.persist(entry)
        return terms.channel_id, [Send(peer, self.proposal(terms))]

    def proposal(self, terms: ChannelTerms) -> OpenProposal:
        """The proposal of a channel this node opens (sent again until answered)."""
        return OpenProposal(terms, terms.initial_state().sign(self.book.key))

    def on_open_proposal(self, sender: bytes, message: OpenProposal) -> list[Action]:
        """A peer proposes a channel: accept it (sign state 0 and the funding) or refuse it with a ChannelReject."""
        book = self.book
        terms = message.terms
        channel_id = terms.channel_id
        existing = book.entries.get(channel_id)
        if existing is not None and existing.channel is not None and existing.party == 1:
            return [Send(sender, self._accept(terms))]
        try:
            if terms.party_b != book.account or terms.party_a != sender:
                raise NotAChannelParty("the terms do not name the sender and this node")
            terms.check()
            refusal = book.params.behaviour.accept_open(sender, terms, self._refusal(sender, terms))
            if refusal is not None:
                raise refusal
            state = terms.initial_state()
            if not verify_signature(sender, state.signing_bytes(), message.signature):
                raise InvalidChannelSignature("the opener's signature of state 0 does not verify")
        except LedgerError as error:
            raise InputRefused(error, [Send(sender, ChannelReject(channel_id, 0, error.code, str(error)))]) from error
        latest = SignedState(state, message.signature, state.sign(book.key))
        entry = ChannelEntry(terms, 1, LocalStatus.FUNDING, Channel(terms, book.key, latest, limits=book.params.limits))
        book.entries[channel_id] = entry
        book.add_unfunded(entry)
        book.persist(entry)
        return [Send(sender, self._accept(terms))]

    def _refusal(self, sender: bytes, terms: ChannelTerms) -> ChannelRefused | None:
        """Why this node's limits refuse the proposed channel, or None if they allow it."""
        book = self.book
        params = book.params
        if terms.deposit_b > params.accept_deposit_up_to:
            return ChannelRefused(f"deposit {terms.deposit_b} exceeds the {params.accept_deposit_up_to} this node puts "
                                  "into others' channels")
        if not params.min_challenge_period <= terms.challenge_period <= params.max_challenge_period:
            return ChannelRefused(f"challenge period {terms.challenge_period} outside {params.min_challenge_period}.."
                                  f"{params.max_challenge_period}")
        if not book.height < terms.funding_deadline <= book.height + 4 * params.funding_window:
            return ChannelRefused(f"funding deadline {terms.funding_deadline} does not suit height {book.height}")
        if params.defences.proposer_funds and isinstance(book.reader, BalanceReader):
            waiting = sum(book.entries[channel_id].terms.deposit_a for channel_id in book.unfunded.get(sender, ()))
            balance = book.reader.balance(sender)
            if balance < waiting + terms.deposit_a:
                book.stats["open proposals refused: proposer cannot fund"] += 1
                return ChannelRefused(f"the proposer's balance {balance} does not cover its deposit {terms.deposit_a} "
                                      f"and the {waiting} of its other unfunded proposals here")
        if len(book.unfunded.get(sender, ())) >= params.max_unfunded_per_peer:
            book.stats["open proposals refused: too many unfunded from the peer"] += 1
            return ChannelRefused(f"the sender has {params.max_unfunded_per_peer} channels waiting for their funding")
        if book.unfunded_count >= params.max_unfunded:
            book.stats["open proposals refused: too many unfunded"] += 1
            return ChannelRefused(f"{params.max_unfunded} channels wait for their funding here")
        return None

    def _accept(self, terms: ChannelTerms) -> OpenAccept:
        key = self.book.key
        return OpenAccept(terms.channel_id, terms.funding_signature(key), terms.initial_state().sign(key))

    def on_open_accept(self, sender: bytes, message: OpenAccept) -> list[Action]:
        """The peer accepted a channel this node proposed: submit the funding transaction."""
        book = self.book
        entry = book.entries.get(message.channel_id)
        if entry is None or entry.party != 0 or sender != entry.peer:
            raise UnknownChannel("an acceptance of no channel this node proposed to the sender")
        if entry.status is not LocalStatus.PROPOSED:
            book.stats["repeated open accept"] += 1
            return []
        terms = entry.terms
        state = terms.initial_state()
        if not terms.verify_funding_signature(message.funding_signature):
            raise InvalidChannelSignature("the funding signature does not verify")
        if not verify_signature(sender, state.signing_bytes(), message.state_signature):
            raise InvalidChannelSignature("the counterparty's signature of state 0 does not verify")
        latest = SignedState(state, state.sign(book.key), message.state_signature)
        entry.channel = Channel(terms, book.key, latest, limits=book.params.limits)
        entry.status = LocalStatus.FUNDING
        book.persist(entry)
        return [Submit(ChannelOpen(terms, message.funding_signature))]
