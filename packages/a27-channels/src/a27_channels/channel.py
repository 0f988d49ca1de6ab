"""One party's side of a channel: the update protocol of DESIGN.md as a sans-IO state machine.

An update is three messages: the proposer sends an unsigned `UpdateProposal`, the receiver answers with its
signature of the new state (`UpdateSignature`), the proposer checks it, signs last and sends `UpdateComplete`. Every
method either returns the message to send and changes the channel, or raises a `ChannelError` and changes nothing.

The rules the safety argument needs are enforced here: a party signs states with strictly increasing sequences
(`highest_signed`), signs a proposal only when no other is waiting for completion and builds it on its latest
complete state, and as proposer signs only after the receiver did.
"""

from __future__ import annotations

import attrs

from a27_channels.errors import (
    ChannelBusy,
    InvalidChannelSignature,
    InvalidChannelState,
    InvalidHtlc,
    StaleState,
    UnknownChannel,
)
from a27_channels.messages import UpdateCancel, UpdateComplete, UpdateProposal, UpdateSignature
from a27_channels.state import (
    DEFAULT_LIMITS,
    PARTY_A,
    AddHtlc,
    ChannelState,
    ChannelTerms,
    FailHtlc,
    FulfillHtlc,
    HtlcLimits,
    Operation,
    Pay,
    SignedState,
    apply_operation,
    payment_hash_of,
)
from a27_ledger import KeyPair, verify_signature

WITHDRAWN_KEPT = 16
"""How many withdrawn proposal sequences a channel remembers, to answer late signatures with a cancellation."""


@attrs.frozen
class Outgoing:
    """An update this party proposed and awaits the signature of."""

    proposal: UpdateProposal
    state: ChannelState


@attrs.frozen
class Incoming:
    """An update this party signed as receiver and awaits the completion of."""

    proposal: UpdateProposal
    state: ChannelState
    signature: bytes


def signed_by_both(state: ChannelState, party: int, own: bytes, other: bytes) -> SignedState:
    """A SignedState from this party's signature `own` and the other party's `other`."""
    return SignedState(state, own, other) if party == PARTY_A else SignedState(state, other, own)


class Channel:
    """One party's view of a channel: the latest complete state and at most one update in flight.

    `latest` must be a state signed by both (state 0 comes from the open handshake). `highest_signed` and `incoming`
    restore what a store kept across a restart.
    """

    def __init__(self, terms: ChannelTerms, key: KeyPair, latest: SignedState, *, limits: HtlcLimits = DEFAULT_LIMITS,
                 highest_signed: int = 0, incoming: Incoming | None = None) -> None:
        """Create the channel side of `key`, which must be one of the terms' parties."""
        party = terms.party_of(key.public_key)
        if party is None:
            raise ValueError("the key is not a party of this channel")
        if latest.state.channel_id != terms.channel_id:
            raise UnknownChannel("the latest state belongs to another channel")
        self.terms = terms
        self.channel_id = terms.channel_id
        self.key = key
        self.party = party
        self.peer = terms.parties[1 - party]
        self.limits = limits
        self.latest = latest
        self.highest_signed = max(highest_signed, latest.state.sequence)
        self.highest_proposed = self.highest_signed
        self.peer_signed = self.highest_signed
        """The highest sequence of this party's proposals that the peer signed, or refused as stale, so far."""
        self.outgoing: Outgoing | None = None
        self.incoming = incoming
        self.last_completion: UpdateComplete | None = None
        self._withdrawn: list[int] = []

    # What the channel holds ------------------------------------------------------------------------------------

    @property
    def state(self) -> ChannelState:
        """The latest complete state."""
        return self.latest.state

    @property
    def balance(self) -> int:
        """This party's spendable balance in the latest complete state."""
        return self.state.balance(self.party)

    @property
    def peer_balance(self) -> int:
        """The other party's spendable balance in the latest complete state."""
        return self.state.balance(1 - self.party)

    @property
    def busy(self) -> bool:
        """Whether an update is in flight (proposed, or signed and awaiting completion)."""
        return self.outgoing is not None or self.incoming is not None

    @property
    def wins_conflicts(self) -> bool:
        """Whether this party's proposal goes first when both propose at once (the lower account key wins)."""
        return self.key.public_key < self.peer

    def spendable(self) -> int:
        """What this party can still offer: its balance, less an outgoing proposal's debit if one is in flight."""
        if self.outgoing is not None:
            return self.outgoing.state.balance(self.party)
        return self.balance

    # Proposing --------------------------------------------------------------------------------------------------

    def propose(self, operation: Operation, height: int, route_data: bytes = b"") -> UpdateProposal:
        """Propose `operation` on the latest complete state (judged at block `height`); ChannelBusy while an update
        is in flight, or the operation's error."""
        if self.busy:
            raise ChannelBusy(f"an update of channel {self.channel_id.hex()[:16]} is in flight")
        # A withdrawn proposal the peer never signed leaves no gap: its sequence is proposed again.
        sequence = max(self.state.sequence, self.highest_signed, self.peer_signed) + 1
        state = apply_operation(self.state, operation, proposer=self.party, sequence=sequence, height=height,
                                limits=self.limits)
        proposal = UpdateProposal(self.channel_id, sequence, operation, route_data)
        self.outgoing = Outgoing(proposal, state)
        self.highest_proposed = max(self.highest_proposed, sequence)
        return proposal

    def next_sequences(self) -> range:
        """The sequences this party signs as receiver: the one after every state it signed or holds; or, if its own
        proposal at that sequence was withdrawn (the peer may have signed it), the one after that."""
        base = max(self.state.sequence, self.highest_signed)
        return range(base + 1, max(base, self.highest_proposed) + 2)

    def peer_refused_as_stale(self, sequence: int) -> None:
        """The peer refused this party's proposal `sequence` as stale: it signed that sequence before (a proposal
        withdrawn here), so the next proposal takes the following one."""
        if sequence <= self.highest_proposed:
            self.peer_signed = max(self.peer_signed, sequence)

    def pay(self, amount: int, height: int = 0) -> UpdateProposal:
        """Propose paying `amount` to the other party."""
        return self.propose(Pay(amount), height)

    def add_htlc(self, payment_hash: bytes, amount: int, expiry: int, height: int,
                 route_data: bytes = b"") -> UpdateProposal:
        """Propose an HTLC of `amount` to the other party, locked to `payment_hash` until block `expiry`."""
        return self.propose(AddHtlc(payment_hash, amount, expiry), height, route_data)

    def fulfill_htlc(self, preimage: bytes, height: int) -> UpdateProposal:
        """Propose taking the oldest HTLC offered to this party whose hash `preimage` opens."""
        payment_hash = payment_hash_of(preimage)
        for htlc in self.state.htlcs:
            if htlc.payment_hash == payment_hash and htlc.receiver == self.party:
                return self.propose(FulfillHtlc(htlc.htlc_id, preimage), height)
        raise InvalidHtlc("no HTLC offered to this party is locked to that preimage")

    def fail_htlc(self, htlc_id: int, height: int = 0, route_data: bytes = b"") -> UpdateProposal:
        """Propose giving up HTLC `htlc_id` (offered to this party); `route_data` carries the failure report."""
        return self.propose(FailHtlc(htlc_id), height, route_data)

    def receive_signature(self, message: UpdateSignature) -> UpdateComplete | UpdateCancel:
        """As proposer: check the receiver's signature, sign last, and apply. Returns the completion to send.

        A repeated signature gets the same completion again; a signature of a withdrawn proposal gets its
        cancellation again. InvalidChannelSignature or StaleState otherwise.
        """
        outgoing = self.outgoing
        if outgoing is None or message.sequence != outgoing.proposal.sequence:
            if self.last_completion is not None and message.sequence == self.last_completion.sequence:
                return self.last_completion
            if message.sequence in self._withdrawn:
                # The peer signed a proposal withdrawn here: that sequence is used up.
                self.peer_signed = max(self.peer_signed, message.sequence)
                return UpdateCancel(self.channel_id, message.sequence)
            raise StaleState(f"no proposal {message.sequence} awaits a signature")
        message_bytes = outgoing.state.signing_bytes()
        if not verify_signature(self.peer, message_bytes, message.signature):
            raise InvalidChannelSignature(f"the signature of state {message.sequence} does not verify")
        own = self.key.sign(message_bytes)
        self.latest = signed_by_both(outgoing.state, self.party, own, message.signature)
        self.highest_signed = outgoing.proposal.sequence
        self.peer_signed = max(self.peer_signed, outgoing.proposal.sequence)
        self.outgoing = None
        self.last_completion = UpdateComplete(self.channel_id, message.sequence, own)
        return self.last_completion

    def withdraw(self) -> UpdateProposal:
        """Give up the outgoing proposal (unanswered, rejected, or displaced): it will never be signed here.

        Returns it, so that its operation can be retried or reported.
        """
        if self.outgoing is None:
            raise StaleState("no proposal to withdraw")
        proposal = self.outgoing.proposal
        self.outgoing = None
        self._withdrawn = [*self._withdrawn[-(WITHDRAWN_KEPT - 1):], proposal.sequence]
        return proposal

    # Receiving ------------------------------------------------------------------------------------------------

    def receive_proposal(self, proposal: UpdateProposal,
                         height: int) -> tuple[UpdateSignature, UpdateProposal | None]:
        """As receiver: check the proposal against the latest complete state (at block `height`) and sign it.

        Returns the signature to send, and this party's own proposal if it was in flight and lost the conflict (it
        is withdrawn; retry its operation later). A repeated proposal gets the same signature again. Raises
        ChannelBusy while another update waits for completion or when this party's own proposal wins, StaleState
        for a sequence not above every one signed here, InvalidChannelState for one that skips sequences (see
        `next_sequences`), or the operation's error; nothing changes then.
        """
        if proposal.channel_id != self.channel_id:
            raise UnknownChannel("the proposal is for another channel")
        incoming = self.incoming
        if incoming is not None:
            if proposal == incoming.proposal:
                return UpdateSignature(self.channel_id, proposal.sequence, incoming.signature), None
            raise ChannelBusy(f"state {incoming.proposal.sequence} awaits completion")
        if self.outgoing is not None and self.wins_conflicts:
            raise ChannelBusy("a conflicting proposal of this party goes first")
        allowed = self.next_sequences()
        if proposal.sequence < allowed.start:
            raise StaleState(f"state {proposal.sequence} is not above {allowed.start - 1}")
        if proposal.sequence >= allowed.stop:
            raise InvalidChannelState(f"state {proposal.sequence} skips sequences: the next is {allowed.start}")
        state = apply_operation(self.state, proposal.operation, proposer=1 - self.party, sequence=proposal.sequence,
                                height=height, limits=self.limits)
        displaced = self.withdraw() if self.outgoing is not None else None
        signature = state.sign(self.key)
        self.incoming = Incoming(proposal, state, signature)
        self.highest_signed = proposal.sequence
        return UpdateSignature(self.channel_id, proposal.sequence, signature), displaced

    def receive_completion(self, message: UpdateComplete) -> ChannelState | None:
        """As receiver: check the proposer's signature and apply. Returns the new state, or None for a repeat.

        InvalidChannelSignature or StaleState otherwise; nothing changes then.
        """
        incoming = self.incoming
        if incoming is None or message.sequence != incoming.proposal.sequence:
            if message.sequence == self.state.sequence:
                return None
            raise StaleState(f"no signed state {message.sequence} awaits completion")
        if not verify_signature(self.peer, incoming.state.signing_bytes(), message.signature):
            raise InvalidChannelSignature(f"the completion of state {message.sequence} does not verify")
        self.latest = signed_by_both(incoming.state, self.party, incoming.signature, message.signature)
        self.incoming = None
        return incoming.state

    def receive_cancel(self, message: UpdateCancel) -> bool:
        """The proposer withdrew: drop the state signed for it (it can never complete). Whether one was dropped."""
        if self.incoming is None or message.sequence != self.incoming.proposal.sequence:
            return False
        self.incoming = None
        return True

    def pending_message(self) -> UpdateProposal | UpdateSignature | None:
        """What to retransmit while an update is in flight: the proposal, or this party's signature."""
        if self.outgoing is not None:
            return self.outgoing.proposal
        if self.incoming is not None:
            return UpdateSignature(self.channel_id, self.incoming.proposal.sequence, self.incoming.signature)
        return None
